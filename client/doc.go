// Package client is the Go client of Parley's HTTP API, used by the CLI and
// the tests (and, with the rooms issue, for chat with reconnect and resume).
//
// Failures come back as *Error carrying the server's RFC 9457 problem, so a
// caller can print one clear line or branch on the status code.
//
// What client must never do: write the session token anywhere but where the
// caller asks (the CLI keeps it in a 0600 file), or log request bodies.
package client
