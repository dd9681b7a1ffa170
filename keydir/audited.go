package keydir

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// record appends ev to the audit log. An entry written whose checkpoint
// was not (an index with the error) counts as appended: it is in the log
// for good and the next append signs it.
func (s *Service) record(ctx context.Context, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.now().UTC()
	}
	if i, err := s.cfg.Audit.Append(ctx, ev); i < 0 {
		if err == nil {
			err = errors.New("audit: not appended")
		}
		return err
	}
	return nil
}

// auditFirst stores a record whose effect would be a disclosure if it
// stood unaudited (a device admitted to a case, a membership statement,
// a device linked to an account, an account's first device: each changes
// who can read a room). ev
// is appended first (audit.Paired); if the log does not take it, nothing
// is stored and the request is refused (503, "try it again shortly").
// If the store then fails, the entry is settled (audit.Settle): the
// record at key is read back, and ev stands if it holds record (the
// change was made), is followed by ev.Type+".failed" if not, and by
// ev.Type+".unknown" (and a WARN) if the read fails. A repeat of a
// change already made (the same bytes) is audited again: an entry may
// stand for an attempt that found its record there. (An endorsement
// signed again is answered before this, by endorse.)
func (s *Service) auditFirst(ctx context.Context, ev audit.Event, key string, record []byte, store func(context.Context) (*stored, error)) (*stored, error) {
	ev = audit.Paired(ev)
	if err := s.record(ctx, ev); err != nil {
		return nil, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	st, err := store(ctx)
	if err != nil {
		audit.Settle(ctx, s.record, s.logger(), "keydir", ev, ev.Type, fault.Class(err), s.recordLanded(key, record))
	}
	return st, err
}

// recordLanded reads back key (for audit.Settle): true if it holds
// record, false if it holds nothing or another record.
func (s *Service) recordLanded(key string, record []byte) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		st, err := s.read0(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return bytes.Equal(st.Record, record), nil
	}
}

// recordAfter appends the entry of a change already made that discloses
// nothing if it stands unaudited for a while (a device registered to an
// account that has one already, which counts for nobody's case until
// linked or admitted; a device revoked, which takes access away; an
// account's first device counts at once and is audited first). The change stands either way and is
// in the key directory's own log; a failed append is logged (WARN, ids
// only), not ignored.
func (s *Service) recordAfter(ctx context.Context, ev audit.Event) {
	if err := s.record(ctx, ev); err != nil {
		s.logger().WarnContext(ctx, "keydir: a key directory change stands without its audit entry",
			"type", ev.Type, "actor", ev.Actor, "objects", ev.Objects, "err", err)
	}
}
