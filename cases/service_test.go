package cases

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// wantDenied checks that err is a refusal and that the refusal was audited
// as an "access.denied" entry naming the actor, case and action.
func (e *env) wantDenied(t *testing.T, sizeBefore int64, err error, actor account.Account, caseID string, action policy.Action) {
	t.Helper()
	wantIs(t, err, fault.ErrForbidden)
	if got := e.log.Size(); got != sizeBefore+1 {
		t.Fatalf("audit log grew from %d to %d on a refusal, want +1", sizeBefore, got)
	}
	ev := e.lastEntry(t)
	if ev.Type != "access.denied" || ev.Actor != actor.ID || ev.Case != caseID || ev.Attrs["action"] != string(action) {
		t.Fatalf("refusal audited as %+v", ev)
	}
}

func TestRecordsSeeSummaryOnly(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	const title = "Canary-Title-Smith-v-Jones-4411"
	c := e.newCase(t, m, title)
	if _, err := e.svc.SetStage(ctx, m, c.ID, StageOpening, ""); err != nil {
		t.Fatal(err)
	}
	e.join(t, m, c.ID, RoleParty, "A", "Pat")
	rec := staff(policy.RoleRecords, "Rita")

	n := e.log.Size()
	_, err := e.svc.Get(ctx, rec, c.ID)
	e.wantDenied(t, n, err, rec, c.ID, policy.CaseRead)

	sum, err := e.svc.Summary(ctx, rec, c.ID)
	if err != nil {
		t.Fatalf("records Summary: %v", err)
	}
	if sum.ID != c.ID || sum.Type != "tenancy" || sum.Stage != StageOpening || sum.Sides != 2 || sum.Participants != 1 || len(sum.StageHistory) != 2 {
		t.Fatalf("summary: %+v", sum)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{title, "Tenant", "Landlord", "Pat", "Mia"} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("summary %s contains %q", b, secret)
		}
	}

	// Records staff cannot change anything either.
	_, err = e.svc.SetStage(ctx, rec, c.ID, StageIssues, "")
	wantIs(t, err, fault.ErrForbidden)
	_, err = e.svc.AddObjective(ctx, rec, c.ID, KindObjective, "x")
	wantIs(t, err, fault.ErrForbidden)

	// Neither a mediator of another case nor an admin may read it. The
	// mediator, who has no place in it, is told it is not found, as for a
	// case that does not exist; the admin, who sees that cases exist, is
	// told no.
	other := staff(policy.RoleMediator, "Otto")
	_, err = e.svc.Get(ctx, other, c.ID)
	wantIs(t, err, fault.ErrNotFound)
	_, err = e.svc.Summary(ctx, other, c.ID)
	wantIs(t, err, fault.ErrNotFound)
	_, err = e.svc.Get(ctx, staff(policy.RoleAdmin, "Ada"), c.ID)
	wantIs(t, err, fault.ErrForbidden)

	// An unknown or malformed case id is not found, not forbidden.
	_, err = e.svc.Get(ctx, m, "c_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	wantIs(t, err, fault.ErrNotFound)
	_, err = e.svc.Get(ctx, m, "../accounts")
	wantIs(t, err, fault.ErrNotFound)
}

func TestPartyReadsButCannotRun(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "party case")
	party := e.join(t, m, c.ID, RoleParty, "A", "Pat")
	if party.Role != policy.RoleParticipant {
		t.Fatalf("joined account role %s", party.Role)
	}

	got, err := e.svc.Get(ctx, party, c.ID)
	if err != nil {
		t.Fatalf("party Get: %v", err)
	}
	if p, ok := got.Participant(party.ID); !ok || p.Role != RoleParty || p.Side != "A" || p.Name != "Pat" {
		t.Fatalf("party entry: %+v %v", p, ok)
	}

	n := e.log.Size()
	_, err = e.svc.SetStage(ctx, party, c.ID, StageOpening, "")
	e.wantDenied(t, n, err, party, c.ID, policy.CaseUpdate)

	n = e.log.Size()
	_, err = e.svc.CreateInvite(ctx, party, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Friend"})
	e.wantDenied(t, n, err, party, c.ID, policy.CaseInvite)

	n = e.log.Size()
	_, err = e.svc.Disclose(ctx, party, c.ID, "I am the landlord's cousin")
	e.wantDenied(t, n, err, party, c.ID, policy.CaseDisclose)

	_, err = e.svc.Recuse(ctx, party, c.ID, m.ID, "trying")
	wantIs(t, err, fault.ErrForbidden)

	// None of the refusals changed the case.
	after, err := e.svc.Get(ctx, m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Stage != StagePreparation || len(after.Disclosures) != 0 || after.Mediators[0].Recused != nil {
		t.Fatalf("refused actions changed the case: %+v", after)
	}
}

func TestRecusedMediatorLosesAccessAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m1 := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m1, "recusal")

	// A stored mediator account, for AddMediator.
	m2, err := e.accounts.Create(ctx, account.NewAccount{Email: "max@example.com", Name: "Max", Role: policy.RoleMediator, Password: "Max-password-123456"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddMediator(ctx, m1, c.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(ctx, m2, c.ID); err != nil {
		t.Fatalf("added mediator cannot read: %v", err)
	}

	// m1 recuses m2; m2 is locked out at once.
	got, err := e.svc.Recuse(ctx, m1, c.ID, m2.ID, "former client of side B")
	if err != nil {
		t.Fatal(err)
	}
	if mm, _ := got.Mediator(m2.ID); mm.Recused == nil {
		t.Fatal("recusal not recorded")
	}
	n := e.log.Size()
	_, err = e.svc.Get(ctx, m2, c.ID)
	e.wantDenied(t, n, err, m2, c.ID, policy.CaseRead)
	_, err = e.svc.Summary(ctx, m2, c.ID)
	wantIs(t, err, fault.ErrForbidden)
	_, err = e.svc.SetStage(ctx, m2, c.ID, StageOpening, "")
	wantIs(t, err, fault.ErrForbidden)
	list, err := e.svc.List(ctx, m2)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("recused mediator still lists the case: %+v", list)
	}

	// Recusal is final: no second recusal, no re-adding.
	_, err = e.svc.Recuse(ctx, m1, c.ID, m2.ID, "again")
	wantIs(t, err, fault.ErrConflict)
	_, err = e.svc.AddMediator(ctx, m1, c.ID, m2.ID)
	wantIs(t, err, fault.ErrConflict)

	// Self-recusal works the same way, leaving the program to propose a
	// new mediator (proposals_test.go).
	if _, err := e.svc.Recuse(ctx, m1, c.ID, "", "conflict discovered"); err != nil {
		t.Fatal(err)
	}
	n = e.log.Size()
	_, err = e.svc.Get(ctx, m1, c.ID)
	e.wantDenied(t, n, err, m1, c.ID, policy.CaseRead)

	// An administrator never adds one directly; a proposal needs a real
	// mediator account.
	admin := staff(policy.RoleAdmin, "Ada")
	_, err = e.svc.AddMediator(ctx, admin, c.ID, "u_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	wantIs(t, err, fault.ErrForbidden)
	_, err = e.svc.ProposeAssignment(ctx, admin, c.ID, "u_aaaaaaaaaaaaaaaaaaaaaaaaaa", "")
	wantInvalid(t, err, "accountId")
}

func TestInviteValidation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "invites")
	for _, tc := range []struct {
		name  string
		n     NewInvite
		field string
	}{
		{"party without side", NewInvite{Role: RoleParty, Name: "Pat"}, "side"},
		{"counsel without side", NewInvite{Role: RoleCounsel, Name: "Cal"}, "side"},
		{"observer with side", NewInvite{Role: RoleObserver, Side: "A", Name: "Olly"}, "side"},
		{"unknown side", NewInvite{Role: RoleParty, Side: "C", Name: "Pat"}, "side"},
		{"lower-case side", NewInvite{Role: RoleParty, Side: "a", Name: "Pat"}, "side"},
		{"mediator role", NewInvite{Role: "mediator", Name: "Pat"}, "role"},
		{"no role", NewInvite{Name: "Pat"}, "role"},
		{"no name", NewInvite{Role: RoleObserver, Name: " "}, "name"},
		{"bad email", NewInvite{Role: RoleObserver, Name: "Olly", Email: "olly"}, "email"},
		{"short ttl", NewInvite{Role: RoleObserver, Name: "Olly", TTL: 59e9}, "ttl"},
		{"long ttl", NewInvite{Role: RoleObserver, Name: "Olly", TTL: MaxInviteTTL + 1}, "ttl"},
		{"negative ttl", NewInvite{Role: RoleObserver, Name: "Olly", TTL: -1}, "ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.CreateInvite(ctx, m, c.ID, tc.n)
			wantInvalid(t, err, tc.field)
		})
	}
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleCounsel, Side: "B", Name: "Cal"})
	if len(inv.Token) != 43 || inv.Role != RoleCounsel || inv.Side != "B" {
		t.Fatalf("issued: %+v", inv)
	}
	if d := inv.Expires.Sub(e.svc.now()); d < DefaultInviteTTL-5*time.Second || d > DefaultInviteTTL {
		t.Fatalf("default expiry in %v, want %v", d, DefaultInviteTTL)
	}
	ev := e.lastEntry(t)
	if ev.Type != "case.invite.created" || ev.Attrs["role"] != "counsel" || ev.Attrs["side"] != "B" {
		t.Fatalf("audit: %+v", ev)
	}
	b, _ := ev.Encode()
	if bytes.Contains(b, []byte(inv.Token)) || bytes.Contains(b, []byte("Cal")) {
		t.Fatalf("audit entry %s holds the token or name", b)
	}
	j, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, j.Account, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := got.Participant(j.Account.ID); !ok || p.Role != RoleCounsel || p.Side != "B" {
		t.Fatalf("counsel entry: %+v", p)
	}
}

func TestListShowsOnlyPermittedCases(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m1 := staff(policy.RoleMediator, "Mia")
	m2 := staff(policy.RoleMediator, "Max")
	c1 := e.newCase(t, m1, "Title-One-Canary")
	c2 := e.newCase(t, m2, "Title-Two-Canary")
	party := e.join(t, m1, c1.ID, RoleObserver, "", "Olly")

	n := e.log.Size()
	l1, err := e.svc.List(ctx, m1)
	if err != nil {
		t.Fatal(err)
	}
	if len(l1) != 1 || l1[0].ID != c1.ID || l1[0].Title != c1.Title || l1[0].Relation != "mediator" {
		t.Fatalf("mediator 1 list: %+v", l1)
	}
	l2, err := e.svc.List(ctx, m2)
	if err != nil {
		t.Fatal(err)
	}
	if len(l2) != 1 || l2[0].ID != c2.ID || l2[0].Title != c2.Title {
		t.Fatalf("mediator 2 list: %+v", l2)
	}
	lp, err := e.svc.List(ctx, party)
	if err != nil {
		t.Fatal(err)
	}
	if len(lp) != 1 || lp[0].ID != c1.ID || lp[0].Relation != "observer" {
		t.Fatalf("observer list: %+v", lp)
	}

	rec := staff(policy.RoleRecords, "Rita")
	lr, err := e.svc.List(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(lr) != 2 {
		t.Fatalf("records list has %d cases, want 2", len(lr))
	}
	// Newest first.
	if lr[0].ID != c2.ID || lr[1].ID != c1.ID {
		t.Fatalf("records list order: %s, %s", lr[0].ID, lr[1].ID)
	}
	b, err := json.Marshal(lr)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range lr {
		if row.Title != "" || row.Relation != "records" {
			t.Fatalf("records row: %+v", row)
		}
	}
	if strings.Contains(string(b), "Canary") || strings.Contains(string(b), `"title"`) {
		t.Fatalf("records list leaks titles: %s", b)
	}

	for _, nobody := range []account.Account{staff(policy.RoleAdmin, "Ada"), staff(policy.RoleMediator, "Nemo"), staff(policy.RoleParticipant, "Stranger")} {
		l, err := e.svc.List(ctx, nobody)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 0 {
			t.Fatalf("%s (%s) lists %d cases", nobody.Name, nobody.Role, len(l))
		}
	}
	// Listing is not an attempt to reach a case: nothing was audited.
	if e.log.Size() != n {
		t.Fatalf("List appended %d audit entries", e.log.Size()-n)
	}
}

func TestMutationsAuditedWithoutContent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "Case-Title-Canary-77")
	const (
		objective  = "Objective-Canary-rent arrears of 1200 settled"
		disclosure = "Disclosure-Canary-my sister works for the landlord"
		note       = "Note-Canary-back to issues"
		reason     = "Reason-Canary-conflict"
	)
	secrets := []string{"Case-Title-Canary-77", objective, disclosure, note, reason, "Canary", "Tenant", "Landlord"}

	steps := []struct {
		typ string
		do  func() error
	}{
		{"case.objective", func() error {
			_, err := e.svc.AddObjective(ctx, m, c.ID, KindObjective, objective)
			return err
		}},
		{"case.disclosure", func() error {
			_, err := e.svc.Disclose(ctx, m, c.ID, disclosure)
			return err
		}},
		{"case.stage", func() error {
			_, err := e.svc.SetStage(ctx, m, c.ID, StageOpening, "")
			return err
		}},
		{"case.stage", func() error {
			_, err := e.svc.SetStage(ctx, m, c.ID, StagePreparation, note)
			return err
		}},
		{"case.invite.created", func() error {
			_, err := e.svc.CreateInvite(ctx, m, c.ID, NewInvite{Role: RoleObserver, Name: "Olly"})
			return err
		}},
		{"case.recusal", func() error {
			_, err := e.svc.Recuse(ctx, m, c.ID, "", reason)
			return err
		}},
	}
	for _, st := range steps {
		n := e.log.Size()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.typ, err)
		}
		if got := e.log.Size(); got != n+1 {
			t.Fatalf("%s: audit log grew by %d, want 1", st.typ, got-n)
		}
		ev := e.lastEntry(t)
		if ev.Type != st.typ || ev.Actor != m.ID || ev.Case != c.ID {
			t.Fatalf("%s: audited as %+v", st.typ, ev)
		}
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("%s: audit entry %s contains %q", st.typ, b, s)
			}
		}
		if (st.typ == "case.objective" || st.typ == "case.disclosure" || st.typ == "case.recusal") && len(ev.Hashes) != 1 {
			t.Fatalf("%s: entry carries no commitment to its text: %+v", st.typ, ev)
		}
	}

	// The content itself is in the case, and in the clear nowhere on disk.
	err := filepath.WalkDir(e.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains %q in the clear", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A refused mutation audits the refusal, and only that.
	n := e.log.Size()
	_, err = e.svc.AddObjective(ctx, m, c.ID, KindObjective, objective) // m has recused
	e.wantDenied(t, n, err, m, c.ID, policy.CaseUpdate)
	// A mutation of a case that does not exist is audited as the refusal
	// it looks like (so it costs what refusing another case's does).
	_, err = e.svc.SetStage(ctx, staff(policy.RoleMediator, "x"), "c_aaaaaaaaaaaaaaaaaaaaaaaaaa", StageOpening, "")
	wantIs(t, err, fault.ErrNotFound)
	if e.log.Size() != n+2 {
		t.Fatalf("a failed lookup made %d audit entries, want 1", e.log.Size()-n-1)
	}
}
