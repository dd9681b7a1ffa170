package vault

import (
	"maps"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/ids"
)

// TestApprovalCountsOnlyForTheSideThatGaveIt: an approval is one side's,
// given by a person of that side as that side's (the side asked, and the
// approver's side when they answered, both recorded); it never counts as
// another side's, even when its approver is of that other side now.
// Before, every approval of a document, version and target was pooled and
// counted for whichever side its approver was of at the time of the share.
// Records stored before the approver's side was recorded count for the
// side they asked (policy let only that side's people answer), and only
// for it.
func TestApprovalCountsOnlyForTheSideThatGaveIt(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, cA := k.who["mediator"], k.who["partyA"], k.who["counselA"]
	caucusA, joint := k.audience(t, "caucus:A"), k.audience(t, "joint")

	// stored is a fresh side A document with one approved request for
	// its share to the joint room, stored with fields (naming version 1
	// as asked, unless fields says otherwise).
	stored := func(fields map[string]any) string {
		t.Helper()
		d := e.upload(t, pA, k.caseID, "Receipt.pdf", caucusA, ClassEvidence, []byte("r"))
		id := ids.New("sa")
		now := time.Now().UTC()
		rec := map[string]any{"id": id, "case": k.caseID, "doc": d.ID, "version": 1, "from": "caucus:A", "to": "joint",
			"requestedBy": med.ID, "requested": now, "expires": now.Add(ShareRequestTTL), "status": ShareApproved, "decided": now, "asked": []int{1}}
		maps.Copy(rec, fields)
		if _, err := e.meta.Create(ctx, approvalKey(k.caseID, d.ID, id), rec); err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	for _, c := range []struct {
		name   string
		fields map[string]any
		counts bool
	}{
		{"asked of side A, given as side A's by its lawyer", map[string]any{"side": "A", "decidedBy": cA.ID, "decidedSide": "A"}, true},
		{"asked of side A, stored before the approver's side was recorded", map[string]any{"side": "A", "decidedBy": cA.ID}, true},
		{"asked of caucus A's side, stored before the side asked was recorded", map[string]any{"decidedBy": cA.ID}, true},
		{"asked of side B, given by someone of side A now", map[string]any{"side": "B", "decidedBy": cA.ID, "decidedSide": "B"}, false},
		{"asked of side B, stored before the approver's side was recorded", map[string]any{"side": "B", "decidedBy": cA.ID}, false},
		{"asked of side A, stored before the versions asked were recorded", map[string]any{"side": "A", "decidedBy": cA.ID, "decidedSide": "A", "asked": nil}, false},
		{"asked of side A, given by someone then of side B", map[string]any{"side": "A", "decidedBy": cA.ID, "decidedSide": "B"}, false},
	} {
		docID := stored(c.fields)
		res, err := e.vault.Share(ctx, med, k.caseID, docID, joint, true)
		if err != nil {
			t.Fatalf("%s: preview: %v", c.name, err)
		}
		if counts := !res.NeedsApproval; counts != c.counts {
			t.Errorf("%s: the approval counts for side A: %v, want %v (%+v)", c.name, counts, c.counts, res)
		}
		_, err = e.vault.Share(ctx, med, k.caseID, docID, joint, false)
		if (err == nil) != c.counts {
			t.Errorf("%s: share to joint: %v", c.name, err)
		}
	}

	// An answer records the side its approver answered as.
	d := e.upload(t, pA, k.caseID, "Offer.pdf", caucusA, ClassEvidence, []byte("o"))
	req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.decide(t, ctx, cA, k.caseID, d.ID, req.ID, true); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if _, err := e.meta.Get(ctx, approvalKey(k.caseID, d.ID, req.ID), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["decidedSide"] != "A" || raw["decidedBy"] != cA.ID {
		t.Errorf("the stored answer names approver %v of side %v, want %s of side A", raw["decidedBy"], raw["decidedSide"], cA.ID)
	}
}
