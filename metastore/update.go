package metastore

import (
	"context"
	"errors"
	"fmt"
)

// maxUpdateAttempts bounds the read-modify-write loop. Contention on one
// record is a handful of mediators clicking at once, never thousands.
const maxUpdateAttempts = 16

// Update reads the record at key, lets change modify it, and writes it back
// only if nobody else wrote in between; on a lost race it rereads and calls
// change again. change must therefore be a pure function of the record it is
// given (no side effects outside it). If change returns an error, nothing is
// written and that error is returned.
func Update[T any](ctx context.Context, s *Store, key string, change func(*T) error) (T, error) {
	var zero T
	for range maxUpdateAttempts {
		var rec T
		etag, err := s.Get(ctx, key, &rec)
		if err != nil {
			return zero, err
		}
		if err := change(&rec); err != nil {
			return zero, err
		}
		_, err = s.Replace(ctx, key, &rec, etag)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, ErrConflict) {
			return zero, err
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}
	}
	return zero, fmt.Errorf("%s: %w after %d attempts", key, ErrConflict, maxUpdateAttempts)
}
