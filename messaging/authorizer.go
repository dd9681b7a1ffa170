package messaging

import (
	"context"
	"errors"
)

// Errors an Authorizer returns.
var (
	// ErrForbidden: not this room (the connection stays).
	ErrForbidden = errors.New("not allowed in this room")
	// ErrAccessLost: no access to anything on this connection any more
	// (recused, removed, signed out); the connection is closed.
	ErrAccessLost = errors.New("access lost")
)

// Authorizer decides, for one client connection (package web's WebSocket),
// which rooms a client name means and whether the connection's user may
// join or post there. It is asked again for every subscribed room when the
// connection's watch topic announces a change.
//
// The connection serialises its calls (its reader and its re-check after a
// change take turns), so an Authorizer may cache without locks; Invalidate
// drops any cache before a re-check.
type Authorizer interface {
	Resolve(ctx context.Context, name string, action string) (Room, error)
	Invalidate()
}
