package audit

import "maps"

// Failed returns the entry that corrects ev once the change ev announced
// has failed. Some changes are audited before they are made, so that no
// change is ever missing from the log (a crash between the two leaves an
// entry for a change that did not happen, never the reverse); when the
// change then fails, the log is told so by an entry of type typ (by
// convention ev's type with ".failed", e.g. "doc.share.failed") naming the
// same actor, case and objects, with ev's attrs plus "cause" (an enum such
// as fault.Class gives, never an error message). It is appended best
// effort: a reader who sees ev without its correction must check the
// record itself.
func Failed(ev Event, typ, cause string) Event {
	attrs := maps.Clone(ev.Attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["cause"] = cause
	return Event{Type: typ, Actor: ev.Actor, Case: ev.Case, Objects: ev.Objects, Hashes: ev.Hashes, Attrs: attrs}
}
