package retention

import (
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/ids"
)

// TestExcerptCarriesShareRequests: a transfer's excerpt carries the
// entries of a share request of a carried document (the mediator's
// request, the side's answer, their corrections) as it carries the
// document's share; never those of a withheld document, nor an entry
// that names anything but the document and a request.
func TestExcerptCarriesShareRequests(t *testing.T) {
	caseID, carried, withheld, req := ids.New("c"), ids.New("d"), ids.New("d"), ids.New("sa")
	docs, versions := map[string]bool{carried: true}, map[string]bool{carried + "@1": true}
	for _, typ := range []string{"doc.share.requested", "doc.share.approved", "doc.share.declined",
		"doc.share.requested.failed", "doc.share.approved.unknown", "doc.share.declined.failed"} {
		ev := audit.Event{Type: typ, Case: caseID, Objects: []string{carried, req},
			Attrs: map[string]string{"from": "caucus:A", "to": "joint", "version": "1"}}
		if !excerptable(ev, caseID, docs, versions) {
			t.Errorf("%s of a carried document left out", typ)
		}
		for _, v := range []string{"2", ""} {
			other := ev
			other.Attrs = map[string]string{"from": "caucus:A", "to": "joint", "version": v}
			if excerptable(other, caseID, docs, versions) {
				t.Errorf("%s about version %q, not carried, carried", typ, v)
			}
		}
		for what, objects := range map[string][]string{
			"a withheld document":           {withheld, req},
			"a withheld document second":    {carried, withheld},
			"no request":                    {carried},
			"a third object":                {carried, req, withheld},
			"another case's carried doc id": {carried, req},
		} {
			ev := ev
			ev.Objects = objects
			if what == "another case's carried doc id" {
				ev.Case = ids.New("c")
			}
			if excerptable(ev, caseID, docs, versions) {
				t.Errorf("%s naming %s carried", typ, what)
			}
		}
	}
	// The document's share itself is carried as before.
	if !excerptable(audit.Event{Type: "doc.share", Case: caseID, Objects: []string{carried}}, caseID, docs, versions) {
		t.Error("doc.share of a carried document left out")
	}
}
