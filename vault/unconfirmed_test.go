package vault

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// seats is the key directory's answer about a case's signed membership
// as a test sets it (cases.MembershipReader): the mediators the latest
// statement seats, and whether there is one.
type seats struct {
	mu        sync.Mutex
	seated    []string
	statement bool
}

func (s *seats) SeatedMediators(context.Context, string) ([]string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seated), s.statement, nil
}

func (s *seats) set(mediators ...string) {
	s.mu.Lock()
	s.seated, s.statement = mediators, true
	s.mu.Unlock()
}

// TestUnconfirmedMediatorOpensNoDocument: a co-mediator on the case record
// whom no seated mediator has confirmed lists no document of the case,
// downloads none (a caucus's, mediator notes), reads no versions and no
// share request; each refusal is audited as access.denied naming the rule
// and says in words, naming no rule, what they wait for. Once a statement
// seats them, all of it works. Before any statement, the case's opener
// (who created it) uploads and downloads as before.
func TestUnconfirmedMediatorOpensNoDocument(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		m := &seats{}
		e.cases.Membership = m
		k := e.newCast(t)
		med := k.who["mediator"]
		// The opener, before any statement, with one co-mediator (recused)
		// and now a second one on the record: she uploads and downloads.
		co := staffAccount(policy.RoleMediator, "Cole Comediator")
		if _, err := e.meta.Create(ctx, "accounts/"+co.ID, co); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cases.AddMediator(ctx, med, k.caseID, co.ID); err != nil {
			t.Fatal(err)
		}
		caucus := e.upload(t, med, k.caseID, "b-caucus.pdf", k.audience(t, "caucus:B"), "evidence", []byte("side B's own"))
		notes := e.upload(t, med, k.caseID, "notes.txt", k.audience(t, "mediators"), policy.ClassMediatorNotes, []byte("mediator notes"))
		if got, err := e.download(t, med, k.caseID, caucus.ID, 1); err != nil || string(got) != "side B's own" {
			t.Fatalf("the opener's download before any statement: %q, %v", got, err)
		}

		refused := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, cases.ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
				t.Fatalf("%s: %v; want the refusal of an unconfirmed co-mediator", what, err)
			}
			if strings.Contains(err.Error(), "unconfirmed-mediators") || !strings.Contains(err.Error(), "documents") {
				t.Fatalf("%s: words %q", what, err)
			}
			ev := e.lastEntry(t)
			if ev.Type != "access.denied" || ev.Actor != co.ID || ev.Case != k.caseID || ev.Attrs["rule"] != cases.RuleUnconfirmedDocuments {
				t.Fatalf("%s audited as %+v", what, ev)
			}
		}
		try := func(stage string) {
			t.Helper()
			_, err := e.vault.List(ctx, co, k.caseID)
			refused(stage+": list", err)
			_, err = e.download(t, co, k.caseID, caucus.ID, 1)
			refused(stage+": caucus download", err)
			_, err = e.download(t, co, k.caseID, notes.ID, 1)
			refused(stage+": notes download", err)
			_, err = e.vault.Get(ctx, co, k.caseID, caucus.ID)
			refused(stage+": metadata and versions", err)
			_, err = e.vault.ShareRequests(ctx, co, k.caseID)
			refused(stage+": share requests", err)
		}
		try("no statement")
		m.set(med.ID)
		e.cases.ForgetSeats(k.caseID)
		try("a statement seating the opener alone")
		// The seated mediator works on.
		if got, err := e.download(t, med, k.caseID, notes.ID, 1); err != nil || string(got) != "mediator notes" {
			t.Fatalf("the seated mediator's download: %q, %v", got, err)
		}

		m.set(med.ID, co.ID)
		e.cases.ForgetSeats(k.caseID)
		docs, err := e.vault.List(ctx, co, k.caseID)
		if err != nil {
			t.Fatalf("the admitted co-mediator's list: %v", err)
		}
		if !slices.ContainsFunc(docs, func(d Document) bool { return d.ID == caucus.ID }) || !slices.ContainsFunc(docs, func(d Document) bool { return d.ID == notes.ID }) {
			t.Fatalf("the admitted co-mediator lists %d documents, not both", len(docs))
		}
		if got, err := e.download(t, co, k.caseID, caucus.ID, 1); err != nil || string(got) != "side B's own" {
			t.Fatalf("the admitted co-mediator's download: %q, %v", got, err)
		}
		if _, err := e.vault.ShareRequests(ctx, co, k.caseID); err != nil {
			t.Fatalf("the admitted co-mediator's share requests: %v", err)
		}
	})
}
