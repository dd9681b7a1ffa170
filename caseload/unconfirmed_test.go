package caseload

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
	"github.com/parley-mediation/parley/schedule"
)

// seats is the key directory's answer about a case's signed membership
// as a test sets it (cases.MembershipReader).
type seats struct {
	mu     sync.Mutex
	seated []string
}

func (s *seats) SeatedMediators(context.Context, string) ([]string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seated...), s.seated != nil, nil
}

// TestUnconfirmedMediatorCaseloadRow: in the caseload of a co-mediator no
// seated mediator has confirmed, their case's row has its title and
// stage, but not its next session nor who, or how many, have not
// acknowledged the disclosures (they see no session and read no
// disclosure); the seated mediator's row has both, and so has theirs once
// admitted.
func TestUnconfirmedMediatorCaseloadRow(t *testing.T) {
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
	m := &seats{}
	cs.Membership = m
	sched := schedule.New(schedule.Config{Meta: meta, Cases: cs, Accounts: accts, Policy: pol, Audit: log,
		Outbox: mail.New(mail.Config{Meta: meta}), JoinURL: "https://p.test/app"})
	now := time.Now().UTC()
	svc := &Service{Cases: cs, Schedule: sched, Policy: pol, Audit: log, Now: func() time.Time { return now }}

	mia := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	max := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	pA := ids.New("u")
	since := now.Add(-48 * time.Hour)
	c := &cases.Case{ID: ids.New("c"), Title: "Flat 10", Type: "tenancy", Stage: cases.StagePreparation, Created: since, CreatedBy: mia.ID,
		Mediators:    []cases.Mediator{{AccountID: mia.ID, Name: "Mia", Added: since}, {AccountID: max.ID, Name: "Max", Added: since.Add(time.Hour)}},
		Sides:        []cases.Side{{ID: "A", Label: "Tenant"}, {ID: "B", Label: "Landlord"}},
		Participants: []cases.Participant{{AccountID: pA, Name: "Alex Tenant", Role: cases.RoleParty, Side: "A"}},
		Disclosures:  []cases.Disclosure{{ID: ids.New("d"), Mediator: mia.ID, Text: "x"}},
		StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: since}}}
	if err := cs.Import(ctx, []cases.Imported{{Case: c}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sched.Add(ctx, mia, c.ID, schedule.NewSession{Start: now.Add(50 * time.Hour).Format(schedule.LocalLayout), TimeZone: "UTC", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	row := func(who account.Account) (next bool, unacked, count int) {
		t.Helper()
		v, err := svc.View(ctx, who)
		if err != nil || len(v.Cases) != 1 || v.Cases[0].Title != "Flat 10" || v.Cases[0].Stage != string(cases.StagePreparation) {
			t.Fatalf("%s's caseload: %+v, %v", who.Name, v, err)
		}
		return v.Cases[0].NextSession != nil, len(v.Cases[0].Unacknowledged), v.Cases[0].UnacknowledgedCount
	}
	if next, unacked, count := row(mia); !next || unacked != 1 || count != 1 {
		t.Fatalf("Mia's row: next session %v, %d names, count %d", next, unacked, count)
	}
	if next, unacked, count := row(max); next || unacked != 0 || count != 0 {
		t.Fatalf("Max's row before he is confirmed: next session %v, %d names, count %d", next, unacked, count)
	}
	m.mu.Lock()
	m.seated = []string{mia.ID, max.ID}
	m.mu.Unlock()
	cs.ForgetSeats(c.ID)
	if next, unacked, count := row(max); !next || unacked != 1 || count != 1 {
		t.Fatalf("Max's row once admitted: next session %v, %d names, count %d", next, unacked, count)
	}
}
