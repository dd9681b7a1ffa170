// Package web is the only package that speaks HTTP (and, with the rooms
// issue, WebSocket). It turns requests into calls on the services — account,
// cases, audit — and their results and faults into JSON and RFC 9457
// problem+json answers.
//
// It owns the edge concerns: routing (chi), body size limits, JSON decoding
// with field-level errors, sessions from cookie or bearer token, CSRF
// defence for cookie-authenticated writes, request ids, structured logs that
// never contain secrets or content, Prometheus metrics, health and
// readiness, and the OpenAPI document that describes every route (a test
// keeps it and the router in step).
//
// What web must never do: decide access itself (services ask package
// policy), log request bodies, query strings or tokens, or answer an error
// with an internal detail (a 500 says only its request id; the log says the
// rest).
package web
