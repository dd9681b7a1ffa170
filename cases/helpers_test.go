package cases

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// Accounts the tests store with a password (e.stored, the co-mediators of
// the outbox and service tests) hash it at the test cost, as
// internal/nodetest's do: at the production cost each hash took about
// half a second of CPU under the race detector, and these tests check
// lineage and proposals, not the hash.
func init() { hashcost.UseTestCost() }

// env is a case service over a fresh local store, with everything real.
type env struct {
	svc      *Service
	accounts *account.Service
	meta     *metastore.Store
	log      *audit.Log
	root     string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv over the store wrap makes of the local one (nil:
// the local one itself), for tests that make the store fail.
func newEnvWith(t testing.TB, wrap func(objstore.Store) objstore.Store) *env {
	t.Helper()
	root := t.TempDir()
	var store objstore.Store
	store, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		store = wrap(store)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley cases test audit key"))
	signer, err := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(t.Context(), store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	accts := account.NewService(meta, ratelimit.NewMemory())
	e := &env{svc: NewService(meta, accts, pol, log), accounts: accts, meta: meta, log: log, root: root}
	// A new program's index of seats by address is complete from the
	// start, as an embedded node's sign-in link worker or, in scale mode,
	// `parley admin seat-index` makes it (BackfillSeatIndex over an empty
	// store): requests read the index (withoutSeatIndex: every record).
	if err := e.svc.BackfillSeatIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	return e
}

// withoutSeatIndex takes away the marker that the index of seats by
// address is complete: IssueSignInLink reads every record again, as
// before the index existed (the entries stay).
func (e *env) withoutSeatIndex(t testing.TB) {
	t.Helper()
	if err := e.meta.Delete(t.Context(), seatIndexCompleteKey); err != nil {
		t.Fatal(err)
	}
}

// staff returns an account of the given role without storing it: the case
// service takes the acting account as given (authentication happened
// upstream), so tests need not pay for argon2 hashing. The operator made
// it (its provenance known, as a mediator who adds a co-mediator needs).
func staff(role policy.Role, name string) account.Account {
	return account.Account{ID: ids.New("u"), Name: name, Role: role, Origin: account.OriginOperator}
}

// newCase opens a case. Its mediator's account is stored if it was not
// (see storeStaff).
func (e *env) newCase(t testing.TB, mediator account.Account, title string) *Case {
	t.Helper()
	e.storeStaff(t, mediator)
	c, err := e.svc.Create(t.Context(), mediator, NewCase{Title: title, Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storeStaff stores an account made by staff, as it is, unless it is
// stored already. Invites and re-entry links work only while their maker's
// account is there and may still make them (mayStillMake); staff accounts
// are made without a password to keep argon2 out of the tests, so they are
// written straight to the key account.Service reads (which Get checks).
func (e *env) storeStaff(t testing.TB, a account.Account) {
	t.Helper()
	if _, err := e.meta.Create(t.Context(), "accounts/"+a.ID, a); err != nil && !errors.Is(err, metastore.ErrExists) {
		t.Fatal(err)
	}
	if got, err := e.accounts.Get(t.Context(), a.ID); err != nil || got.ID != a.ID {
		t.Fatalf("staff account %s not stored: %+v, %v", a.ID, got, err)
	}
}

func (e *env) invite(t testing.TB, actor account.Account, caseID string, n NewInvite) IssuedInvite {
	t.Helper()
	inv, err := e.svc.CreateInvite(t.Context(), actor, caseID, n)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// join invites someone in the role and redeems the invite.
func (e *env) join(t *testing.T, mediator account.Account, caseID string, role ParticipantRole, side, name string) account.Account {
	t.Helper()
	inv := e.invite(t, mediator, caseID, NewInvite{Role: role, Side: side, Name: name})
	j, err := e.svc.Join(t.Context(), inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	return j.Account
}

// lastEntry returns the newest audit entry.
func (e *env) lastEntry(t *testing.T) audit.Event {
	t.Helper()
	n := e.log.Size()
	if n == 0 {
		t.Fatal("audit log is empty")
	}
	ev, err := e.log.Entry(t.Context(), n-1)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	ie, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("err = %v, want *fault.InvalidError for %q", err, field)
	}
	if ie.Field != field {
		t.Fatalf("InvalidError field = %q (%v), want %q", ie.Field, err, field)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// seatedIn is the key directory's answer for the cases tests, which run
// without one (MembershipReader): every case has a signed membership
// statement, and it seats these mediators.
type seatedIn []string

func (m seatedIn) SeatedMediators(context.Context, string) ([]string, bool, error) {
	return m, true, nil
}
