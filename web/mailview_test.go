package web

import (
	"testing"

	"github.com/parley-mediation/parley/mail"
)

// TestMailViewHidesOwnLinks: in development (no mail server) a case's
// mail list shows held bodies to its mediators, but never a sign-in link
// a participant asked for nor a link confirming their address: either
// would let the mediator sign in as them. Other mail keeps its body.
func TestMailViewHidesOwnLinks(t *testing.T) {
	for _, k := range []mail.Kind{mail.KindSignIn, mail.KindEmailConfirm} {
		m := mail.Message{ID: "x", Kind: k, Text: "https://parley.test/join#secret", State: mail.Held}
		if v := mailView(&m, true); v.Text != "" {
			t.Fatalf("%s: body shown: %q", k, v.Text)
		}
	}
	m := mail.Message{ID: "x", Kind: mail.KindJoin, Text: "https://parley.test/join#invite", State: mail.Held}
	if v := mailView(&m, true); v.Text == "" {
		t.Fatal("an invitation's held body is hidden in development")
	}
}
