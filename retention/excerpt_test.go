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

// TestExcerptCarriesHoldRestorations: a transfer's excerpt carries the
// hold.restored entries (and their hold.restore.unknown follow-ups) that
// say why a doc.hold or case.hold "on" by a person releasing a hold
// follows: a case hold's always, a document hold's only with its
// document carried, never naming a withheld one.
func TestExcerptCarriesHoldRestorations(t *testing.T) {
	caseID, carried, withheld, covering := ids.New("c"), ids.New("d"), ids.New("d"), ids.New("h")
	docs, versions := map[string]bool{carried: true}, map[string]bool{carried + "@1": true}
	for _, typ := range []string{"hold.restored", "hold.restore.unknown"} {
		attrs := func(scope string) map[string]string {
			return map[string]string{"scope": scope, "restores": covering, "cause": "release", "released": ids.New("h")}
		}
		if !excerptable(audit.Event{Type: typ, Case: caseID, Objects: []string{covering}, Attrs: attrs("case")}, caseID, docs, versions) {
			t.Errorf("%s of a case hold left out", typ)
		}
		if !excerptable(audit.Event{Type: typ, Case: caseID, Objects: []string{covering, carried}, Attrs: attrs("document")}, caseID, docs, versions) {
			t.Errorf("%s of a carried document's hold left out", typ)
		}
		for what, objects := range map[string][]string{
			"a withheld document": {covering, withheld},
			"no document":         {covering},
			"a third object":      {covering, carried, withheld},
		} {
			if excerptable(audit.Event{Type: typ, Case: caseID, Objects: objects, Attrs: attrs("document")}, caseID, docs, versions) {
				t.Errorf("%s of a document hold naming %s carried", typ, what)
			}
		}
		if excerptable(audit.Event{Type: typ, Case: ids.New("c"), Objects: []string{covering}, Attrs: attrs("case")}, caseID, docs, versions) {
			t.Errorf("%s of another case carried", typ)
		}
	}
}
