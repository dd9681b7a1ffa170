package keydir

import (
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/tlogverify"
)

// The answer's shapes are the wire's (package api); checking them is
// package tlogverify's, which clients import without the server.
type (
	Proven   = api.Proven
	Logged   = api.Logged
	View     = tlogverify.View
	Verified = tlogverify.Verified
)

// ErrLog wraps every failure to verify a key-directory answer.
var ErrLog = tlogverify.ErrLog

// Log entry types.
const (
	EventDevice    = tlogverify.EventDevice
	EventRevoke    = tlogverify.EventRevoke
	EventStatement = tlogverify.EventStatement
	EventEndorse   = tlogverify.EventEndorse
)

func hashes(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = h[:]
	}
	return out
}
