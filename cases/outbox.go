package cases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
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
//  2. audit.Append of that request's own events (and no one else's);
//  3. metastore.Update: remove the events that landed, matched by nonce.
//
// Only the request that wrote an event touches it while it is young
// (StaleAfter): an event pending for a few milliseconds between 1 and 3 is
// no one else's business, so concurrent changes of a case do not wait for
// each other, and reads never append anything. If 2 fails, the change
// stands and the request answers success (its event is safe in the record
// and will be logged; a retry would only fail with "already done"): it
// logs a WARN and leaves a marker (unauditedKey) for the sweep. Once an
// event is stale, the next change of the case appends it before its own
// change (oldest first) and is refused (503) only if that fails; a case
// that is not changed again has its stale events appended by the sweep
// (RunSweep), at most a minute later.
//
// Order: a case's stale events reach the log before any later change of
// that case. Young events of concurrent requests reach it in the order
// their requests append them, which may differ from the order of their
// writes by a few milliseconds.
//
// The guarantee is "an entry may appear twice, never be missing": a crash
// (or a failed write) between 2 and 3, or two nodes sweeping the same case
// at once, appends an event again later. The duplicate is the same event —
// same type, ids and time — so a reader can tell it apart.
//
// Disposal: retention fences a case before it destroys the record
// (disposal.go, BeginDisposal): from then on commitChange refuses every
// change (ErrDisposing), and retention appends whatever is still pending
// before it deletes, so no event goes with the record.
//
// The record is sealed at rest (metastore), and an event holds ids and
// hashes only (package audit), so the outbox puts nothing new in the clear.

// StaleAfter is how long a pending event belongs to the request that wrote
// it. That request appends it within milliseconds, or fails to (its audit
// append, bounded by the request's own deadline, returned an error); 30 s
// is far beyond either, so whoever appends an older event is not racing
// the request that wrote it (which would append it twice).
const StaleAfter = 30 * time.Second

// SweepEvery is how often RunSweep looks for cases with stale pending
// events, and SweepBatch the most marked cases one pass handles: a pass
// resumes after the last marker the previous one reached (a cursor of one
// key per service), and starts again from the first once it reaches the
// end, so every marker is visited at least once every
// ceil(markers/SweepBatch) passes, whatever the markers before it do.
const (
	SweepEvery = time.Minute
	SweepBatch = 100
)

// unauditedPrefix holds one marker per case whose request could not append
// its event: the sweep's work list. A marker is best effort (the case's
// next change appends the event anyway) and costs nothing on the normal
// path: only a failed append writes one.
const unauditedPrefix = "cases/unaudited/"

func unauditedKey(caseID string) string { return unauditedPrefix + caseID }

// PendingEvent is an audit event written with a case's change and not yet
// known to be in the audit log.
type PendingEvent struct {
	// Nonce tells this event from an identical one, so the flush removes
	// exactly the events it appended.
	Nonce string      `json:"nonce"`
	Event audit.Event `json:"event"`
	// Queued is when the event was written to the record (the service's
	// clock); after StaleAfter anyone may append it.
	Queued time.Time `json:"queued"`
}

// stale reports whether p no longer belongs to the request that wrote it.
func (s *Service) stale(p PendingEvent) bool {
	return !s.now().Before(p.Queued.Add(StaleAfter))
}

// queueEvent adds ev to c's outbox, stamped with the time of the change.
// Call it inside the update that makes the change (commitChange). An
// event the log would refuse (audit.Event.Validate) is refused here, with
// the change: a pending event must be one that only an unavailable store
// keeps out of the log, or it would block its case for good.
func (s *Service) queueEvent(c *Case, ev audit.Event) error {
	now := s.now().UTC()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if _, err := ev.Encode(); err != nil {
		return err
	}
	c.Unaudited = append(c.Unaudited, PendingEvent{Nonce: ids.Token(), Event: ev, Queued: now})
	return nil
}

// errNothingPending stops a removal update that has nothing to remove.
var errNothingPending = errors.New("no pending audit events")

// errStalePending stops a change whose record holds stale events, so they
// are appended first.
var errStalePending = errors.New("stale pending audit events")

// ErrAuditBacklog is returned for a change refused because its case holds
// stale pending events and the audit log still does not take them.
var ErrAuditBacklog = fmt.Errorf("earlier changes of this case are not yet in the audit log: %w", fault.ErrUnavailable)

// commitChange writes change to case id in one conditional write with the
// events it queues (queueEvent), then appends those events — its own, no
// other request's — and removes them from the record. Stale events of
// other requests are appended first, before the change is written; if that
// fails the change is refused (ErrAuditBacklog). A case retention fenced
// refuses every change (ErrDisposing). If appending its own
// events fails, the change stands and so do they: it logs a WARN, leaves a
// marker for the sweep, and returns the case as written, with no error.
// ErrCaseFull: the case record would outgrow what the store holds
// (metastore.MaxRecordSize), so the change was not saved.
var ErrCaseFull = errors.New("this case holds as much text as one case can, so this change was not saved; shorten or leave out the text, or ask the program administrator")

// caseWriteError gives a case write's error to the caller: a record too
// large is a plain conflict (409) in words, not an internal error naming
// the storage key.
func caseWriteError(err error) error {
	if errors.Is(err, metastore.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrCaseFull, fault.ErrConflict)
	}
	return err
}

func (s *Service) commitChange(ctx context.Context, id string, change func(c *Case) error) (*Case, error) {
	var mine map[string]bool
	for attempt := 0; ; attempt++ {
		var prior Case
		updated, err := metastore.Update(ctx, s.meta, caseKey(id), func(c *Case) error {
			if c.Disposing != nil {
				return fmt.Errorf("case %s: %w", id, ErrDisposing)
			}
			if slices.ContainsFunc(c.Unaudited, s.stale) {
				prior = *c
				return errStalePending
			}
			n := len(c.Unaudited)
			if err := change(c); err != nil {
				return err
			}
			mine = map[string]bool{}
			for _, p := range c.Unaudited[n:] {
				mine[p.Nonce] = true
			}
			return nil
		})
		if errors.Is(err, errStalePending) {
			if _, ferr := s.flushPending(ctx, &prior, s.stale); ferr != nil || attempt >= 2 {
				return nil, fmt.Errorf("case %s: %w", id, ErrAuditBacklog)
			}
			continue
		}
		if err != nil {
			return nil, caseWriteError(err)
		}
		// The change has landed: its events are appended (or marked for
		// the sweep) even if the caller has gone meanwhile (a closed
		// tab), or nothing would bring a quiet case's event to the log.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		out, err := s.flushPending(fctx, &updated, func(p PendingEvent) bool { return mine[p.Nonce] })
		if err != nil {
			s.markUnaudited(fctx, id)
		}
		cancel()
		return out, nil
	}
}

// settleTimeout bounds the append (and marker) that follow a change that
// has landed, made with a context of their own.
const settleTimeout = 30 * time.Second

// markUnaudited leaves the sweep's marker for case id (best effort).
func (s *Service) markUnaudited(ctx context.Context, id string) {
	if _, err := s.meta.Create(ctx, unauditedKey(id), struct{}{}); err != nil && !errors.Is(err, metastore.ErrExists) {
		s.logger().WarnContext(ctx, "cases: could not mark the case for the audit sweep; its next change appends the pending events", "case", id, "err", err)
	}
}

// flushPending appends c's pending audit events that pick selects, oldest
// first, stopping at the first that fails, then removes from the stored
// record the ones that landed. It returns the case as stored afterwards (c
// itself when there was nothing to do) and the append's error, if any. c
// must be as read from the store.
func (s *Service) flushPending(ctx context.Context, c *Case, pick func(PendingEvent) bool) (*Case, error) {
	landed := map[string]bool{}
	var appendErr error
	var failed *PendingEvent
	left := 0
	for i, p := range c.Unaudited {
		if !pick(p) {
			continue
		}
		if appendErr != nil {
			left++
			continue
		}
		// An index with an error is an entry written whose checkpoint was
		// not: it is in the log, and the next append signs it.
		if i2, err := s.audit.Append(ctx, p.Event); i2 < 0 {
			appendErr, failed = err, &c.Unaudited[i]
			left++
			continue
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
			// The events are in the log; they stay pending too, become
			// stale, and are appended again (a duplicate, never a gap).
			s.logger().WarnContext(ctx, "cases: audit events appended but not cleared from the case; they will be appended again",
				"case", c.ID, "appended", len(landed), "err", err)
		}
	}
	if appendErr != nil {
		s.logger().WarnContext(ctx, "cases: audit events pending in the case record (audit log unavailable); the change stands and its events will be appended",
			"case", c.ID, "pending", left, "type", failed.Event.Type, "err", appendErr)
		return out, appendErr
	}
	return out, nil
}

// RunSweep appends the stale pending events of cases that no change
// touches, every SweepEvery, until ctx ends. Its caller owns it
// (server.Node starts one per serving node and stops it on Close).
func (s *Service) RunSweep(ctx context.Context) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		if _, err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger().WarnContext(ctx, "cases: audit sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errSweepPageFull stops the listing of markers once a pass has its
// SweepBatch.
var errSweepPageFull = errors.New("sweep page full")

// sweepPage lists at most SweepBatch markers after the sweep's cursor; a
// cursor past the last marker starts again from the first. It returns the
// marker keys and the cursor for the pass after this one ("": from the
// first marker again, the end having been reached).
func (s *Service) sweepPage(ctx context.Context) (keys []string, next string, err error) {
	s.sweepMu.Lock()
	after := s.sweepAfter
	s.sweepMu.Unlock()
	for {
		err := objstore.ListAfter(ctx, s.meta.Objects(), unauditedPrefix, after, func(i objstore.Info) error {
			keys = append(keys, i.Key)
			if len(keys) == SweepBatch {
				return errSweepPageFull
			}
			return nil
		})
		if err != nil && !errors.Is(err, errSweepPageFull) {
			return nil, "", err
		}
		if len(keys) == 0 && after != "" {
			after = "" // nothing after the cursor: from the first marker
			continue
		}
		if len(keys) == SweepBatch {
			return keys, keys[len(keys)-1], nil
		}
		return keys, "", nil
	}
}

// SweepOnce makes one pass over at most SweepBatch marked cases, taken
// after the last marker the previous pass reached (sweepPage): appends
// their stale pending events and drops the marker of a case with nothing
// pending left. A case that cannot be settled (its record unreadable, its
// events refused by the log) keeps its marker and is tried again when the
// passes come round to it; it holds up no other case. It returns how many
// cases it cleared, and the first error met.
func (s *Service) SweepOnce(ctx context.Context) (int, error) {
	keys, next, err := s.sweepPage(ctx)
	if err != nil {
		return 0, err
	}
	// The next pass resumes after this one's last marker, or after the
	// last one handled if this pass is cut short.
	handled := ""
	defer func() {
		if handled != "" && ctx.Err() != nil {
			next = handled
		}
		s.sweepMu.Lock()
		s.sweepAfter = next
		s.sweepMu.Unlock()
	}()
	cleared := 0
	var firstErr error
	for _, key := range keys {
		if ctx.Err() != nil {
			return cleared, ctx.Err()
		}
		handled = key
		if ok, err := s.sweepCase(ctx, key); err != nil {
			if firstErr == nil {
				firstErr = err
			}
		} else if ok {
			cleared++
		}
	}
	return cleared, firstErr
}

// sweepCase settles the case of one marker: appends its stale pending
// events and drops the marker once nothing is pending. It reports whether
// the marker was dropped for good.
func (s *Service) sweepCase(ctx context.Context, key string) (bool, error) {
	id := strings.TrimPrefix(key, unauditedPrefix)
	c, err := s.reload(ctx, id)
	if errors.Is(err, fault.ErrNotFound) {
		// The case is gone (disposed): every stored version of its marker.
		_ = deleteEveryVersion(ctx, s.meta.Objects(), key)
		return false, nil
	}
	if err == nil && slices.ContainsFunc(c.Unaudited, s.stale) {
		c, err = s.flushPending(ctx, c, s.stale)
	}
	if err != nil {
		return false, fmt.Errorf("case %s: %w", id, err)
	}
	// Withdrawals of its invitations whose entry failed (withdraw.go),
	// once no longer their requests' own.
	withdrawals, err := s.sweepWithdrawals(ctx, id, true)
	if err != nil {
		return false, fmt.Errorf("case %s: %w", id, err)
	}
	if len(c.Unaudited) > 0 || withdrawals {
		return false, nil // young events: their requests' own, or a later pass's
	}
	// A withdrawal's marker, written before its write (withdraw.go), is
	// that request's own while young: its withdrawal may be written yet.
	young, seen, err := s.markYoung(ctx, key)
	if err != nil {
		return false, fmt.Errorf("case %s: %w", id, err)
	} else if young {
		return false, nil
	}
	// Only the marker read just now goes — that stored version and the
	// older ones, never a version written since (a withdrawal marking the
	// case before its write, which this pass may not have seen) — and no
	// version of it stays stored (versions.go).
	if _, err := dropVersionsThrough(ctx, s.meta.Objects(), key, seen); err != nil {
		return false, nil
	}
	// A change whose append failed between the reload and the delete
	// found the marker there and left it to us: read the case again, and
	// mark it again if something is pending.
	if c, err := s.reload(ctx, id); err == nil && len(c.Unaudited) > 0 {
		s.markUnaudited(ctx, id)
		return false, nil
	}
	if left, err := s.sweepWithdrawals(ctx, id, false); err != nil || left {
		s.markUnaudited(ctx, id)
		return false, nil
	}
	return true, nil
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
