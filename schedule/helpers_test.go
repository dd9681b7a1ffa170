package schedule

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
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
	return newEnvOver(t, mp, store, key)
}

// newEnvOver is newEnv over store, its records sealed under recordsKey.
func newEnvOver(t *testing.T, mp *mailpit.Client, store objstore.Store, recordsKey []byte) *env {
	t.Helper()
	seed := sha256.Sum256([]byte("parley schedule test audit key"))
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	log, err := audit.Open(t.Context(), store, signer)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{log: log, clock: &clock{t: time.Now().UTC().Truncate(time.Minute)}}
	meta := e.open(t, mp, store, recordsKey)
	e.mediator = account.Account{ID: ids.New("u"), Name: "Morgan Reyes", Role: policy.RoleMediator}
	// Stored (without a password, to keep argon2 out): the invites below
	// work only while their maker's account is there and may still invite.
	if _, err := meta.Create(t.Context(), "accounts/"+e.mediator.ID, e.mediator); err != nil {
		t.Fatal(err)
	}
	e.c, err = e.cases.Create(t.Context(), e.mediator, cases.NewCase{Title: "Deposit dispute at 12 Elm Street", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = e.join(t, cases.RoleParty, "A", "Alex Tenant", "alex@example.test")
	e.landlord = e.join(t, cases.RoleParty, "B", "Blair Landlord", "blair@example.test")
	return e
}

// open (re)makes e's services over store with its records sealed under
// recordsKey, as a node starting on it would, and returns their metastore:
// newEnvOver's first start, or a restart over the same store and clock.
func (e *env) open(t *testing.T, mp *mailpit.Client, store objstore.Store, recordsKey []byte) *metastore.Store {
	t.Helper()
	meta, err := metastore.New(store, recordsKey)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	e.accounts = account.NewService(meta, ratelimit.NewMemory())
	e.cases = cases.NewService(meta, e.accounts, pol, e.log)
	oc := mail.Config{Meta: meta, Now: e.clock.Now, Current: func(ctx context.Context, m *mail.Message) (bool, error) { return e.svc.Current(ctx, m) }}
	if mp != nil {
		tr, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://" + mp.SMTP + "?starttls=off", From: "sessions@program.test"})
		if err != nil {
			t.Fatal(err)
		}
		oc.Transport = tr
	}
	e.outbox = mail.New(oc)
	e.svc = New(Config{Meta: meta, Cases: e.cases, Accounts: e.accounts, Policy: pol, Audit: e.log, Outbox: e.outbox,
		From: "sessions@program.test", JoinURL: joinURL, Now: e.clock.Now})
	e.cases.OnClosed = e.svc.CaseClosed // as server.Node wires it
	return meta
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

// uidsOf sends what the outbox holds and returns the UID in the invitation
// (or update, or cancellation) of sequence seq of session s that each of
// its two recipients was sent, by account; it fails unless there are two.
func (e *env) uidsOf(t *testing.T, s *Session, seq int) map[string]string {
	t.Helper()
	if _, err := e.outbox.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(t.Context(), e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range msgs {
		if m.Ref != s.ID || !strings.HasPrefix(m.ID, mailID("inv", s.ID, fmt.Sprint(seq))+"-") || m.Attachment == nil {
			continue
		}
		for _, line := range strings.Split(string(m.Attachment.Data), "\n") {
			if uid, ok := strings.CutPrefix(strings.TrimSuffix(line, "\r"), "UID:"); ok {
				out[m.ToAccount] = uid
			}
		}
	}
	if len(out) != 2 {
		t.Fatalf("%d invitations with a UID for sequence %d, want 2", len(out), seq)
	}
	return out
}
