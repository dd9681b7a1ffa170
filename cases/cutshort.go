package cases

import (
	"context"
	"errors"
)

// cutShort reports whether a write that failed with err was cut short (a
// cancelled caller or a timeout), so that it may still land after any
// look: a record not found then is not known absent
// (metastore.CreateOrUndo holds the same).
func cutShort(ctx context.Context, err error) bool {
	var te interface{ Timeout() bool }
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout()
}

// errMayStillLand is a read-back's answer (for audit.Settle, which then
// appends its .unknown entry) about a write cut short whose record is not
// there yet.
var errMayStillLand = errors.New("not stored yet, and its write was cut short: it may still land")
