package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestEveryVersionErasedListsAsErased: the document listing says of a
// document whose every version retention erased that it is erased, and
// when (erasedAt: the last erasure), to everyone who sees it, downloaders
// included, with no name; one with a version left says nothing of the
// kind. The single-document answer dates each erased version too.
func TestEveryVersionErasedListsAsErased(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	d := k.upload(t, "mediator", "Deposit receipt.pdf", "joint", "evidence", []byte("receipt"))
	if _, err := k.as["mediator"].UploadVersion(ctx, k.caseID, d.ID, client.Upload{Name: "Deposit receipt v2.pdf", MediaType: "text/plain; charset=utf-8",
		Body: bytes.NewReader([]byte("receipt, corrected")), Size: 18}); err != nil {
		t.Fatal(err)
	}
	kept := k.upload(t, "mediator", "Agenda.txt", "joint", "correspondence", []byte("agenda"))
	// listed is the document as who's listing shows it, as raw JSON fields.
	listed := func(who, id string) map[string]any {
		t.Helper()
		var raw json.RawMessage
		if err := k.as[who].Do(ctx, http.MethodGet, "/api/v1/cases/"+k.caseID+"/documents", nil, &raw); err != nil {
			t.Fatal(err)
		}
		var list []map[string]any
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		for _, doc := range list {
			if doc["id"] == id {
				return doc
			}
		}
		t.Fatalf("%s's listing lacks %s: %s", who, id, raw)
		return nil
	}
	if err := n.Vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 1); err != nil {
		t.Fatal(err)
	}
	if doc := listed("mediator", d.ID); doc["erased"] != nil || doc["erasedAt"] != nil || doc["name"] != "Deposit receipt v2.pdf" {
		t.Fatalf("a document with a version left lists as %v", doc)
	}
	before := time.Now().UTC().Truncate(time.Second)
	if err := n.Vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()
	for _, who := range []string{"mediator", "partyA", "partyB"} {
		doc := listed(who, d.ID)
		if doc["erased"] != true {
			t.Errorf("%s's listing of the document whose every version was erased: erased %v, want true (%v)", who, doc["erased"], doc)
		}
		stamp, _ := doc["erasedAt"].(string)
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || at.Before(before) || at.After(after) {
			t.Errorf("%s's listing: erasedAt %v (%v), want the second erasure, between %v and %v", who, doc["erasedAt"], err, before, after)
		}
		if doc["name"] != nil || doc["mediaType"] != nil || doc["sha256"] != nil || doc["uploader"] != "" {
			t.Errorf("%s's listing shows something of the erased content: %v", who, doc)
		}
		if other := listed(who, kept.ID); other["erased"] != nil || other["erasedAt"] != nil {
			t.Errorf("%s's listing marks a document not erased: %v", who, other)
		}
	}
	var one map[string]any
	if err := k.as["mediator"].Do(ctx, http.MethodGet, "/api/v1/cases/"+k.caseID+"/documents/"+d.ID, nil, &one); err != nil {
		t.Fatal(err)
	}
	vs, _ := one["versions"].([]any)
	if one["erased"] != true || len(vs) != 2 {
		t.Fatalf("the document's own answer: %v", one)
	}
	for _, v := range vs {
		if v.(map[string]any)["erasedAt"] == nil {
			t.Errorf("an erased version without its date: %v", v)
		}
	}
}
