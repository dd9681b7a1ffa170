package schedule

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// env is a schedule service over a fresh local store with real cases,
// accounts, policy and audit, and an outbox that sends to Mailpit when mp
// is given (else a development outbox).
type env struct {
	svc      *Service
	cases    *cases.Service
	accounts *account.Service
	outbox   *mail.Outbox
	log      *audit.Log
	clock    *clock
	mediator account.Account
	c        *cases.Case
	tenant   account.Account // party, side A, with a mail address
	landlord account.Account // party, side B, with a mail address
}

const joinURL = "https://parley.example.test/app"

func newEnv(t *testing.T, mp *mailpit.Client) *env {
	t.Helper()
	return newEnvWith(t, mp, nil)
}

// newEnvWith is newEnv over the store wrap makes of the local one (nil:
// the local one itself), for tests that step between the store's calls.
func newEnvWith(t *testing.T, mp *mailpit.Client, wrap func(objstore.Store) objstore.Store) *env {
	t.Helper()
	var store objstore.Store
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		store = wrap(store)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley schedule test audit key"))
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	log, err := audit.Open(t.Context(), store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Minute)}
	accts := account.NewService(meta, ratelimit.NewMemory())
	cs := cases.NewService(meta, accts, pol, log)
	e := &env{cases: cs, accounts: accts, log: log, clock: clk}
	oc := mail.Config{Meta: meta, Now: clk.Now, Current: func(ctx context.Context, m *mail.Message) (bool, error) { return e.svc.Current(ctx, m) }}
	if mp != nil {
		tr, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://" + mp.SMTP + "?starttls=off", From: "sessions@program.test"})
		if err != nil {
			t.Fatal(err)
		}
		oc.Transport = tr
	}
	ob := mail.New(oc)
	e.outbox = ob
	e.svc = New(Config{Meta: meta, Cases: cs, Accounts: accts, Policy: pol, Audit: log, Outbox: ob,
		From: "sessions@program.test", JoinURL: joinURL, Now: clk.Now})
	e.mediator = account.Account{ID: ids.New("u"), Name: "Morgan Reyes", Role: policy.RoleMediator}
	// Stored (without a password, to keep argon2 out): the invites below
	// work only while their maker's account is there and may still invite.
	if _, err := meta.Create(t.Context(), "accounts/"+e.mediator.ID, e.mediator); err != nil {
		t.Fatal(err)
	}
	e.c, err = cs.Create(t.Context(), e.mediator, cases.NewCase{Title: "Deposit dispute at 12 Elm Street", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = e.join(t, cases.RoleParty, "A", "Alex Tenant", "alex@example.test")
	e.landlord = e.join(t, cases.RoleParty, "B", "Blair Landlord", "blair@example.test")
	return e
}

func (e *env) join(t *testing.T, role cases.ParticipantRole, side, name, email string) account.Account {
	t.Helper()
	inv, err := e.cases.CreateInvite(t.Context(), e.mediator, e.c.ID, cases.NewInvite{Role: role, Side: side, Name: name, Email: email})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.cases.Join(t.Context(), inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	return j.Account
}

// local formats a time as Add's start, in zone.
func local(t time.Time, zone string) string {
	loc, _ := time.LoadLocation(zone)
	return t.In(loc).Format(LocalLayout)
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	ie, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("err = %v, want a field error for %q", err, field)
	}
	if ie.Field != field {
		t.Fatalf("field %q (%v), want %q", ie.Field, err, field)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// sentIDs maps the Message-ID local part of each message of the case's
// outbox to its outbox id, for mailpit.Client.Outbox.
func (e *env) sentIDs() func() (map[string]string, error) {
	return func() (map[string]string, error) {
		msgs, err := e.outbox.List(context.Background(), e.c.ID)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, m := range msgs {
			out[m.MessageID] = m.ID
		}
		return out, nil
	}
}
