// Package policy makes every access decision in Parley, and only decisions.
//
// The rules are written in Cedar (cedar-go) in the .cedar files beside this
// file, embedded in the binary and printable with `parley policy show`, so a
// program's counsel can read exactly what the server enforces. forbid rules
// override permit rules; anything not permitted is denied.
//
// Callers describe the facts — who is asking (User), what they want (Action)
// and what it is about (Case) — as plain values; the Engine turns them into
// Cedar entities and evaluates. Which account is a mediator of which case is
// data the caller loads; whether that mediator may read the case is decided
// here and nowhere else.
//
// What policy must never do: I/O of any kind (no object store, no network, no
// clock reads that change a decision), logging, or caching decisions. That
// keeps decisions pure, fast (microseconds) and testable as a table.
package policy
