package metastore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrStoredUnknown: CreateOrUndo's create failed and whether its record was
// stored is not known (cut short, or the store could not say); it may
// still be, or land later, so a caller can look again later.
var ErrStoredUnknown = errors.New("whether it was stored is not known")

// ErrOutcomeUnknown is ErrStoredUnknown (both names are used).
var ErrOutcomeUnknown = ErrStoredUnknown

// CreateOrUndo creates the record v at key, the second of two writes that
// must both land or neither: when the create fails and the record is
// surely not there, undo takes back the first write and the create's error
// is returned. A create whose outcome is unknown (it was cut short by a
// cancelled caller or a timeout, so it may still land; or the store cannot
// say whether the record is there) is not undone: keeping the first
// write is the safe side (a spent single-use token stays spent); its error
// wraps ErrStoredUnknown. undo runs
// with a context that outlives a cancelled caller.
func CreateOrUndo(ctx context.Context, s *Store, key string, v any, undo func(context.Context) error) error {
	_, err := s.Create(ctx, key, v)
	if err == nil || errors.Is(err, ErrExists) {
		return err // ErrExists: another record is there; nothing of ours to undo
	}
	// A create cut short (the caller gone, a timeout) may still land after
	// any look: its outcome is unknown, whatever a read says now.
	var te interface{ Timeout() bool }
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout() {
		return fmt.Errorf("%w (cut short: %w)", err, ErrStoredUnknown)
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var probe struct{}
	if _, gerr := s.Get(uctx, key, &probe); gerr == nil {
		return nil // the create landed after all
	} else if !errors.Is(gerr, ErrNotFound) {
		return fmt.Errorf("%w (and %w: %v)", err, ErrStoredUnknown, gerr)
	}
	if uerr := undo(uctx); uerr != nil {
		return fmt.Errorf("%w (and undoing the first write failed: %v)", err, uerr)
	}
	return err
}
