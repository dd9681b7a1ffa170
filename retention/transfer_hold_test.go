package retention

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestTransferBundleDocumentHolds: a hold placed on the caucus document
// and released before the transfer leaves nothing of it in the bundle:
// neither the document's id (hold.placed names it) nor the hold's
// (hold.released names only the hold), in any file or file name. A hold
// on the exhibit, which is carried, is carried with it.
func TestTransferBundleDocumentHolds(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		w := e.transferWorld(t)
		exhibit := w.tc.docs["exhibit"]
		holdIDs := map[string]string{}
		for name, doc := range map[string]string{"caucus": w.caucus.ID, "exhibit": exhibit.ID} {
			h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: w.tc.id, Doc: doc, Reason: "Court order", Authority: "Order 7"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.ret.ReleaseHold(ctx, e.records, w.tc.id, h.ID, "Order lifted"); err != nil {
				t.Fatal(err)
			}
			holdIDs[name] = h.ID
		}
		if _, err := e.ret.Choose(ctx, e.records2, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionTransfer,
			Recipient: w.id.Recipient().String(), RecipientName: "State Archives"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, staff(policy.RoleRecords), w.plan.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, w.plan.ID, nil); err != nil {
			t.Fatal(err)
		}
		rc, _, err := e.ret.TransferBundle(ctx, e.records, w.plan.ID, w.tc.id)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files := openBundle(t, buf.Bytes(), w.id)
		checkBundle(t, e, w, files)
		noneIn(t, files, []byte(w.caucus.ID), []byte(holdIDs["caucus"]))
		// The exhibit's hold is there, placed and released.
		var placed, released bool
		for _, line := range strings.Split(strings.TrimSpace(string(files["audit/entries.jsonl"])), "\n") {
			var x ExcerptEntry
			if err := json.Unmarshal([]byte(line), &x); err != nil {
				t.Fatal(err)
			}
			data, err := base64.StdEncoding.DecodeString(x.Entry)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := audit.ParseEvent(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.Objects) == 0 || ev.Objects[0] != holdIDs["exhibit"] {
				continue
			}
			switch ev.Type {
			case "hold.placed":
				placed = len(ev.Objects) == 2 && ev.Objects[1] == exhibit.ID
			case "hold.released":
				released = true
			}
		}
		if !placed || !released {
			t.Fatalf("the exhibit's hold in the excerpt: placed %v, released %v", placed, released)
		}
	})
}
