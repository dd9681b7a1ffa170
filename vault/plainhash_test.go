package vault

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestRecordsStaffSeeNoPlaintextHash: an upgraded (end-to-end) version
// keeps its plaintext's SHA-256 for devices to check; it is content, so
// someone who may not download the document (records staff) is not
// given it, by Get or by a hold's answer, any more than its name or
// hash. The review found PlainSHA256 left in.
func TestRecordsStaffSeeNoPlaintextHash(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA, rec := k.who["mediator"], k.who["partyA"], k.who["records"]
		d := e.upload(t, pA, k.caseID, "Our real bottom line.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("we accept 50k"))
		// As UpgradeVersion leaves the record: end to end, with the
		// plaintext's hash kept.
		if _, err := metastore.Update(ctx, e.meta, docKey(k.caseID, d.ID), func(r *docRecord) error {
			r.Versions[0].E2EE, r.Versions[0].PlainSHA256 = true, r.Versions[0].SHA256
			r.Versions[0].SHA256 = strings.Repeat("ab", 32)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		leaks := func(what string, doc Document) {
			t.Helper()
			if len(doc.Versions) != 1 {
				t.Fatalf("%s: versions %+v", what, doc.Versions)
			}
			v := doc.Versions[0]
			if v.PlainSHA256 != "" || v.SHA256 != "" || v.Name != "" || v.MediaType != "" || doc.SHA256 != "" || doc.Name != "" {
				t.Errorf("%s gives records staff content metadata: %+v", what, v)
			}
		}
		got, err := e.vault.Get(ctx, rec, k.caseID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		leaks("Get", got)
		held, err := e.vault.SetHold(ctx, rec, k.caseID, d.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		leaks("SetHold", held)
		// The mediator, who may download, is still given it to check.
		got, err = e.vault.Get(ctx, med, k.caseID, d.ID)
		if err != nil || got.Versions[0].PlainSHA256 == "" {
			t.Errorf("the mediator is not given the plaintext hash: %+v %v", got.Versions, err)
		}
	})
}
