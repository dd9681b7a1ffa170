package retention

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/ids"
)

// TestExcerptCarriesShareRequests: a transfer's excerpt carries the
// entries of a share request of a carried document (the mediator's
// request, the side's answer, their corrections) as it carries the
// document's share; never those of a withheld document, nor an entry
// that names anything but the document, a request and, for an answer,
// the device that signed it. The vault writes an answer's entries with
// the device as a third object (vault.DecideShareRequest); before, the
// excerpt refused every such entry, so an archive showed a share
// without the side's consent.
func TestExcerptCarriesShareRequests(t *testing.T) {
	t.Parallel()
	caseID, carried, withheld, req, device := ids.New("c"), ids.New("d"), ids.New("d"), ids.New("sa"), ids.New("dv")
	docs, versions := map[string]bool{carried: true}, map[string]bool{carried + "@1": true}
	for _, typ := range []string{"doc.share.requested", "doc.share.approved", "doc.share.declined",
		"doc.share.requested.failed", "doc.share.approved.unknown", "doc.share.declined.failed"} {
		objects := []string{carried, req}
		answer := !strings.HasPrefix(typ, "doc.share.requested")
		if answer {
			objects = append(objects, device)
		}
		ev := audit.Event{Type: typ, Case: caseID, Objects: objects,
			Attrs: map[string]string{"from": "caucus:A", "to": "joint", "version": "1"}}
		if !excerptable(ev, caseID, docs, versions, nil) {
			t.Errorf("%s of a carried document left out (objects %q)", typ, objects)
		}
		if answer {
			// An answer stored before its device was named has none.
			old := ev
			old.Objects = []string{carried, req}
			if !excerptable(old, caseID, docs, versions, nil) {
				t.Errorf("%s of a carried document naming no device left out", typ)
			}
		} else {
			withDevice := ev
			withDevice.Objects = []string{carried, req, device}
			if excerptable(withDevice, caseID, docs, versions, nil) {
				t.Errorf("%s naming a device carried: only an answer names one", typ)
			}
		}
		for _, v := range []string{"2", ""} {
			other := ev
			other.Attrs = map[string]string{"from": "caucus:A", "to": "joint", "version": v}
			if excerptable(other, caseID, docs, versions, nil) {
				t.Errorf("%s about version %q, not carried, carried", typ, v)
			}
		}
		for what, objects := range map[string][]string{
			"a withheld document":             {withheld, req},
			"a withheld document second":      {carried, withheld},
			"no request":                      {carried},
			"a third object":                  {carried, req, withheld},
			"a device, then another object":   {carried, req, device, withheld},
			"a device in the request's place": {carried, device, req},
			"another case's carried doc id":   {carried, req},
		} {
			ev := ev
			ev.Objects = objects
			if what == "another case's carried doc id" {
				ev.Case = ids.New("c")
			}
			if excerptable(ev, caseID, docs, versions, nil) {
				t.Errorf("%s naming %s carried", typ, what)
			}
		}
	}
	// The document's share itself is carried as before.
	if !excerptable(audit.Event{Type: "doc.share", Case: caseID, Objects: []string{carried}}, caseID, docs, versions, nil) {
		t.Error("doc.share of a carried document left out")
	}
}

// TestExcerptCarriesHoldRestorations: a transfer's excerpt carries the
// hold.restored entries (and their hold.restore.unknown follow-ups) that
// say why a doc.hold or case.hold "on" by a person releasing a hold
// follows: a case hold's always, a document hold's only with its
// document carried, never naming a withheld one.
func TestExcerptCarriesHoldRestorations(t *testing.T) {
	t.Parallel()
	caseID, carried, withheld, covering := ids.New("c"), ids.New("d"), ids.New("d"), ids.New("h")
	docs, versions := map[string]bool{carried: true}, map[string]bool{carried + "@1": true}
	for _, typ := range []string{"hold.restored", "hold.restore.unknown"} {
		attrs := func(scope string) map[string]string {
			return map[string]string{"scope": scope, "restores": covering, "cause": "release", "released": ids.New("h")}
		}
		if !excerptable(audit.Event{Type: typ, Case: caseID, Objects: []string{covering}, Attrs: attrs("case")}, caseID, docs, versions, nil) {
			t.Errorf("%s of a case hold left out", typ)
		}
		if !excerptable(audit.Event{Type: typ, Case: caseID, Objects: []string{covering, carried}, Attrs: attrs("document")}, caseID, docs, versions, nil) {
			t.Errorf("%s of a carried document's hold left out", typ)
		}
		for what, objects := range map[string][]string{
			"a withheld document": {covering, withheld},
			"no document":         {covering},
			"a third object":      {covering, carried, withheld},
		} {
			if excerptable(audit.Event{Type: typ, Case: caseID, Objects: objects, Attrs: attrs("document")}, caseID, docs, versions, nil) {
				t.Errorf("%s of a document hold naming %s carried", typ, what)
			}
		}
		if excerptable(audit.Event{Type: typ, Case: ids.New("c"), Objects: []string{covering}, Attrs: attrs("case")}, caseID, docs, versions, nil) {
			t.Errorf("%s of another case carried", typ)
		}
	}
}

// TestExcerptCarriesDocumentHolds: every hold entry the excerpt knows
// (hold.placed, hold.released and their corrections) is carried for a
// case hold, and for a document hold only with its document carried:
// named in the entry (placed) or known from the hold's placement
// (released). A hold on a withheld document, or one whose document is
// not known, is left out.
func TestExcerptCarriesDocumentHolds(t *testing.T) {
	t.Parallel()
	caseID, carried, withheld := ids.New("c"), ids.New("d"), ids.New("d")
	onCarried, onWithheld, unknown, caseHold := ids.New("h"), ids.New("h"), ids.New("h"), ids.New("h")
	docs, versions := map[string]bool{carried: true}, map[string]bool{carried + "@1": true}
	holdDocs := map[string]string{onCarried: carried, onWithheld: withheld}
	n := 0
	for typ := range excerptTypes {
		if !strings.HasPrefix(typ, "hold.") || strings.HasPrefix(typ, "hold.restore") {
			continue // restorations: TestExcerptCarriesHoldRestorations
		}
		n++
		doc := func(h, d string) []string {
			if typ == "hold.released" || strings.HasPrefix(typ, "hold.release.") {
				return []string{h}
			}
			return []string{h, d}
		}
		ev := func(scope string, objects []string) audit.Event {
			return audit.Event{Type: typ, Case: caseID, Objects: objects, Attrs: map[string]string{"scope": scope}}
		}
		if !excerptable(ev("case", []string{caseHold}), caseID, docs, versions, holdDocs) {
			t.Errorf("%s of a case hold left out", typ)
		}
		if !excerptable(ev("document", doc(onCarried, carried)), caseID, docs, versions, holdDocs) {
			t.Errorf("%s of a carried document's hold left out", typ)
		}
		if excerptable(ev("document", doc(onWithheld, withheld)), caseID, docs, versions, holdDocs) {
			t.Errorf("%s of a withheld document's hold carried", typ)
		}
		if excerptable(ev("document", doc(unknown, withheld)), caseID, docs, versions, holdDocs) {
			t.Errorf("%s of a hold on no known document carried", typ)
		}
		if excerptable(ev("", doc(onWithheld, withheld)), caseID, docs, versions, holdDocs) {
			t.Errorf("%s with no scope, of a withheld document's hold, carried", typ)
		}
		if excerptable(ev("case", []string{caseHold, withheld}), caseID, docs, versions, holdDocs) {
			t.Errorf("%s of a case hold naming a withheld document carried", typ)
		}
	}
	if n < 6 {
		t.Fatalf("only %d hold entry types in excerptTypes", n)
	}
}

// TestExcerptCarriesInvitationLifecycle: a transfer's excerpt shows what
// became of each invitation — made, used, or withdrawn — so an
// invitation made and then withdrawn does not read as one still open.
// Before, case.invite.withdrawn was left out.
func TestExcerptCarriesInvitationLifecycle(t *testing.T) {
	t.Parallel()
	caseID := ids.New("c")
	for _, typ := range []string{"case.invite.created", "case.invite.redeemed", "case.invite.withdrawn"} {
		ev := audit.Event{Type: typ, Case: caseID, Objects: []string{"inv"}}
		if !excerptable(ev, caseID, map[string]bool{}, map[string]bool{}, map[string]string{}) {
			t.Errorf("%s left out of a transfer's excerpt", typ)
		}
	}
}
