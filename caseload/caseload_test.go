package caseload

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
	"github.com/parley-mediation/parley/schedule"
)

func TestNormsAndStalledCases(t *testing.T) {
	ctx := t.Context()
	store, _ := objstore.OpenDir(t.TempDir())
	key := make([]byte, 32)
	rand.Read(key)
	meta, _ := metastore.New(store, key)
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(make([]byte, 32)))
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New()
	accts := account.NewService(meta, ratelimit.NewMemory())
	cs := cases.NewService(meta, accts, pol, log)
	sched := schedule.New(schedule.Config{Meta: meta, Cases: cs, Accounts: accts, Policy: pol, Audit: log,
		Outbox: mail.New(mail.Config{Meta: meta}), JoinURL: "https://p.test/app"})
	now := time.Now().UTC()
	svc := &Service{Cases: cs, Schedule: sched, Policy: pol, Audit: log, Now: func() time.Time { return now }}

	med := account.Account{ID: ids.New("u"), Name: "Morgan Reyes", Role: policy.RoleMediator}
	other := account.Account{ID: ids.New("u"), Name: "Other", Role: policy.RoleMediator}
	records := account.Account{ID: ids.New("u"), Name: "Rec", Role: policy.RoleRecords}
	day := 24 * time.Hour
	// Ten closed tenancy cases that spent 1…10 days in preparation: median
	// 5.5, 90th percentile (nearest rank, the 9th smallest) 9.
	var items []cases.Imported
	for i := 1; i <= 10; i++ {
		opened := now.Add(-400 * day)
		closed := opened.Add(time.Duration(i)*day + 3*day)
		items = append(items, cases.Imported{Case: &cases.Case{ID: ids.New("c"), Title: "closed", Type: "tenancy",
			Mediators: []cases.Mediator{{AccountID: other.ID}}, Stage: cases.StageClosure, Created: opened, Closed: &closed,
			StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: opened},
				{From: cases.StagePreparation, To: cases.StageOpening, At: opened.Add(time.Duration(i) * day)},
				{From: cases.StageOpening, To: cases.StageClosure, At: closed}}}})
	}
	pA, pB := ids.New("u"), ids.New("u")
	open := func(title string, inStage time.Duration, mediator string) *cases.Case {
		since := now.Add(-inStage)
		return &cases.Case{ID: ids.New("c"), Title: title, Type: "tenancy", Stage: cases.StagePreparation,
			Mediators: []cases.Mediator{{AccountID: mediator, Name: "M"}}, Created: since,
			Sides: []cases.Side{{ID: "A", Label: "Tenant"}, {ID: "B", Label: "Landlord"}},
			Participants: []cases.Participant{{AccountID: pA, Name: "Alex Tenant", Role: cases.RoleParty, Side: "A"},
				{AccountID: pB, Name: "Blair Landlord", Role: cases.RoleParty, Side: "B"}},
			Disclosures:  []cases.Disclosure{{ID: ids.New("d"), Mediator: mediator, Text: "x", Acks: []cases.Ack{{AccountID: pB}}}},
			StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: since}}}
	}
	stalled := open("Stalled deposit case", 20*day, med.ID)
	fresh := open("Fresh case", 2*day, med.ID)
	notMine := open("Someone else's", 30*day, other.ID)
	items = append(items, cases.Imported{Case: stalled}, cases.Imported{Case: fresh}, cases.Imported{Case: notMine})
	if err := cs.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	s, err := sched.Add(ctx, med, fresh.ID, schedule.NewSession{Start: now.Add(50 * time.Hour).Format(schedule.LocalLayout), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}

	v, err := svc.View(ctx, med)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) != 2 || v.Cases[0].CaseID != stalled.ID || !v.Cases[0].Stalled || v.Cases[1].Stalled {
		t.Fatalf("mediator's caseload: %+v", v.Cases)
	}
	n := v.Cases[0].Norm
	if n == nil || n.CaseType != "tenancy" || n.Stage != "preparation" || n.Cases != 10 || n.MedianDays != 5.5 || n.P90Days != 9 {
		t.Fatalf("norm %+v", n)
	}
	if v.Cases[0].Title != "Stalled deposit case" || v.Cases[0].DaysInStage != 20 ||
		len(v.Cases[0].Unacknowledged) != 1 || v.Cases[0].Unacknowledged[0] != "Alex Tenant" {
		t.Fatalf("row %+v", v.Cases[0])
	}
	if v.Cases[1].NextSession == nil || !v.Cases[1].NextSession.Equal(s.Start) {
		t.Fatalf("next session %v, want %v", v.Cases[1].NextSession, s.Start)
	}
	if !strings.Contains(v.Method, "90th percentile") {
		t.Fatal("the method is not stated")
	}

	// Records staff: every open case, metadata only.
	rv, err := svc.View(ctx, records)
	if err != nil {
		t.Fatal(err)
	}
	if len(rv.Cases) != 3 || rv.Cases[0].CaseID != notMine.ID || !rv.Cases[0].Stalled {
		t.Fatalf("records' caseload: %+v", rv.Cases)
	}
	for _, r := range rv.Cases {
		if r.Title != "" || len(r.Unacknowledged) != 0 || r.UnacknowledgedCount != 1 {
			t.Fatalf("records see %+v", r)
		}
	}
	// A closed case with an overdue follow-up check-in: its mediator sees
	// it; records staff neither see the case come back nor any follow-up
	// information (it would tell them which export row has check-ins).
	closedAt := now.Add(-10 * day)
	agreed := open("Agreed case", 12*day, med.ID)
	agreed.Type, agreed.Stage, agreed.Closed = "family", cases.StageClosure, &closedAt
	agreed.Outcome = &cases.Outcome{Result: cases.FullAgreement, Sessions: 2, Hours: 3, Recorded: closedAt, By: med.ID}
	if err := cs.Import(ctx, []cases.Imported{{Case: agreed}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sched.SetFollowUps(ctx, med, agreed.ID, []int{1}); err != nil {
		t.Fatal(err)
	}
	v, err = svc.View(ctx, med)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(v.Cases, func(r api.CaseloadRow) bool { return r.CaseID == agreed.ID && len(r.OverdueFollowUps) == 1 }) {
		t.Fatalf("the mediator does not see the overdue check-in: %+v", v.Cases)
	}
	rv, err = svc.View(ctx, records)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rv.Cases {
		if r.CaseID == agreed.ID || len(r.OverdueFollowUps) != 0 {
			t.Fatalf("records see follow-up information: %+v", r)
		}
	}
	for _, who := range []account.Account{{ID: pA, Role: policy.RoleParticipant}, {ID: ids.New("u"), Role: policy.RoleAdmin}} {
		if _, err := svc.View(ctx, who); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: %v", who.Role, err)
		}
	}
}

func TestPercentiles(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5}
	if median(v) != 3 || nearestRank(v, 0.9) != 5 || nearestRank([]float64{7}, 0.9) != 7 {
		t.Fatal("median or nearest rank")
	}
}
