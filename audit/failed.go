package audit

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/parley-mediation/parley/internal/ids"
)

// OpAttr is the attr that pairs an entry appended before its change with
// the entry that later says how the change ended (Failed, Unknown): both
// carry the same random id ("op_…"), so a reader can tell which of two
// overlapping changes a correction is about. It is an id, nothing else.
const OpAttr = "op"

// Paired returns ev with a fresh OpAttr, for an entry appended before its
// change so that its correction, if any, can name it.
func Paired(ev Event) Event {
	attrs := maps.Clone(ev.Attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[OpAttr] = ids.New("op")
	ev.Attrs = attrs
	return ev
}

// Failed returns the entry that corrects ev once the change ev announced
// is known not to have been made. Some changes are audited before they
// are made, so that no change is ever missing from the log (a crash
// between the two leaves an entry for a change that did not happen, never
// the reverse); when the change then fails, and a fresh read of the record
// shows it absent, the log is told so by an entry of type typ (by
// convention ev's type with ".failed", e.g. "doc.share.failed") naming the
// same actor, case and objects, with ev's attrs (OpAttr among them, see
// Paired) plus "cause" (an enum such as fault.Class gives, never an error
// message). An error alone is not enough: a store may have committed the
// change and still answered with an error (a deadline after the write, a
// retried conditional write). It is appended best effort: a reader who
// sees ev without its correction must check the record itself.
func Failed(ev Event, typ, cause string) Event {
	attrs := maps.Clone(ev.Attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["cause"] = cause
	return Event{Type: typ, Actor: ev.Actor, Case: ev.Case, Objects: ev.Objects, Hashes: ev.Hashes, Attrs: attrs}
}

// Unknown returns the entry that follows ev when the change ev announced
// failed with an error and the record could not be read back to tell
// whether the change was made anyway: of type typ (by convention ev's
// type with ".unknown"), like Failed otherwise. It asserts nothing about
// the change; the record is the authority.
func Unknown(ev Event, typ, cause string) Event {
	return Failed(ev, typ, cause)
}

// Settle follows ev, an entry appended before a change (Paired) whose
// store call then failed with an error of class cause (an enum such as
// fault.Class gives). An error does not prove the change absent, so
// landed (nil: known absent, it failed before the record was touched)
// reads the record back on a context of its own, bounded to 10 s:
//   - the change is there: nothing is appended, ev stands;
//   - it is absent: Failed(ev, base+".failed") is appended with record;
//   - the read fails too: Unknown(ev, base+".unknown") is, and a WARN
//     (ids only) on logger, prefixed by who, says the outcome is unknown.
//
// Best effort: an append that fails is logged (ids only), not returned.
func Settle(ctx context.Context, record func(context.Context, Event) error, logger *slog.Logger, who string, ev Event, base, cause string, landed func(context.Context) (bool, error)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	entry := Failed(ev, base+".failed", cause)
	if landed != nil {
		done, err := landed(ctx)
		switch {
		case err != nil:
			logger.WarnContext(ctx, who+": a change failed after its audit entry and its record could not be read back; its outcome is unknown",
				"type", ev.Type, "op", ev.Attrs[OpAttr], "case", ev.Case, "objects", ev.Objects, "cause", cause, "err", err)
			entry = Unknown(ev, base+".unknown", cause)
		case done:
			return
		}
	}
	if err := record(ctx, entry); err != nil {
		logger.WarnContext(ctx, who+": a change failed after its audit entry; the entry following it was not appended",
			"type", entry.Type, "op", ev.Attrs[OpAttr], "case", ev.Case, "objects", ev.Objects, "cause", cause, "err", err)
	}
}
