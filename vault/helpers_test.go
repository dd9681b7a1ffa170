package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// onEachStore runs f on a local directory store and on S3 (the test
// MinIO): every vault test that touches storage runs on both.
var onEachStore = testenv.OnEachStore

// env is a vault over a store with every collaborator real.
type env struct {
	store    objstore.Store
	meta     *metastore.Store
	log      *audit.Log
	accounts *account.Service
	cases    *cases.Service
	vault    *Service
	mk       *kms.MasterKey
	policy   *policy.Engine
	devices  *ownDevices
}

// newDirEnv is newEnv on a fresh local-directory store (for what needs no
// MinIO; onEachStore runs a test on both).
func newDirEnv(t testing.TB) *env {
	t.Helper()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, store)
}

func newEnv(t testing.TB, store objstore.Store) *env {
	t.Helper()
	ctx := t.Context()
	mk, err := kms.LoadMasterKey(filepath.Join(t.TempDir(), "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	recordsKey, err := kms.LoadOrCreateKey(ctx, store, mk, "keys/records", "parley/records-key/v1")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metastore.New(store, recordsKey)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley vault test audit key"))
	signer, err := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	accts := account.NewService(meta, ratelimit.NewMemory())
	cs := cases.NewService(meta, accts, pol, log)
	devs := &ownDevices{keys: map[string]*e2ee.DeviceKeys{}}
	cs.Devices = devs
	v, err := New(Config{Meta: meta, Cases: cs, MasterKey: mk, Policy: pol, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: store, meta: meta, log: log, accounts: accts, cases: cs, vault: v, mk: mk, policy: pol, devices: devs}
}

// cast is one case with one person in every relation to it.
type cast struct {
	caseID string
	c      *cases.Case
	// by role name, as in the matrix
	who map[string]account.Account
}

var roles = []string{"admin", "records", "mediator", "recused", "partyA", "counselA", "partyB", "counselB", "observer", "outsider"}

// staffAccount is an account the operator made (its provenance known,
// as a mediator who adds a co-mediator needs).
func staffAccount(role policy.Role, name string) account.Account {
	return account.Account{ID: ids.New("u"), Name: name, Role: role, Origin: account.OriginOperator}
}

// newCast opens a case with sides A and B: mediator, a second mediator who
// recuses, party and counsel on each side, an observer; plus an admin,
// records staff and an outsider who take no part.
func (e *env) newCast(t testing.TB) *cast {
	t.Helper()
	ctx := t.Context()
	med := staffAccount(policy.RoleMediator, "Mina Mediator")
	// Stored (without a password, to keep argon2 out): the invites below
	// work only while their maker's account is there and may still invite.
	if _, err := e.meta.Create(ctx, "accounts/"+med.ID, med); err != nil {
		t.Fatal(err)
	}
	c, err := e.cases.Create(ctx, med, cases.NewCase{Title: "Okafor v. Lind", Type: "workplace", SideLabels: []string{"Employee", "Employer"}})
	if err != nil {
		t.Fatal(err)
	}
	co, err := e.accounts.Create(ctx, account.NewAccount{Email: ids.New("m") + "@example.org", Name: "Cora Comediator", Role: policy.RoleMediator, Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	k := &cast{caseID: c.ID, who: map[string]account.Account{
		"admin": staffAccount(policy.RoleAdmin, "Ada Admin"), "records": staffAccount(policy.RoleRecords, "Rita Records"),
		"mediator": med, "recused": co, "outsider": staffAccount(policy.RoleParticipant, "Otto Outsider"),
	}}
	join := func(name string, role cases.ParticipantRole, side, person string) {
		inv, err := e.cases.CreateInvite(ctx, med, c.ID, cases.NewInvite{Role: role, Side: side, Name: person})
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.cases.Join(ctx, inv.Token)
		if err != nil {
			t.Fatal(err)
		}
		k.who[name] = j.Account
	}
	join("partyA", cases.RoleParty, "A", "Ola Okafor")
	join("counselA", cases.RoleCounsel, "A", "Cal Counsel")
	join("partyB", cases.RoleParty, "B", "Lena Lind")
	join("counselB", cases.RoleCounsel, "B", "Bo Barrister")
	join("observer", cases.RoleObserver, "", "Obi Observer")
	// The co-mediator joins once the people are in: a case with two
	// mediators and no signed membership yet takes no invitation from
	// either (cases.ErrNotOpenYet).
	if _, err := e.cases.AddMediator(ctx, med, c.ID, co.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.Recuse(ctx, co, c.ID, co.ID, "conflict of interest"); err != nil {
		t.Fatal(err)
	}
	if k.c, err = e.cases.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *cast) audience(t testing.TB, name string) Audience {
	t.Helper()
	if name == "user:partyA" {
		name = "user:" + k.who["partyA"].ID
	}
	a, err := ParseAudience(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (e *env) upload(t testing.TB, actor account.Account, caseID, name string, aud Audience, class Class, content []byte) Document {
	t.Helper()
	d, err := e.vault.Upload(t.Context(), actor, caseID, NewDocument{Name: name, MediaType: "application/pdf", Audience: aud, Class: class}, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return d
}

// download reads a whole version and returns its bytes and the error
// (from opening or from reading).
func (e *env) download(t *testing.T, actor account.Account, caseID, docID string, version int) ([]byte, error) {
	t.Helper()
	dl, err := e.vault.Open(t.Context(), actor, caseID, docID, version, nil)
	if err != nil {
		return nil, err
	}
	defer dl.Body.Close()
	return io.ReadAll(dl.Body)
}

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

// entries returns the audit entries from index from on.
func (e *env) entries(t *testing.T, from int64) []audit.Event {
	t.Helper()
	var out []audit.Event
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func wantIntegrity(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("%s: err = %v, want ErrIntegrity", what, err)
	}
}

func isRefusal(err error) bool {
	return errors.Is(err, fault.ErrForbidden) || errors.Is(err, fault.ErrNotFound)
}
