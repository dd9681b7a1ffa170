// Package account owns who people are to the server: accounts, passwords and
// sign-in sessions.
//
// Staff accounts (admin, mediator, records) sign in with email and password,
// hashed with argon2id at OWASP's recommended parameters. Parties, counsel
// and observers get a participant account when they redeem an invite (see
// package cases) and may never have a password at all.
//
// A session is an opaque 256-bit token. The server stores only a keyed hash
// of it, so a copy of the bucket yields no usable session; logging out
// revokes it for every node at once because the record lives in the object
// store. The browser carries the token in an HttpOnly SameSite=Strict cookie,
// the CLI as a bearer token. Sessions slide: use keeps one going until it
// is unused for SessionTTL, and it ends SessionMaxAge after sign-in at the
// latest (Authenticate rewrites its record at most once per half window).
//
// Sign-in attempts are rate limited per account and per client address
// through package ratelimit (shared through Redis in scale mode).
//
// What account must never do: keep a password or token in the clear
// anywhere (records, logs, errors), or tell a caller whether an email has an
// account (wrong email and wrong password fail alike, in about the same time).
package account
