package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestConsentEntriesCommitTheirTexts: the audit entries of terms set,
// accepted and a signed acknowledgement of a disclosure name their text
// only by the server-keyed commitment (as case.disclosure does), never by
// its plain SHA-256, which anyone reading the log could confirm a guessed
// short text against, after the case's disposal too.
func TestConsentEntriesCommitTheirTexts(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	from := n.Audit.Size()
	terms := "No recording. Both sides keep the rent figures to themselves."
	disclosure := "I once rented a flat from the landlord's brother."
	if _, err := tc.med.c.SetTerms(ctx, tc.caseID, terms); err != nil {
		t.Fatal(err)
	}
	accept(t, tc.a, tc.caseID)
	c, err := tc.med.c.CaseAction(ctx, tc.caseID, "disclosures", api.TextRequest{Text: disclosure})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = tc.a.x.Acknowledge(ctx, tc.caseID, c.Disclosures[0].ID); err != nil || c.Disclosures[0].Acks[0].Signed == nil {
		t.Fatalf("signed ack: %+v %v", c, err)
	}

	plain := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	want := map[string]string{ // entry type → the text its hash must commit to
		"case.terms.set":      terms,
		"case.terms.accepted": terms,
		"case.disclosure":     disclosure,
		"case.disclosure.ack": disclosure,
	}
	seen := map[string]bool{}
	for i := from; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{terms, disclosure} {
			sum := strings.TrimPrefix(plain(text), "sha256:")
			for _, h := range ev.Hashes {
				if strings.Contains(h, sum) {
					t.Errorf("%s names the plain SHA-256 of %q: %v", ev.Type, text, ev.Hashes)
				}
			}
			for k, v := range ev.Attrs {
				if strings.Contains(v, sum) {
					t.Errorf("%s attr %s names the plain SHA-256 of %q", ev.Type, k, text)
				}
			}
		}
		text, ok := want[ev.Type]
		if !ok {
			continue
		}
		seen[ev.Type] = true
		if len(ev.Hashes) != 1 || ev.Hashes[0] != n.Meta.IndexKey("audit-commit", text) {
			t.Errorf("%s hashes %v, want the keyed commitment of its text", ev.Type, ev.Hashes)
		}
	}
	for typ := range want {
		if !seen[typ] {
			t.Errorf("no %s entry", typ)
		}
	}
}
