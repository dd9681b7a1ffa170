package vault

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestErasedVersionShowsNothingButThatItWas: an erased version's name,
// media type, hashes, size and uploader are cleared from the record as
// it is erased, and not shown from a record erased before that; a share
// the side approved (which showed it only the versions not erased) then
// shows the new audience nothing of the erased one. The review's
// scenario: side A's v1 "Our real bottom line 50k.pdf", then v2; v1
// erased; the share to the joint room asked and allowed showing v2 only.
func TestErasedVersionShowsNothingButThatItWas(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA, pB := k.who["mediator"], k.who["partyA"], k.who["partyB"]
		joint := k.audience(t, "joint")
		secret := "Our real bottom line 50k.pdf"
		d := e.upload(t, pA, k.caseID, secret, k.audience(t, "caucus:A"), ClassEvidence, []byte("we accept 50k"))
		if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: "Lease.pdf"}, strings.NewReader("the lease")); err != nil {
			t.Fatal(err)
		}
		var before docRecord
		if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &before); err != nil {
			t.Fatal(err)
		}
		v1 := before.Versions[0]
		if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 1); err != nil {
			t.Fatal(err)
		}
		req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil {
			t.Fatal(err)
		}
		if len(req.Shows) != 1 || req.Shows[0].Version != 2 {
			t.Fatalf("the request shows %+v, want version 2 only", req.Shows)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
			t.Fatal(err)
		}
		shown := func(what string, v VersionInfo) {
			t.Helper()
			if v.Version != 1 || !v.Erased {
				t.Fatalf("%s: version %+v, want version 1 erased", what, v)
			}
			if v.Name != "" || v.MediaType != "" || v.SHA256 != "" || v.PlainSHA256 != "" || v.Size != 0 || v.Uploader != "" || v.E2EE {
				t.Errorf("%s: the erased version shows %+v; want its number, that it was erased, and when", what, v)
			}
			if !v.Created.Equal(v1.Created) {
				t.Errorf("%s: the erased version's date %v, want %v", what, v.Created, v1.Created)
			}
		}
		for who, a := range map[string]string{"party B": "partyB", "the mediator": "mediator", "records staff": "records"} {
			got, err := e.vault.Get(ctx, k.who[a], k.caseID, d.ID)
			if err != nil || len(got.Versions) != 2 {
				t.Fatalf("%s's Get: %+v %v", who, got, err)
			}
			shown(who+"'s Get", got.Versions[1])
		}
		var after docRecord
		if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &after); err != nil {
			t.Fatal(err)
		}
		if s := after.Versions[0]; s.Name != "" || s.MediaType != "" || s.SHA256 != "" || s.Size != 0 {
			t.Errorf("the stored record keeps the erased version's metadata: %+v", s)
		}
		// A record erased before erasure cleared it: view shows nothing
		// of it either.
		if _, err := metastore.Update(ctx, e.meta, docKey(k.caseID, d.ID), func(r *docRecord) error {
			r.Versions[0] = v1
			r.Versions[0].Erased = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := e.vault.Get(ctx, pB, k.caseID, d.ID)
		if err != nil || len(got.Versions) != 2 {
			t.Fatalf("party B's Get of the older record: %+v %v", got, err)
		}
		shown("party B's Get of an older record", got.Versions[1])
		// Every version erased: the document itself names none.
		if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
			t.Fatal(err)
		}
		got, err = e.vault.Get(ctx, pB, k.caseID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "" || got.SHA256 != "" || got.MediaType != "" || got.Size != 0 || got.Uploader != "" {
			t.Errorf("a document whose every version is erased shows %+v", got)
		}
	})
}

// A version added to a document whose every version is erased does not
// take the erased one's name (gone with it): it names itself.
func TestVersionAfterEveryVersionErasedNamesItself(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	pA := k.who["partyA"]
	d := e.upload(t, pA, k.caseID, "Our real bottom line 50k.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("we accept 50k"))
	if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 1); err != nil {
		t.Fatal(err)
	}
	if got, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{}, strings.NewReader("new")); err == nil {
		t.Fatalf("a nameless version after every version was erased: %+v", got.Versions)
	}
	got, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: "Lease.pdf"}, strings.NewReader("the lease"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Lease.pdf" || got.MediaType != "application/octet-stream" || got.Version != 2 {
		t.Errorf("the new version: %q %q %d", got.Name, got.MediaType, got.Version)
	}
}

// TestErasedBeforeScrubbedAtTheNextErasure: a record whose version was
// erased before erasing cleared its content fields keeps them no longer
// than the document's next erasure: marking any version erased scrubs
// every erased entry.
func TestErasedBeforeScrubbedAtTheNextErasure(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	pA := k.who["partyA"]
	secret := "Our real bottom line 50k.pdf"
	d := e.upload(t, pA, k.caseID, secret, k.audience(t, "caucus:A"), ClassEvidence, []byte("we accept 50k"))
	if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: "Lease.pdf"}, strings.NewReader("the lease")); err != nil {
		t.Fatal(err)
	}
	// Version 1 as erasing left it before: marked, its content fields kept.
	if _, err := metastore.Update(ctx, e.meta, docKey(k.caseID, d.ID), func(r *docRecord) error {
		r.Versions[0].Erased = true
		r.Versions[0].PlainSHA256 = r.Versions[0].SHA256
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
		t.Fatal(err)
	}
	var raw docRecord
	if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &raw); err != nil {
		t.Fatal(err)
	}
	for _, v := range raw.Versions {
		if !v.Erased || v.Name != "" || v.MediaType != "" || v.SHA256 != "" || v.PlainSHA256 != "" || v.Size != 0 {
			t.Errorf("stored entry after the erasure: %+v, want erased with nothing of its content", v)
		}
	}
}
