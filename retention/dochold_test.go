package retention

import (
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/vault"
)

// TestDocumentHoldIsALegalHold: a document hold needs a reason and an
// authority, is listed with the holds (as `parley hold ls` shows them),
// holds the document, and is released with a reason.
func TestDocumentHoldIsALegalHold(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		doc := tc.docs["exhibit"].ID
		for _, c := range [][2]string{{"", "Order 7"}, {"Subpoena", ""}} {
			if _, err := e.ret.HoldDocument(ctx, e.records, tc.id, doc, true, c[0], c[1]); err == nil {
				t.Fatalf("a document hold without %q/%q was placed", c[0], c[1])
			} else if _, ok := fault.AsInvalid(err); !ok {
				t.Fatalf("missing reason or authority: %v", err)
			}
		}
		d, err := e.ret.HoldDocument(ctx, e.records, tc.id, doc, true, "Subpoena", "Order 2026-114")
		if err != nil || !d.Held {
			t.Fatalf("hold: %v %+v", err, d)
		}
		hs, err := e.ret.Holds(ctx, e.records, "", false)
		if err != nil || len(hs) != 1 || hs[0].Doc != doc || hs[0].Reason != "Subpoena" || hs[0].Authority != "Order 2026-114" {
			t.Fatalf("holds listed: %v %+v", err, hs)
		}
		if _, err := e.ret.HoldDocument(ctx, e.records, tc.id, doc, false, "", ""); err == nil {
			t.Fatal("released without a reason")
		}
		d, err = e.ret.HoldDocument(ctx, e.records, tc.id, doc, false, "Order lifted", "")
		if err != nil || d.Held {
			t.Fatalf("release: %v %+v", err, d)
		}
		if hs, _ := e.ret.Holds(ctx, e.records, "", false); len(hs) != 0 {
			t.Fatalf("active holds after release: %+v", hs)
		}
		if hs, _ := e.ret.Holds(ctx, e.records, tc.id, true); len(hs) != 1 || hs[0].ReleaseReason != "Order lifted" {
			t.Fatalf("released hold: %+v", hs)
		}
	})
}
