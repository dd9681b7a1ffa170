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
// The connection's reader (subscribes, posts) and its checker (re-checks
// after a change) may call it at the same time, so an Authorizer that
// caches guards its cache itself, and holds no lock that the other waits
// on across a store read. Invalidate puts every cached answer in doubt
// before a re-check: from then on Resolve answers only from a decision read
// after it (its own read, or Redecide's). The connection calls it as soon
// as it hears of a change (in the broker's callback), so it must not block
// or read anything.
type Authorizer interface {
	Resolve(ctx context.Context, name string, action string) (Room, error)
	Invalidate()
}

// Redecider is an Authorizer that decides its cached answers again itself
// (package caucus's): the connection's checker calls Redecide after
// Invalidate, off any lock the reader waits on, so that the person's next
// post after a change is answered from the checker's read rather than
// reading the case on the post's path.
type Redecider interface {
	Authorizer
	// Redecide reads afresh once and decides again "join" for each of
	// names (the connection's subscribed rooms) and every answer put in
	// doubt by Invalidate. Answers still allowed are cached, unless
	// Invalidate was called again meanwhile; the others are dropped (the
	// next Resolve decides them). It returns the "join" answer for each
	// name, in order, as Resolve would give it.
	Redecide(ctx context.Context, names []string) []error
}
