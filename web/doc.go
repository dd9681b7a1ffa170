// Package web is the only package that speaks HTTP and WebSocket. It turns
// requests into calls on the services — account, cases, vault, retention,
// keydir, audit — and their results and faults into JSON and RFC 9457
// problem+json answers.
//
// Every body it reads or writes is one of package api's types: writeJSON
// takes an api.Body, which only api's types satisfy, so a service's stored
// record (an account with its password hash, a document record with its
// keys) cannot be an answer; views.go makes the answers from the records.
//
// It owns the edge concerns: routing (chi), body size limits, JSON decoding
// with field-level errors, sessions from cookie or bearer token, CSRF
// defence for cookie-authenticated writes, request ids, structured logs that
// never contain secrets or content, Prometheus metrics, health and
// readiness, and the OpenAPI document that describes every route (a test
// keeps it and the router in step).
//
// # WebSocket
//
// socket.go is the rooms' session layer: the upgrade (same-origin checked),
// one reader goroutine per connection and a writer goroutine only while
// there is something to write or check (it ends after 2 s without work,
// and at once after a round that wrote only a ping, so an idle connection holds one goroutine, its reader, on a stack the
// runtime shrinks to 4 KiB; the frames it finds waiting go out in one
// write to the connection, coalesce.go), pings every 20 s and a
// 45 s read deadline, a bounded send queue (a client that lets it overflow
// is closed with 4008 and resumes after reconnecting), frame decoding with
// every limit enforced before anything else sees a frame, the close codes
// (4001 session ended, 4003 access lost, 1013 an access or session check
// that was held for, or announced, and could not read the store for 30 s;
// reconnect), and per-connection publish
// pipelining with acknowledgements in arrival order. Rooms themselves —
// ordering, durability, fan-out, presence — are package messaging's, which
// knows no transport; whether a user may enter a room is asked of the
// messaging.Authorizer that package caucus provides. fencewatch.go is one
// goroutine per node, while any connection is open, that watches the
// cases its connections are to for a disposal fence whose announcement
// they missed (every 2 s one listing of the fence markers,
// cases.FenceMarks, and cases.CheckFence only of a case whose marker
// changed), and makes that case's connections re-check their rooms when it
// finds one.
//
// What web must never do: decide access itself (services ask package
// policy), log request bodies, query strings or tokens, or answer an error
// with an internal detail (a 500 says only its request id; the log says the
// rest).
package web
