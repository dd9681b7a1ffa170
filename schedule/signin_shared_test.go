package schedule

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/mail"
)

// TestSignInSharedNotInCaseMail: the word to a shared address that no
// link was made is filed with the case only for its disposal: the case's
// mail list, which its mediators read (kind, subject, recipient), does
// not show it, so a mediator does not learn who asked to sign in. It is
// queued under the case's sign-in outbox name (mail.SignInOutbox).
func TestSignInSharedNotInCaseMail(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	const to = "family@example.test"
	if _, err := e.svc.MailSignInShared(ctx, e.c.ID, to); err != nil {
		t.Fatal(err)
	}
	listed, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range listed {
		if m.Kind == mail.KindSignIn || m.To == to {
			t.Fatalf("the case's mail list shows %s to %s (%q)", m.Kind, m.To, m.Subject)
		}
	}
	held, err := e.outbox.List(ctx, mail.SignInOutbox(e.c.ID))
	if err != nil || len(held) != 1 || held[0].To != to || held[0].Kind != mail.KindSignIn {
		t.Fatalf("sign-in outbox: %+v, %v; want the one message to %s", held, err, to)
	}
}

// TestSignInSharedIDNamesNoAddress: the word to a shared address is
// queued under a random id, not one derived from the address and the
// time it was asked (an unkeyed hash in the object's key, which a bucket
// reader could confirm an address against by trying the times around the
// object's date): two requests from the same address are two messages
// with unrelated ids. (Before, two asked at the same instant were one.)
func TestSignInSharedIDNamesNoAddress(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	const to = "family@example.test"
	for range 2 {
		if _, err := e.svc.MailSignInShared(ctx, e.c.ID, to); err != nil {
			t.Fatal(err)
		}
	}
	held, err := e.outbox.List(ctx, mail.SignInOutbox(e.c.ID))
	if err != nil || len(held) != 2 {
		t.Fatalf("sign-in outbox: %d messages, %v; want two", len(held), err)
	}
	prefix := mailID("signin-shared", e.c.ID) + "-"
	for _, m := range held {
		r, ok := strings.CutPrefix(m.ID, prefix)
		if b, err := hex.DecodeString(r); !ok || err != nil || len(b) != 16 || strings.Contains(m.ID, to) {
			t.Fatalf("message id %q: want %s and 128 random bits in hex", m.ID, prefix)
		}
	}
	if held[0].ID == held[1].ID {
		t.Fatalf("both requests have id %s", held[0].ID)
	}
}
