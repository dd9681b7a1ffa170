package evaluation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// Survey comments are scrubbed of the names a case held outside its
// roster too: an invitation never redeemed ("Drew Absent"), one the
// mediator withdrew ("Quinn Gone"), and the names in its disclosures and
// objectives. Each comment below starts with the name, where the
// capitalized-word check lets a word through, so only the roster can
// catch it.
func TestExportScrubsInvitedAndWrittenNames(t *testing.T) {
	hashcost.UseTestCost()
	ctx := context.Background()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := metastore.New(store, make([]byte, 32))
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(make([]byte, 32)))
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New()
	accts := account.NewService(meta, ratelimit.NewMemory())
	svc := cases.NewService(meta, accts, pol, log)
	med, err := accts.Create(ctx, account.NewAccount{Email: "morgan@invited.test", Name: "Morgan Reyes", Role: policy.RoleMediator,
		Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Now().Add(-48 * time.Hour).UTC()
	secrets := []string{"Drew", "Absent", "Quinn", "Harper", "Vale", "Taylor", "Brook"}
	var items []cases.Imported
	for range 2 {
		c := &cases.Case{
			ID: ids.New("c"), Title: "Case", Type: "family", ReferralSource: "court",
			Sides:        []cases.Side{{ID: "A", Label: "Side one"}, {ID: "B", Label: "Side two"}},
			Mediators:    []cases.Mediator{{AccountID: med.ID, Name: med.Name, Added: opened}},
			Participants: []cases.Participant{{AccountID: ids.New("u"), Name: "Pat Doe", Role: cases.RoleParty, Side: "B", Joined: opened}},
			Objectives:   []cases.Objective{{ID: ids.New("o"), Kind: cases.KindObjective, Text: "Taylor Brook keeps the car.", Added: opened, By: med.ID}},
			Disclosures:  []cases.Disclosure{{ID: ids.New("d"), Mediator: med.ID, Text: "I once worked with Harper Vale.", At: opened}},
			Stage:        cases.StagePreparation,
			StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: opened}},
			Created:      opened,
		}
		var resps []cases.SurveyResponse
		for _, comment := range []string{"Drew never showed up.", "Quinn was missed.", "Harper was fair. Taylor got the car."} {
			scores := map[string]int{}
			for _, it := range cases.SurveyItems {
				scores[it] = 4
			}
			resps = append(resps, cases.SurveyResponse{Day: opened.Format(time.DateOnly), Scores: scores, Comment: comment})
		}
		items = append(items, cases.Imported{Case: c, Responses: resps})
	}
	if err := svc.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if _, err := svc.CreateInvite(ctx, med, it.Case.ID, cases.NewInvite{Role: cases.RoleParty, Side: "A", Name: "Drew Absent",
			Email: "drew.absent@invited.test"}); err != nil {
			t.Fatal(err)
		}
		gone, err := svc.CreateInvite(ctx, med, it.Case.ID, cases.NewInvite{Role: cases.RoleParty, Side: "A", Name: "Quinn Gone"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.WithdrawInvite(ctx, med, it.Case.ID, gone.ID); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	rep, err := Run(ctx, svc, &out, Options{To: time.Now().Add(time.Hour), K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2 {
		t.Fatalf("rows %d, want both cases: %+v", rep.Rows, rep)
	}
	if !strings.Contains(out.String(), "never showed up") {
		t.Fatalf("the comments were dropped, not scrubbed: the test proves nothing\n%s", out.String())
	}
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(out.String()), strings.ToLower(s)) {
			t.Errorf("%q survived in the export:\n%s", s, out.String())
		}
	}
}

// The capitalized words of a defined room's label ("Drew with counsel"),
// of the case's own terms and of a proposal's reason are scrubbed from the
// comments too: each comment starts with the name, which the
// capitalized-word check lets through.
func TestExportScrubsRoomLabelsTermsAndProposalReasons(t *testing.T) {
	hashcost.UseTestCost()
	ctx := context.Background()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := metastore.New(store, make([]byte, 32))
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(make([]byte, 32)))
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New()
	accts := account.NewService(meta, ratelimit.NewMemory())
	svc := cases.NewService(meta, accts, pol, log)
	opened := time.Now().Add(-48 * time.Hour).UTC()
	var items []cases.Imported
	for range 2 {
		c := &cases.Case{
			ID: ids.New("c"), Title: "Case", Type: "family", ReferralSource: "court",
			Sides:        []cases.Side{{ID: "A", Label: "Side one"}, {ID: "B", Label: "Side two"}},
			Mediators:    []cases.Mediator{{AccountID: ids.New("u"), Name: "Morgan Reyes", Added: opened}},
			Participants: []cases.Participant{{AccountID: ids.New("u"), Name: "Pat Doe", Role: cases.RoleParty, Side: "B", Joined: opened}},
			Rooms:        []cases.DefinedRoom{{ID: "0123456789abcdef0123456789abcdef", Room: api.RoomDefined + "0123456789abcdef0123456789abcdef", Label: "Drew with counsel", Opened: opened}},
			Terms:        &api.Terms{Version: 2, Text: "Agreement to mediate. Quinn pays the fee.", Updated: opened},
			Proposals:    []cases.Proposal{{ID: ids.New("p"), Kind: cases.ProposeRecusal, Subject: ids.New("u"), Reason: "Sasha knows the mediator.", Proposed: opened}},
			Stage:        cases.StagePreparation,
			StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: opened}},
			Created:      opened,
		}
		var resps []cases.SurveyResponse
		for _, comment := range []string{"Drew never showed up.", "Quinn was late.", "Sasha was kind."} {
			scores := map[string]int{}
			for _, it := range cases.SurveyItems {
				scores[it] = 4
			}
			resps = append(resps, cases.SurveyResponse{Day: opened.Format(time.DateOnly), Scores: scores, Comment: comment})
		}
		items = append(items, cases.Imported{Case: c, Responses: resps})
	}
	if err := svc.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(ctx, svc, &out, Options{To: time.Now().Add(time.Hour), K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2 {
		t.Fatalf("rows %d, want both cases: %+v", rep.Rows, rep)
	}
	if !strings.Contains(out.String(), "never showed up") {
		t.Fatalf("the comments were dropped, not scrubbed: the test proves nothing\n%s", out.String())
	}
	for _, s := range []string{"Drew", "Quinn", "Sasha"} {
		if strings.Contains(strings.ToLower(out.String()), strings.ToLower(s)) {
			t.Errorf("%q survived in the export:\n%s", s, out.String())
		}
	}
}
