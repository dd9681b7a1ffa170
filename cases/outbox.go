package cases

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
)

// The audit outbox. A change to a case and its audit entry are two stores:
// the case record (metastore) and the audit log. Writing the change and
// then appending the entry leaves a change with no entry, for good, when
// the append fails; appending first leaves an entry for a change that may
// never happen. So a change's event is written into the case record itself
// (Case.Unaudited), in the same conditional write as the change, and only
// then appended to the log and taken out of the record:
//
//  1. metastore.Update: the change, plus its event with a random nonce;
//  2. audit.Append of every pending event of the case, oldest first;
//  3. metastore.Update: remove the events that landed, matched by nonce.
//
// If 2 fails, the request fails as before but the event stays in the
// record; the next change of the case, or the next read of it, appends it
// (flushPending) before anything else of that case is logged, so the log
// keeps the case's order. A case with pending events takes no new change
// until they land.
//
// The guarantee is "an entry may appear twice, never be missing": a crash
// (or a failed write) between 2 and 3, or two nodes flushing the same case
// at once, appends an event again on the next flush. The duplicate is the
// same event — same type, ids and time — so a reader can tell it apart.
//
// The record is sealed at rest (metastore), and an event holds ids and
// hashes only (package audit), so the outbox puts nothing new in the clear.

// PendingEvent is an audit event written with a case's change and not yet
// known to be in the audit log.
type PendingEvent struct {
	// Nonce tells this event from an identical one, so the flush removes
	// exactly the events it appended.
	Nonce string      `json:"nonce"`
	Event audit.Event `json:"event"`
}

// queueEvent adds ev to c's outbox, stamped with the time of the change.
// Call it inside the metastore.Update that makes the change. An event the
// log would refuse (audit.Event.Validate) is refused here, with the change:
// a pending event must be one that only an unavailable store keeps out of
// the log, or it would block its case for good.
func (s *Service) queueEvent(c *Case, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.now().UTC()
	}
	if _, err := ev.Encode(); err != nil {
		return err
	}
	c.Unaudited = append(c.Unaudited, PendingEvent{Nonce: ids.Token(), Event: ev})
	return nil
}

// errNothingPending stops a removal update that has nothing to remove.
var errNothingPending = errors.New("no pending audit events")

// flushPending appends c's pending audit events to the log, oldest first,
// stopping at the first that fails, then removes from the stored record
// the ones that landed. It returns the case as stored afterwards (c itself
// when there was nothing to do) and the append's error, if any. c must be
// as read from the store.
func (s *Service) flushPending(ctx context.Context, c *Case) (*Case, error) {
	if len(c.Unaudited) == 0 {
		return c, nil
	}
	landed := map[string]bool{}
	var appendErr error
	for _, p := range c.Unaudited {
		// An index with an error is an entry written whose checkpoint was
		// not: it is in the log, and the next append signs it.
		if i, err := s.audit.Append(ctx, p.Event); i < 0 {
			appendErr = err
			break
		}
		landed[p.Nonce] = true
	}
	out := c
	if len(landed) > 0 {
		updated, err := metastore.Update(ctx, s.meta, caseKey(c.ID), func(c *Case) error {
			n := len(c.Unaudited)
			c.Unaudited = slices.DeleteFunc(c.Unaudited, func(p PendingEvent) bool { return landed[p.Nonce] })
			if len(c.Unaudited) == n {
				return errNothingPending // another node removed them
			}
			return nil
		})
		switch {
		case err == nil:
			out = &updated
		case errors.Is(err, errNothingPending):
			if again, err := s.reload(ctx, c.ID); err == nil {
				out = again
			}
		default:
			// The events are in the log; they stay pending too, and the
			// next flush appends them again (a duplicate, never a gap).
			s.logger().WarnContext(ctx, "cases: audit events appended but not cleared from the case; they will be appended again",
				"case", c.ID, "appended", len(landed), "err", err)
		}
	}
	if appendErr != nil {
		left := len(c.Unaudited) - len(landed)
		s.logger().WarnContext(ctx, "cases: audit events pending in the case record (audit log unavailable)",
			"case", c.ID, "pending", left, "type", c.Unaudited[len(landed)].Event.Type, "err", appendErr)
		return out, appendErr
	}
	return out, nil
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
