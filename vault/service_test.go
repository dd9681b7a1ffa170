package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/objstore/storetest"
	"github.com/parley-mediation/parley/policy"
)

func TestUploadVersionsDownload(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		for _, size := range []int{0, 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 5} {
			plain := randomBytes(size)
			d := e.upload(t, med, k.caseID, "size.bin", k.audience(t, "joint"), ClassEvidence, plain)
			sum := sha256.Sum256(plain)
			if d.Size != int64(size) || d.SHA256 != hex.EncodeToString(sum[:]) || d.Version != 1 || d.MediaType != "application/pdf" {
				t.Fatalf("size %d: metadata %+v", size, d)
			}
			got, err := e.download(t, k.who["observer"], k.caseID, d.ID, 0)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("size %d: download: %v", size, err)
			}
		}

		// Versions: a new upload adds one, the old stays readable.
		v1, v2 := randomBytes(SegmentSize*2), []byte("second draft")
		d := e.upload(t, med, k.caseID, "Draft agreement.docx", k.audience(t, "caucus:A"), ClassAgreement, v1)
		up, err := e.vault.AddVersion(ctx, k.who["counselA"], k.caseID, d.ID, NewVersion{Name: "Draft agreement v2.docx"}, bytes.NewReader(v2))
		if err != nil {
			t.Fatal(err)
		}
		if up.Version != 2 || up.Name != "Draft agreement v2.docx" || up.MediaType != "application/pdf" || len(up.Versions) != 2 || up.Versions[0].Version != 2 {
			t.Fatalf("after a new version: %+v", up)
		}
		if up.Versions[0].Uploader != k.who["counselA"].ID || up.Versions[1].Uploader != med.ID {
			t.Fatalf("uploaders: %+v", up.Versions)
		}
		for v, want := range map[int][]byte{0: v2, 1: v1, 2: v2} {
			got, err := e.download(t, k.who["partyA"], k.caseID, d.ID, v)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("version %d: %v", v, err)
			}
		}
		if _, err := e.download(t, med, k.caseID, d.ID, 3); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("missing version: %v", err)
		}

		// Ranges, across segment boundaries, against the plaintext.
		for _, rg := range [][2]int64{{0, 1}, {SegmentSize - 2, 4}, {SegmentSize, SegmentSize}, {2*SegmentSize - 1, 1}, {5, 2*SegmentSize - 5}} {
			dl, err := e.vault.Open(ctx, med, k.caseID, d.ID, 1, Bytes(rg[0], rg[1]))
			if err != nil {
				t.Fatalf("range %v: %v", rg, err)
			}
			got, err := io.ReadAll(dl.Body)
			dl.Body.Close()
			if err != nil || !bytes.Equal(got, v1[rg[0]:rg[0]+rg[1]]) || dl.Verified {
				t.Fatalf("range %v: %v (%d bytes)", rg, err, len(got))
			}
		}
		for _, rg := range [][2]int64{{-1, 5}, {0, 0}, {int64(len(v1)), 1}, {10, int64(len(v1))}} {
			if _, err := e.vault.Open(ctx, med, k.caseID, d.ID, 1, Bytes(rg[0], rg[1])); !errors.Is(err, ErrRange) {
				t.Fatalf("range %v: %v, want ErrRange", rg, err)
			}
		}
	})
}

// Concurrent uploads to one document get distinct version numbers.
func TestConcurrentVersions(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		d := e.upload(t, k.who["mediator"], k.caseID, "x", k.audience(t, "mediators"), ClassAdmin, []byte("version one"))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = e.vault.AddVersion(t.Context(), k.who["mediator"], k.caseID, d.ID, NewVersion{}, strings.NewReader(strings.Repeat("x", i+1)))
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := e.vault.Get(t.Context(), k.who["mediator"], k.caseID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		sizes := map[int64]bool{}
		for _, v := range got.Versions {
			nums = append(nums, v.Version)
			sizes[v.Size] = true
		}
		if !slices.Equal(nums, []int{5, 4, 3, 2, 1}) || len(sizes) != 5 {
			t.Fatalf("versions %v sizes %v", nums, sizes)
		}
	})
}

// TestTampering: changing the stored ciphertext in any way makes the
// download fail with an integrity error.
func TestTampering(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		med := k.who["mediator"]
		plain := randomBytes(4*SegmentSize - 100)
		fresh := func() (Document, string, []byte) {
			d := e.upload(t, med, k.caseID, "evidence.pdf", k.audience(t, "joint"), ClassEvidence, plain)
			key := objectKey(k.caseID, d.ID, 1)
			return d, key, storetest.ReadObject(t, store, key)
		}
		seg := func(b []byte, i int) []byte {
			start := int(SegmentOffset(int64(i)))
			return b[start:min(start+segmentCTSize, len(b))]
		}
		tamper := map[string]func(b []byte) []byte{
			"flip a byte": func(b []byte) []byte { return flip(b, HeaderSize+SegmentSize+3) },
			"drop the last segment": func(b []byte) []byte {
				return b[:SegmentOffset(3)]
			},
			"swap two segments": func(b []byte) []byte {
				return bytes.Join([][]byte{b[:HeaderSize], seg(b, 1), seg(b, 0), seg(b, 2), seg(b, 3)}, nil)
			},
			"truncate": func(b []byte) []byte { return b[:len(b)-1] },
		}
		for name, change := range tamper {
			t.Run(name, func(t *testing.T) {
				d, key, b := fresh()
				storetest.WriteObject(t, store, key, change(b))
				_, err := e.download(t, k.who["partyA"], k.caseID, d.ID, 0)
				wantIntegrity(t, name, err)
				if !strings.Contains(err.Error(), "integrity check failed") || !strings.Contains(err.Error(), d.ID) {
					t.Fatalf("error does not say what failed: %v", err)
				}
				if ev := e.lastEntry(t); ev.Type != "doc.integrity.failed" || ev.Objects[0] != d.ID {
					t.Fatalf("integrity failure audited as %+v", ev)
				}
			})
		}
		t.Run("swap two documents", func(t *testing.T) {
			d1, key1, b1 := fresh()
			d2, key2, b2 := fresh()
			storetest.WriteObject(t, store, key1, b2)
			storetest.WriteObject(t, store, key2, b1)
			for _, d := range []Document{d1, d2} {
				_, err := e.download(t, med, k.caseID, d.ID, 0)
				wantIntegrity(t, "swapped", err)
			}
		})
		t.Run("swap two versions", func(t *testing.T) {
			d, key1, b1 := fresh()
			if _, err := e.vault.AddVersion(t.Context(), med, k.caseID, d.ID, NewVersion{}, bytes.NewReader(plain)); err != nil {
				t.Fatal(err)
			}
			key2 := objectKey(k.caseID, d.ID, 2)
			b2 := storetest.ReadObject(t, store, key2)
			storetest.WriteObject(t, store, key1, b2)
			storetest.WriteObject(t, store, key2, b1)
			for v := 1; v <= 2; v++ {
				_, err := e.download(t, med, k.caseID, d.ID, v)
				wantIntegrity(t, "swapped versions", err)
			}
		})
		t.Run("range over a flipped byte", func(t *testing.T) {
			d, key, b := fresh()
			storetest.WriteObject(t, store, key, flip(b, int(SegmentOffset(2))+10))
			dl, err := e.vault.Open(t.Context(), med, k.caseID, d.ID, 0, Bytes(2*SegmentSize, 100))
			if err == nil {
				_, err = io.ReadAll(dl.Body)
				dl.Body.Close()
			}
			wantIntegrity(t, "range", err)
			// Other segments still read.
			dl, err = e.vault.Open(t.Context(), med, k.caseID, d.ID, 0, Bytes(0, 100))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(dl.Body)
			dl.Body.Close()
			if err != nil || !bytes.Equal(got, plain[:100]) {
				t.Fatalf("undamaged range: %v", err)
			}
		})
		t.Run("moved wrapped key", func(t *testing.T) {
			d1, _, _ := fresh()
			d2, _, _ := fresh()
			var vr1 versionRecord
			if _, err := e.meta.Get(t.Context(), versionKey(k.caseID, d1.ID, 1), &vr1); err != nil {
				t.Fatal(err)
			}
			// Even someone who could write sealed records cannot reuse
			// one version's wrapped key for another.
			vr1.Doc = d2.ID
			if _, err := e.meta.Replace(t.Context(), versionKey(k.caseID, d2.ID, 1), vr1, etagOf(t, e, versionKey(k.caseID, d2.ID, 1))); err != nil {
				t.Fatal(err)
			}
			_, err := e.download(t, med, k.caseID, d2.ID, 0)
			wantIntegrity(t, "moved key", err)
		})
	})
}

func etagOf(t *testing.T, e *env, key string) string {
	t.Helper()
	var v versionRecord
	etag, err := e.meta.Get(t.Context(), key, &v)
	if err != nil {
		t.Fatal(err)
	}
	return etag
}

func TestShare(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("offer"))
		ids := func(ps []Person) []string {
			var out []string
			for _, p := range ps {
				out = append(out, p.AccountID)
			}
			slices.Sort(out)
			return out
		}
		want := func(names ...string) []string {
			var out []string
			for _, n := range names {
				out = append(out, k.who[n].ID)
			}
			slices.Sort(out)
			if out == nil {
				out = []string{}
			}
			return out
		}

		// The preview changes nothing and writes no audit entry.
		n := e.log.Size()
		res, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "joint"), true)
		if err != nil {
			t.Fatal(err)
		}
		if !res.DryRun || !res.Changed || !slices.Equal(ids(res.Gaining), want("partyB", "counselB", "observer")) || len(res.Losing) != 0 {
			t.Fatalf("preview caucus:A → joint: %+v", res)
		}
		for _, p := range res.Gaining {
			if p.Name == "" || p.Role == "" {
				t.Fatalf("gaining person without name or role: %+v", p)
			}
		}
		if e.log.Size() != n {
			t.Fatal("a preview was audited as a share")
		}
		if _, err := e.download(t, k.who["partyB"], k.caseID, d.ID, 0); err == nil {
			t.Fatal("preview shared the document")
		}

		// The share itself: audited first, then in force.
		res, err = e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "joint"), false)
		if err != nil || res.DryRun || res.Document.Audience.String() != "joint" {
			t.Fatalf("share: %+v %v", res, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "doc.share" || ev.Actor != med.ID || ev.Objects[0] != d.ID || ev.Attrs["from"] != "caucus:A" || ev.Attrs["to"] != "joint" || ev.Attrs["gained"] != "3" {
			t.Fatalf("share audited as %+v", ev)
		}
		if got, err := e.download(t, k.who["partyB"], k.caseID, d.ID, 0); err != nil || string(got) != "offer" {
			t.Fatalf("party B after the share: %v", err)
		}

		// Narrowing to one person: everyone else taking part loses it.
		res, err = e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "user:partyA"), false)
		if err != nil || len(res.Gaining) != 0 || !slices.Equal(ids(res.Losing), want("counselA", "partyB", "counselB", "observer")) {
			t.Fatalf("joint → user:partyA: %+v %v", res, err)
		}
		if _, err := e.download(t, k.who["counselA"], k.caseID, d.ID, 0); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("counsel A after narrowing to party A: %v", err)
		}

		// Bad targets.
		for _, bad := range []string{"caucus:C", "user:u_aaaaaaaaaaaaaaaaaaaaaaaaaa", "user:" + med.ID} {
			a, err := ParseAudience(bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, a, true); err == nil {
				t.Fatalf("share to %s accepted", bad)
			}
		}
		// Only mediators share.
		if _, err := e.vault.Share(ctx, k.who["partyA"], k.caseID, d.ID, k.audience(t, "joint"), true); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("party sharing: %v", err)
		}
	})
}

// Mediator notes stay with the mediators, whatever anyone asks; records
// staff see that they exist, without names.
func TestMediatorNotesAndRecordsView(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		const secretName = "CANARY-notes-name-7f3a.txt"
		if _, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "n", Audience: k.audience(t, "joint"), Class: ClassMediatorNotes}, strings.NewReader("x")); err == nil {
			t.Fatal("mediator notes uploaded to the joint room")
		}
		d := e.upload(t, med, k.caseID, secretName, k.audience(t, "mediators"), ClassMediatorNotes, []byte("my impressions"))
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "joint"), true); err == nil {
			t.Fatal("mediator notes shared with the joint room")
		}
		list, err := e.vault.List(ctx, k.who["records"], k.caseID)
		if err != nil || len(list) != 1 {
			t.Fatalf("records list: %v %v", list, err)
		}
		got, err := e.vault.Get(ctx, k.who["records"], k.caseID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal([]any{list, got})
		if strings.Contains(string(b), "CANARY") || strings.Contains(string(b), "text/") || got.SHA256 != "" || got.CanDownload {
			t.Fatalf("records see content metadata: %s", b)
		}
		if got.Class != ClassMediatorNotes || got.Size != int64(len("my impressions")) || len(got.Versions) != 1 {
			t.Fatalf("records view lacks what records need: %+v", got)
		}
		for _, who := range []string{"partyA", "counselA", "observer"} {
			l, err := e.vault.List(ctx, k.who[who], k.caseID)
			if err != nil || len(l) != 0 {
				t.Fatalf("%s lists %v (%v)", who, l, err)
			}
		}
	})
}

// Audit entries for uploads, downloads and shares hold ids, enums and
// keyed hashes; never names, content or plain hashes.
func TestAuditEntriesCarryNoContent(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		from := e.log.Size()
		content := []byte("CANARY-content-c4d1 settle for 10,000")
		d := e.upload(t, k.who["mediator"], k.caseID, "CANARY-name-c4d1.pdf", k.audience(t, "caucus:A"), ClassEvidence, content)
		if _, err := e.download(t, k.who["partyA"], k.caseID, d.ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.Share(ctx, k.who["mediator"], k.caseID, d.ID, k.audience(t, "joint"), false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.SetHold(ctx, k.who["records"], k.caseID, d.ID, true); err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range e.entries(t, from) {
			types = append(types, ev.Type)
			b, _ := json.Marshal(ev)
			for _, secret := range []string{"CANARY", d.SHA256, "application/pdf"} {
				if strings.Contains(string(b), secret) {
					t.Fatalf("audit entry %s holds %q", b, secret)
				}
			}
		}
		if !slices.Equal(types, []string{"doc.upload", "doc.download", "doc.share", "doc.hold"}) {
			t.Fatalf("audit entries %v", types)
		}
	})
}

func TestHoldAndCryptoErase(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, rec := k.who["mediator"], k.who["records"]
		d := e.upload(t, med, k.caseID, "settlement.pdf", k.audience(t, "joint"), ClassAgreement, []byte("signed"))
		held, err := e.vault.SetHold(ctx, rec, k.caseID, d.ID, true)
		if err != nil || !held.Held {
			t.Fatalf("hold: %+v %v", held, err)
		}
		// A version added under the hold is held too.
		if _, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, strings.NewReader("signed v2")); err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= 2; v++ {
			var vr versionRecord
			if _, err := e.meta.Get(ctx, versionKey(k.caseID, d.ID, v), &vr); err != nil {
				t.Fatal(err)
			}
			on, err := store.LegalHold(ctx, vr.Object, vr.ObjectVID)
			if err != nil || !on {
				t.Fatalf("version %d ciphertext not held (%v)", v, err)
			}
			if err := store.Delete(ctx, vr.Object, vr.ObjectVID); !errors.Is(err, objstore.ErrHeld) {
				t.Fatalf("deleting held ciphertext: %v", err)
			}
		}
		if err := e.vault.DestroyDataKey(ctx, "retention", k.caseID, d.ID, 1); !errors.Is(err, objstore.ErrHeld) {
			t.Fatalf("destroying a held key: %v", err)
		}
		if _, err := e.vault.SetHold(ctx, rec, k.caseID, d.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := e.vault.DestroyDataKey(ctx, "retention", k.caseID, d.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.download(t, med, k.caseID, d.ID, 1); !errors.Is(err, fault.ErrGone) {
			t.Fatalf("download of an erased version: %v", err)
		}
		if _, err := store.Versions(ctx, versionKey(k.caseID, d.ID, 1)); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("key record versions left after erase: %v", err)
		}
		got, err := e.download(t, med, k.caseID, d.ID, 0)
		if err != nil || string(got) != "signed v2" {
			t.Fatalf("version 2 after erasing version 1: %v", err)
		}
		if ev := e.lastEntry(t); ev.Type != "doc.download" {
			t.Fatalf("last entry %+v", ev)
		}
	})
}

// An upload over the limit fails as too large and leaves nothing behind:
// no document, no ciphertext object.
func TestTooLargeLeavesNothing(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		e.vault.maxSize = 3 * SegmentSize
		k := e.newCast(t)
		ctx := t.Context()
		_, err := e.vault.Upload(ctx, k.who["mediator"], k.caseID, NewDocument{Name: "big", Audience: k.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader(randomBytes(3*SegmentSize+1)))
		if !errors.Is(err, fault.ErrTooLarge) {
			t.Fatalf("over the limit: %v", err)
		}
		var left []string
		store.List(ctx, "docs/", func(i objstore.Info) error { left = append(left, i.Key); return nil })
		store.List(ctx, "vault/", func(i objstore.Info) error { left = append(left, i.Key); return nil })
		if len(left) != 0 {
			t.Fatalf("a failed upload left %v", left)
		}
		if l, err := e.vault.List(ctx, k.who["mediator"], k.caseID); err != nil || len(l) != 0 {
			t.Fatalf("list after a failed upload: %v %v", l, err)
		}
		// Exactly the limit is fine.
		e.upload(t, k.who["mediator"], k.caseID, "fits", k.audience(t, "joint"), ClassEvidence, randomBytes(3*SegmentSize))
	})
}

func TestUploadValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustDir(t))
	k := e.newCast(t)
	ctx := t.Context()
	med := k.who["mediator"]
	good := NewDocument{Name: "a.pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence}
	for field, n := range map[string]NewDocument{
		"name":      {Name: " ", Audience: good.Audience, Class: good.Class},
		"mediaType": {Name: "a", MediaType: "not a type", Audience: good.Audience, Class: good.Class},
		"class":     {Name: "a", Audience: good.Audience, Class: "secret"},
		"audience":  {Name: "a", Audience: k.audience(t, "caucus:Z"), Class: good.Class},
	} {
		_, err := e.vault.Upload(ctx, med, k.caseID, n, strings.NewReader("x"))
		if ie, ok := fault.AsInvalid(err); !ok || ie.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	// A party uploads to their own caucus only.
	if _, err := e.vault.Upload(ctx, k.who["partyA"], k.caseID, NewDocument{Name: "a", Audience: k.audience(t, "caucus:A"), Class: ClassEvidence}, strings.NewReader("x")); err != nil {
		t.Fatalf("party A into caucus A: %v", err)
	}
	for _, aud := range []string{"joint", "caucus:B", "mediators"} {
		if _, err := e.vault.Upload(ctx, k.who["partyA"], k.caseID, NewDocument{Name: "a", Audience: k.audience(t, aud), Class: ClassEvidence}, strings.NewReader("x")); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("party A into %s: %v", aud, err)
		}
	}
	if _, err := e.vault.Upload(ctx, k.who["partyA"], "c_aaaaaaaaaaaaaaaaaaaaaaaaaa", good, strings.NewReader("x")); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("unknown case: %v", err)
	}
	// Someone outside the case learns nothing of its sides or roster from
	// the audience check: the answer is the same refusal for any audience.
	for _, aud := range []Audience{k.audience(t, "caucus:Z"), k.audience(t, "caucus:A"), {Kind: policy.AudienceUsers, Users: []string{k.who["partyA"].ID}}} {
		_, err := e.vault.Upload(ctx, k.who["outsider"], k.caseID, NewDocument{Name: "a", Audience: aud, Class: ClassEvidence}, strings.NewReader("x"))
		if _, invalid := fault.AsInvalid(err); invalid || !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("outsider uploading to %s: %v (want the same \"not found\" for every audience, as for a case that does not exist)", aud, err)
		}
	}
}

func mustDir(t *testing.T) objstore.Store {
	s, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Nothing readable lands in a directory store: not the content, not the
// name, not the media type.
func TestNoPlaintextOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, err := objstore.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	k := e.newCast(t)
	const canary = "CANARY-vault-disk-51e0"
	content := bytes.Repeat([]byte(canary+" "), 50000)
	e.upload(t, k.who["mediator"], k.caseID, canary+".pdf", k.audience(t, "joint"), ClassEvidence, content)
	files := 0
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		files++
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(canary)) || strings.Contains(path, canary) || bytes.Contains(b, []byte("application/pdf")) {
			t.Errorf("%s holds plaintext", path)
		}
		return nil
	})
	if files < 5 {
		t.Fatalf("only %d files", files)
	}
}

// Rotating the master key rewraps case keys only; every document still
// opens under the new key, and the old key opens nothing.
func TestMasterKeyRotationKeepsDocuments(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		content := randomBytes(SegmentSize + 9)
		d := e.upload(t, k.who["mediator"], k.caseID, "kept.pdf", k.audience(t, "joint"), ClassEvidence, content)
		newMK, err := kms.LoadMasterKey(filepath.Join(t.TempDir(), "new.key"), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kms.RotateMasterKey(ctx, store, e.mk, newMK, kms.RotateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := caseKeyForRead(ctx, store, e.mk, k.caseID); !errors.Is(err, kms.ErrUnwrap) {
			t.Fatalf("old master key on a rotated case key: %v", err)
		}
		v, err := New(Config{Meta: e.meta, Cases: e.cases, MasterKey: newMK, Policy: e.policy, Audit: e.log})
		if err != nil {
			t.Fatal(err)
		}
		e.vault = v
		got, err := e.download(t, k.who["partyA"], k.caseID, d.ID, 0)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("download after rotation: %v", err)
		}
	})
}
