package audit

import (
	"maps"

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
