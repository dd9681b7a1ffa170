package retention

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
	"github.com/parley-mediation/parley/vault"
)

// onEachStore runs f on a local directory store and on S3 (the test
// MinIO): the same code, both stores, as parallel subtests "dir" and
// "s3". Every test of this package runs in parallel with the others (up
// to go test's -parallel at a time): each has stores of its own (a
// temporary directory, a fresh bucket), its own env and clock, and the
// package has no state that tests share, so none sees another's objects.
// Most of a test's time is spent waiting on its store (a MinIO request,
// a file synced), which another test's work fills.
func onEachStore(t *testing.T, f func(t *testing.T, store objstore.Store)) {
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		t.Parallel()
		f(t, store)
	})
}

// env is retention over a store with every collaborator real.
type env struct {
	store    objstore.Store
	meta     *metastore.Store
	log      *audit.Log
	signer   *audit.Signer
	cases    *cases.Service
	accounts *account.Service
	vault    *vault.Service
	ret      *Service
	mk       *kms.MasterKey
	msgs     *messaging.Log
	// The staff accounts are in the account store, made by the operator
	// (no creator): independent of one another (retention.cedar).
	mediator account.Account
	records  account.Account // plans
	records2 account.Account // approves
	admin    account.Account
	party    account.Account
	// clock is what retention takes for now: tests move it past the
	// schedule's periods.
	clock time.Time
}

// Accounts made here hash their passwords at the test cost, as
// internal/nodetest's do.
func init() { hashcost.UseTestCost() }

// staff is an account that is in no store, of known provenance (as the
// operator makes them): it may approve, but whatever it plans or proposes
// cannot be approved (its account cannot be read).
func staff(role policy.Role) account.Account {
	return account.Account{ID: ids.New("u"), Name: string(role), Role: role, Origin: account.OriginOperator}
}

// newStaff makes a staff account in the account store: by the operator's
// command line when creator is nil, else by creator through the API (so
// creator and its lineage are the new account's lineage).
func (e *env) newStaff(t testing.TB, role policy.Role, creator *account.Account) account.Account {
	t.Helper()
	pw := "a long test password"
	if creator != nil && account.FirstPasswordApproved(role) {
		pw = "" // its first password waits for a second administrator
	}
	a, err := e.accounts.Create(t.Context(), account.NewAccount{Email: ids.New("e") + "@example.org",
		Name: string(role), Role: role, Password: pw, Creator: creator})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newEnv(t testing.TB, store objstore.Store) *env {
	t.Helper()
	mk, err := kms.LoadMasterKey(filepath.Join(t.TempDir(), "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, store, mk)
	e.clock = time.Now().UTC()
	e.mediator = e.newStaff(t, policy.RoleMediator, nil)
	e.records = e.newStaff(t, policy.RoleRecords, nil)
	e.records2 = e.newStaff(t, policy.RoleRecords, nil)
	e.admin = e.newStaff(t, policy.RoleAdmin, nil)
	// (The staff are stored: the invites the mediator makes work only
	// while their account is there and may still invite.)
	return e
}

// openEnv is retention over store with every collaborator real, opened
// with master key mk as a server starting on the store would: it makes
// nothing. The staff accounts and the clock are the caller's to set.
func openEnv(t testing.TB, store objstore.Store, mk *kms.MasterKey) *env {
	t.Helper()
	ctx := t.Context()
	recordsKey, err := kms.LoadOrCreateKey(ctx, store, mk, kms.RecordsKeyObject, kms.RecordsKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metastore.New(store, recordsKey)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley retention test audit key"))
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
	v, err := vault.New(vault.Config{Meta: meta, Cases: cs, MasterKey: mk, Policy: pol, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Meta: meta, Cases: cs, Accounts: accts, Vault: v, Policy: pol, Audit: log, Signer: signer, PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, meta: meta, log: log, signer: signer, cases: cs, accounts: accts, vault: v, ret: r, mk: mk,
		msgs: messaging.NewLog(store)}
	r.now = func() time.Time { return e.clock }
	return e
}

// worldTemplate is a world built once on each store, for tests that each
// start from the same world and change it (the crash tests, one per step
// boundary). Each such test gets a copy of the template's store, opened by
// a fresh env (openEnv: as a server restarted on that store would find
// it) with the template's master key, staff and clock: copying takes a
// fraction of the time that building the world through the services did,
// which was most of each test. On the directory store the copy is of the
// template's directory; on S3 of the template's bucket, by its directory
// in the test MinIO's data directory (testenv.CopyBucket: no S3 request
// copies a version with its id, and the records name them). Where that
// directory is not known (testenv.BucketsCopyable), each S3 test builds
// its own world in a bucket of its own, as they all did before.
type worldTemplate[W any] struct {
	root  string // the template directory store's: never changed once built
	e     *env
	world W
	// On S3 (s3e nil: no S3 template), the same on a bucket never
	// changed once built.
	s3    objstore.S3Config
	s3e   *env
	s3w   W
	build func(e *env, t *testing.T) W
}

// newWorldTemplate builds a world with build on a new env over a new
// directory store, and over a new bucket of the test MinIO when it can be
// copied, each kept until t ends.
func newWorldTemplate[W any](t *testing.T, build func(e *env, t *testing.T) W) *worldTemplate[W] {
	t.Helper()
	root := t.TempDir()
	store, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	tmpl := &worldTemplate[W]{root: root, e: e, world: build(e, t), build: build}
	if testenv.BucketsCopyable() {
		tmpl.s3 = testenv.S3(t)
		s3, err := objstore.OpenS3(t.Context(), tmpl.s3)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.s3e = newEnv(t, s3)
		tmpl.s3w = build(tmpl.s3e, t)
	}
	return tmpl
}

// open returns a new env over a copy of the template's directory store,
// and the template's world (read-only: its ids and documents).
func (d *worldTemplate[W]) open(t *testing.T) (*env, W) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "store")
	if err := os.CopyFS(root, os.DirFS(d.root)); err != nil {
		t.Fatal(err)
	}
	store, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d.e.reopen(t, store), d.world
}

// openS3 is open on S3: a new env over a copy of the template's bucket,
// or, with no S3 template, over a new bucket where the world is built
// anew.
func (d *worldTemplate[W]) openS3(t *testing.T) (*env, W) {
	t.Helper()
	if d.s3e == nil {
		store, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, store)
		return e, d.build(e, t)
	}
	_, store := testenv.CopyBucket(t, d.s3)
	return d.s3e.reopen(t, store), d.s3w
}

// reopen is a new env over store, a copy of e's, with e's master key,
// staff and clock.
func (e *env) reopen(t *testing.T, store objstore.Store) *env {
	t.Helper()
	n := openEnv(t, store, e.mk)
	n.clock = e.clock
	n.mediator, n.records, n.records2, n.admin, n.party = e.mediator, e.records, e.records2, e.admin, e.party
	return n
}

// onEachStoreFrom is onEachStore for a test that starts from tmpl's world,
// on each store from a copy of the template's store; on S3 only when onS3
// (s3CrashSteps: the subtest is skipped otherwise).
func onEachStoreFrom[W any](t *testing.T, tmpl *worldTemplate[W], onS3 bool, f func(t *testing.T, e *env, w W)) {
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		e, w := tmpl.open(t)
		f(t, e, w)
	})
	t.Run("s3", func(t *testing.T) {
		skipS3(t, onS3)
		t.Parallel()
		e, w := tmpl.openS3(t)
		f(t, e, w)
	})
}

// The crash tests stop an apply at every step boundary of one disposal
// and rerun it. Every step runs on the directory store in every run; on
// S3, where a step took ten times as long (a scenario's copied bucket and
// some hundred MinIO requests), `make test` runs a few steps of each test
// drawn at random, and `make soak` every one. The draw is seeded: the
// seed is logged by each crash test (shown when it fails, or with -v),
// and PARLEY_RETENTION_CRASH_SEED=N draws the same steps again;
// PARLEY_RETENTION_CRASH_STEPS=all runs every step on S3 too.
var crashDraw = sync.OnceValues(func() (all bool, seed uint64) {
	if s := os.Getenv("PARLEY_RETENTION_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			panic("PARLEY_RETENTION_CRASH_SEED: " + err.Error())
		}
		seed = n
	} else {
		seed = rand.Uint64N(1_000_000)
	}
	return os.Getenv("PARLEY_RETENTION_CRASH_STEPS") == "all", seed
})

// s3CrashSteps returns which of steps the crash test t runs on S3 in this
// run: n of them drawn with the run's seed (each test draws its own,
// from the seed and its name), or every one when
// PARLEY_RETENTION_CRASH_STEPS=all. It logs the draw and how to repeat it.
func s3CrashSteps(t *testing.T, steps []string, n int) map[string]bool {
	t.Helper()
	all, seed := crashDraw()
	on := map[string]bool{}
	if all || n >= len(steps) {
		for _, s := range steps {
			on[s] = true
		}
		t.Logf("every step on both stores (PARLEY_RETENTION_CRASH_STEPS=all)")
		return on
	}
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	var drawn []string
	for _, i := range r.Perm(len(steps))[:n] {
		on[steps[i]] = true
		drawn = append(drawn, steps[i])
	}
	t.Logf("every step on the directory store; on S3 %q, drawn with PARLEY_RETENTION_CRASH_SEED=%d "+
		"(set it to draw them again; PARLEY_RETENTION_CRASH_STEPS=all, as make soak sets, runs every step on S3)", drawn, seed)
	return on
}

// onEachStoreIf is onEachStore whose S3 subtest runs only when onS3 is
// true (s3CrashSteps), and is skipped, saying so, otherwise.
func onEachStoreIf(t *testing.T, onS3 bool, f func(t *testing.T, store objstore.Store)) {
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		store, err := objstore.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		f(t, store)
	})
	t.Run("s3", func(t *testing.T) {
		skipS3(t, onS3)
		t.Parallel()
		store, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		f(t, store)
	})
}

// skipS3 skips the S3 subtest of a crash step not drawn for S3 this run.
func skipS3(t *testing.T, onS3 bool) {
	t.Helper()
	if !onS3 {
		_, seed := crashDraw()
		t.Skipf("this step runs on S3 in other draws (PARLEY_RETENTION_CRASH_SEED=%d now; make soak runs them all)", seed)
	}
}

// testCase is a case with documents and message history.
type testCase struct {
	id    string
	party string                    // the participant account the invite made
	email string                    // the party's contact email (confirmed, so indexed for the sign-in link)
	docs  map[string]vault.Document // by a test name
}

// newCase opens a case, invites a party, uploads the given documents
// (name → class; "+v2" in a name adds a second version) and posts to two
// rooms.
func (e *env) newCase(t testing.TB, docs map[string]vault.Class) *testCase {
	t.Helper()
	return e.newCases(t, docs)[0]
}

// newCases is newCase for several cases, made concurrently (as several
// mediators' would be) up to their documents; then each case's messages
// are posted, one case after another, by a node of its own. e.party is
// the last case's party.
func (e *env) newCases(t testing.TB, docs ...map[string]vault.Class) []*testCase {
	t.Helper()
	out := make([]*testCase, len(docs))
	parties := make([]account.Account, len(docs))
	errs := make([]error, len(docs))
	var wg sync.WaitGroup
	for i := range docs {
		wg.Go(func() { out[i], parties[i], errs[i] = e.openCase(t.Context(), docs[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, tc := range out {
		e.party = parties[i]
		// Messages as a node writes them; closing it compacts them into
		// the rooms' segments, the case's message history that retention
		// disposes.
		node := messaging.NewService(e.msgs, messaging.NewMemory(), messaging.Options{})
		for _, room := range []string{"joint", "caucus-A"} {
			for i := range 3 {
				if _, err := node.Publish(t.Context(), tc.id+"/"+room, messaging.Message{ID: fmt.Sprint(i), From: tc.party, Body: []byte("sealed")}); err != nil {
					node.Close()
					t.Fatal(err)
				}
			}
		}
		node.Close()
	}
	return out
}

// openCase opens a case, invites a party, who joins, and uploads docs
// (as newCase); it returns the case and the party's account.
func (e *env) openCase(ctx context.Context, docs map[string]vault.Class) (*testCase, account.Account, error) {
	c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: "Okafor v. Lind", Type: "workplace", SideLabels: []string{"Employee", "Employer"}})
	if err != nil {
		return nil, account.Account{}, err
	}
	// One address per case: each party's email index entry is its own.
	email := "ola." + strings.ToLower(strings.TrimPrefix(c.ID, "c_")) + "@example.org"
	inv, err := e.cases.CreateInvite(ctx, e.mediator, c.ID, cases.NewInvite{Role: cases.RoleParty, Side: "A", Name: "Ola Okafor", Email: email})
	if err != nil {
		return nil, account.Account{}, err
	}
	j, err := e.cases.Join(ctx, inv.Token)
	if err != nil {
		return nil, account.Account{}, err
	}
	// The party confirms the address, as in the app, so it is indexed
	// for emailed sign-in links.
	if _, err := e.accounts.ConfirmParticipantEmail(ctx, j.Account.ID, email); err != nil {
		return nil, account.Account{}, err
	}
	tc := &testCase{id: c.ID, party: j.Account.ID, email: email, docs: map[string]vault.Document{}}
	for name, class := range docs {
		aud := vault.Audience{Kind: policy.AudienceJoint}
		if class == vault.ClassMediatorNotes {
			aud = vault.Audience{Kind: policy.AudienceMediators}
		}
		base, two := strings.CutSuffix(name, "+v2")
		d, err := e.vault.Upload(ctx, e.mediator, c.ID, vault.NewDocument{Name: base + ".pdf", MediaType: "application/pdf", Audience: aud, Class: class}, bytes.NewReader(content(base)))
		if err != nil {
			return nil, account.Account{}, fmt.Errorf("uploading %s: %w", base, err)
		}
		if two {
			if d, err = e.vault.AddVersion(ctx, e.mediator, c.ID, d.ID, vault.NewVersion{}, bytes.NewReader(content(base+" v2"))); err != nil {
				return nil, account.Account{}, fmt.Errorf("adding a version of %s: %w", base, err)
			}
		}
		tc.docs[base] = d
	}
	return tc, j.Account, nil
}

func content(name string) []byte { return []byte("CANARY confidential content of " + name) }

func (e *env) close(t testing.TB, tc *testCase) {
	t.Helper()
	if _, err := e.cases.SetStage(t.Context(), e.mediator, tc.id, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// objectsOf lists every stored object version of a case's records:
// ciphertext, vault records, case key, message history.
func (e *env) objectsOf(t testing.TB, caseID string) []string {
	t.Helper()
	var out []string
	for _, prefix := range []string{"docs/" + caseID + "/", "vault/" + caseID + "/", kms.CaseKeyPrefix + caseID, caucus.HistoryPrefix(caseID)} {
		var keys []string
		if err := e.store.List(t.Context(), prefix, func(i objstore.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			vs, err := e.store.Versions(t.Context(), k)
			if err != nil && !errors.Is(err, objstore.ErrNotFound) {
				t.Fatal(err)
			}
			for _, v := range vs {
				out = append(out, k+"@"+v.VersionID)
			}
		}
	}
	return out
}

// emailIndexOf lists every stored version (delete markers too) under the
// participant-email index, read from the store directly: of the entries
// for address, and of any entry naming account id.
func (e *env) emailIndexOf(t testing.TB, address, id string) []string {
	t.Helper()
	prefix := e.accounts.ParticipantEmailPrefix(address)
	var out []string
	if err := e.store.VersionsUnder(t.Context(), account.ParticipantEmailsPrefix, func(v objstore.Version) error {
		if strings.HasPrefix(v.Key, prefix) || account.ParticipantEmailAccount(v.Key) == id {
			out = append(out, v.Key+"@"+v.VersionID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// versionsOf counts the stored versions of one key.
func (e *env) versionsOf(t testing.TB, key string) int {
	t.Helper()
	vs, err := e.store.Versions(t.Context(), key)
	if errors.Is(err, objstore.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

func docObject(caseID, docID string, v int) string {
	return fmt.Sprintf("docs/%s/%s/%d", caseID, docID, v)
}
func versionObject(caseID, docID string, v int) string {
	return fmt.Sprintf("vault/%s/versions/%s/%010d", caseID, docID, v)
}

// wantCommitted checks that the audit log holds each of texts (a reason,
// authority or recipient name someone typed) only as the server-keyed
// commitment cases uses (metastore IndexKey "audit-commit"), never as an
// unkeyed SHA-256 anyone could match against guesses.
func (e *env) wantCommitted(t *testing.T, texts ...string) {
	t.Helper()
	hashes := map[string]bool{}
	for i := range e.log.Size() {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range ev.Hashes {
			hashes[h] = true
		}
	}
	for _, text := range texts {
		sum := sha256.Sum256([]byte(text))
		if hashes["sha256:"+hex.EncodeToString(sum[:])] {
			t.Errorf("the audit log holds the unkeyed SHA-256 of %q", text)
		}
		if !hashes[e.meta.IndexKey("audit-commit", text)] {
			t.Errorf("the audit log does not hold the keyed commitment of %q", text)
		}
	}
}

// approve approves plan id as who, with the digest of the plan's actions
// as they stand now: as a client that has just listed them.
func (e *env) approve(ctx context.Context, who account.Account, id string) (Plan, error) {
	seen := "sha256:none" // a plan not found: Approve says so first
	if p, _, err := e.ret.loadPlan(ctx, id); err == nil {
		seen = p.ActionsDigest()
	}
	return e.ret.Approve(ctx, who, id, seen)
}
