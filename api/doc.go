// Package api is Parley's wire: every request and response body, every
// WebSocket frame, the problem details of every error, and the header names
// and close codes that cross the network. The server (package web), the Go
// client (package client, the CLI) and the browser client (web/client, whose
// TypeScript declarations are generated from these types) all speak it, and
// nothing else declares a shape that travels.
//
// It imports only the standard library, so a client that links it links
// nothing of the server: no object store, Redis, policy engine or router
// (client/deps_test.go checks it).
//
// # What is here
//
//   - Rooms: [ClientFrame] and [ServerFrame] on the WebSocket, keyed on their
//     "t" member ([FrameType]: [FrameSub], [FrameMsgs], …), with error
//     frames' [ErrorCode]s and the close codes; [Message], [Position] and
//     [Seal] in them and in [HistoryPage].
//   - Cases ([Case], [Listed], [Summary]), invites, outcomes and surveys;
//     accounts and sessions ([Account], [SessionResponse]); documents
//     ([Document], [ShareResult]); retention ([Plan], [Item], [Progress],
//     [Hold], [StoredSchedule]); the key directory ([Proven], [Carry]); the
//     audit log's entries.
//   - Errors: [Problem] (RFC 9457, application/problem+json), whose type is
//     [ProblemTypeBase] followed by a [ProblemType].
//   - Header names ([DocumentNameHeader], the export report's headers).
//
// Requests are named …Request; answers are the view types themselves.
//
// # Views, not records
//
// What the server stores is not what it answers. A stored account carries
// its password hash, a document record its wrapped keys, a plan its
// internal bookkeeping; none of those types is in this package, and the
// server's writeJSON takes only a [Body] — an interface whose method is
// unexported, so only this package's types satisfy it. A handler that tried
// to answer with a stored record would not compile. Where a stored value
// has nothing to hide (a position, a stage, a hold), the server's package
// uses this package's type under its own name (a type alias), so the shape
// is declared once.
//
// # Compatibility
//
// A JSON member's name never changes and never changes meaning: old
// clients keep working against a new server, and a new client against an
// old one. Fields are only added (with omitempty when absent means the old
// behaviour); a removed field is kept, unused, until no deployed client
// reads it. Go names may change (ServerFrame.Msgs is "ms" on the wire); the
// JSON tags are the contract. api/testdata holds frames and bodies as
// today's server and clients send them, and a test decodes each into these
// types and re-encodes it to the identical bytes.
//
// # TypeScript
//
// web/client/src/wire_gen.ts is generated from these types by
//
//	go run ./api/internal/tsgen
//
// (interfaces for every struct, string unions for the typed constants, and
// the frames as discriminated unions on "t"). A test regenerates it and
// fails when the committed file differs, so a change here that is not
// carried to the browser fails `make test`.
package api
