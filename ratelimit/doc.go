// Package ratelimit counts attempts per key in fixed windows, to slow down
// password guessing and other abuse.
//
// Two implementations of one Limiter interface: Memory for the embedded mode
// (one process, one counter map) and Redis for scale mode, where every node
// must see the same counts or an attacker would simply spread guesses across
// nodes. Losing the counters (a Redis flush, a restart) only forgets recent
// attempts — nothing durable lives here.
//
// What ratelimit must never do: store the raw key material it is given when
// that is personal data. Callers pass a keyed hash of an email, never the
// email itself.
package ratelimit

import (
	"context"
	"time"
)

// Limiter counts one attempt against key and says whether it is within limit
// attempts per window. When it is not, retryAfter says when the window ends.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
	// Undo takes back one attempt counted by Allow (a reservation that
	// turned out not to be a failure). It never goes below zero and never
	// revives an expired window.
	Undo(ctx context.Context, key string) error
	// Count is the number of attempts in key's current window (zero when
	// none), without counting one.
	Count(ctx context.Context, key string) (int, error)
	// Remember marks key as present for ttl (Count answers at least 1),
	// renewing the mark if it exists.
	Remember(ctx context.Context, key string, ttl time.Duration) error
}
