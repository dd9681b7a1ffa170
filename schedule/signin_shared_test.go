package schedule

import (
	"testing"
	"time"

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
	if _, err := e.svc.MailSignInShared(ctx, e.c.ID, to, time.Now()); err != nil {
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
