package mail

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func dirMeta(t *testing.T) *metastore.Store {
	t.Helper()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newMeta(t, store, randomKey(t))
}

func randomKey(t testing.TB) []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func newMeta(t testing.TB, store objstore.Store, key []byte) *metastore.Store {
	t.Helper()
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

func mailpitTransport(t testing.TB, mp *mailpit.Client) *SMTP {
	t.Helper()
	tr, err := NewSMTP(SMTPConfig{URL: "smtp://" + mp.SMTP + "?starttls=off", From: "sessions@parley.test", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// deadPort is a loopback port with nothing listening.
func deadPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// prefix is a fresh Message-ID prefix for one test.
func prefix(t testing.TB) string {
	b := make([]byte, 5)
	rand.Read(b)
	return fmt.Sprintf("t%x", b)
}

func testMessage(pfx string, i int) Message {
	return Message{
		ID: fmt.Sprintf("%s-%04d", pfx, i), CaseID: "c-test", Kind: KindInvitation,
		To: fmt.Sprintf("party%d@example.test", i), Subject: "Mediation session on 9 June 2026, 10:00",
		Text: "Join: https://parley.test/app",
	}
}

// sentIDs maps the Message-ID local part of each of o's messages of case
// caseID to its outbox id, for mailpit.Client.Outbox.
func sentIDs(o *Outbox, caseID string) func() (map[string]string, error) {
	return func() (map[string]string, error) {
		msgs, err := o.List(context.Background(), caseID)
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
