package vault

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/metastore"
)

// TestShowsJudgesAVersionByTheSideItWasAddedAs: a version's side is
// recorded as it is added, and a party or lawyer asked about a share is
// named a version only if it was added as their own side's (or is their
// own upload). Before, the uploader's side as the case stands now was
// used: someone who added a version as side B's and was later of side A
// would have had it named to side A. A version recorded before sides
// were recorded per version is named to its own uploader only.
func TestShowsJudgesAVersionByTheSideItWasAddedAs(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, cB := k.who["mediator"], k.who["partyA"], k.who["counselB"]
	mediators, caucusB := k.audience(t, "mediators"), k.audience(t, "caucus:B")

	// Side A's draft, allowed into caucus B, where side B's lawyer adds a
	// version; then moved to the mediators only and asked of side A.
	d := e.upload(t, pA, k.caseID, "Draft terms.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("A's draft"))
	e.sideApproves(t, k, d.ID, caucusB)
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, caucusB, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.AddVersion(ctx, cB, k.caseID, d.ID, NewVersion{Name: "B markup.pdf"}, strings.NewReader("B's markup")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, mediators, false); err != nil {
		t.Fatal(err)
	}
	if req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, k.audience(t, "joint")); err != nil || req.Side != "A" {
		t.Fatalf("request: %+v %v", req, err)
	}
	var raw map[string]any
	if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &raw); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(raw["versionSides"]); got != "map[1:A 2:B]" {
		t.Errorf("recorded version sides %s, want map[1:A 2:B]", got)
	}
	shows := func(who string) string {
		t.Helper()
		list, err := e.vault.ShareRequests(ctx, k.who[who], k.caseID)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(a ShareApproval) bool { return a.Doc == d.ID && a.Side == "A" })
		if i < 0 {
			t.Fatalf("%s is not shown side A's request: %+v", who, list)
		}
		var out []string
		for _, v := range list[i].Shows {
			out = append(out, fmt.Sprintf("%d %q", v.Version, v.Name))
		}
		return strings.Join(out, ", ")
	}
	if got, want := shows("counselA"), `2 "", 1 "Draft terms.pdf"`; got != want {
		t.Errorf("side A's lawyer is shown %s, want %s", got, want)
	}

	// Side B's lawyer is of side A now (nobody changes side today; the
	// case record is rewritten to make it so): the version they added as
	// side B's is still not named to side A.
	if _, err := metastore.Update(ctx, e.meta, cases.RecordKey(k.caseID), func(c *cases.Case) error {
		p, ok := c.Participant(cB.ID)
		if !ok {
			return fmt.Errorf("no participant %s", cB.ID)
		}
		p.Side = "A"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := shows("counselA"), `2 "", 1 "Draft terms.pdf"`; got != want {
		t.Errorf("after side B's lawyer moved to side A, side A's lawyer is shown %s, want %s", got, want)
	}

	// A record without versions' sides: each version is named to its own
	// uploader only.
	if _, err := metastore.Update(ctx, e.meta, docKey(k.caseID, d.ID), func(r *map[string]any) error {
		delete(*r, "versionSides")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := shows("counselA"), `2 "", 1 ""`; got != want {
		t.Errorf("older record: side A's lawyer is shown %s, want %s", got, want)
	}
	if got, want := shows("partyA"), `2 "", 1 "Draft terms.pdf"`; got != want {
		t.Errorf("older record: side A's party (who added version 1) is shown %s, want %s", got, want)
	}
	if got, want := shows("mediator"), `2 "B markup.pdf", 1 "Draft terms.pdf"`; got != want {
		t.Errorf("the mediator is shown %s, want %s", got, want)
	}
}
