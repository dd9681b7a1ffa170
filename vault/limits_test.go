package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestParseAudienceStopsAtTheLimit: a list of named accounts is refused
// as soon as it names one account more than the limit, and a text longer
// than any valid audience is refused before it is read.
func TestParseAudienceStopsAtTheLimit(t *testing.T) {
	var ids []string
	for i := range MaxAudienceUsers + 1 {
		ids = append(ids, fmt.Sprintf("a-%d", i))
	}
	// The entry after the ninth account is malformed: a parser that read
	// on would report it instead of the count.
	_, err := ParseAudience("users:" + strings.Join(ids, ",") + ",bad:id")
	ie, ok := fault.AsInvalid(err)
	if !ok || ie.Field != "audience" || !strings.Contains(ie.Detail, "at most 8 named accounts") {
		t.Fatalf("nine accounts then a bad one: %v", err)
	}
	long := "users:" + strings.Repeat("a-1,", 1<<18) // 1 MiB of one account
	_, err = ParseAudience(long)
	ie, ok = fault.AsInvalid(err)
	if !ok || ie.Field != "audience" || ie.Detail != fmt.Sprintf("at most %d characters", MaxAudienceLen) {
		t.Fatalf("1 MiB audience: %v", err)
	}
	// The longest valid form fits.
	var full []string
	for i := range MaxAudienceUsers {
		full = append(full, fmt.Sprintf(" user:%064d ", i))
	}
	if a, err := ParseAudience("users:" + strings.Join(full, ",")); err != nil || len(a.Users) != MaxAudienceUsers {
		t.Fatalf("eight 64-byte accounts: %v %v", a, err)
	}
}

// TestDocumentAndVersionLimits: a case takes at most maxDocs documents
// and a document at most maxVersions versions; the next is refused as a
// conflict in plain words and leaves nothing.
func TestDocumentAndVersionLimits(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		e.vault.maxDocs, e.vault.maxVersions = 3, 2
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		var first Document
		for i := range 3 {
			d := e.upload(t, med, k.caseID, fmt.Sprintf("doc %d", i), k.audience(t, "joint"), ClassEvidence, []byte("x"))
			if i == 0 {
				first = d
			}
		}
		_, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "one too many", Audience: k.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader([]byte("y")))
		if !errors.Is(err, fault.ErrConflict) || !strings.HasPrefix(err.Error(), "this case already has 3 documents") {
			t.Fatalf("fourth document: %v", err)
		}
		if l, err := e.vault.List(ctx, med, k.caseID); err != nil || len(l) != 3 {
			t.Fatalf("list: %d %v", len(l), err)
		}
		if _, err := e.vault.AddVersion(ctx, med, k.caseID, first.ID, NewVersion{}, bytes.NewReader([]byte("v2"))); err != nil {
			t.Fatal(err)
		}
		_, err = e.vault.AddVersion(ctx, med, k.caseID, first.ID, NewVersion{}, bytes.NewReader([]byte("v3")))
		if !errors.Is(err, fault.ErrConflict) || !strings.HasPrefix(err.Error(), "this document already has 2 versions") {
			t.Fatalf("third version: %v", err)
		}
		if d, err := e.vault.Get(ctx, med, k.caseID, first.ID); err != nil || len(d.Versions) != 2 {
			t.Fatalf("after a refused version: %+v %v", d, err)
		}
	})
}

// TestVersionLimitKeepsRecordSmall: a document record with
// MaxVersionsPerDocument versions of the longest names and media types
// stays well within a metastore record.
func TestVersionLimitKeepsRecordSmall(t *testing.T) {
	d := docRecord{ID: "d-" + strings.Repeat("x", 30), Case: "c-" + strings.Repeat("x", 30), Class: ClassEvidence}
	for i := range MaxVersionsPerDocument {
		d.Versions = append(d.Versions, VersionInfo{Version: i + 1, Name: strings.Repeat("<", MaxNameLen),
			MediaType: "a/b; x=\"" + strings.Repeat("<", MaxMediaTypeLen-10) + "\"", Size: 1 << 40,
			SHA256: strings.Repeat("f", 64), PlainSHA256: strings.Repeat("f", 64), Uploader: "a-" + strings.Repeat("x", 62), E2EE: true})
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > metastore.MaxRecordSize/2 {
		t.Fatalf("a full document record is %d bytes", len(b))
	}
}

// TestDocumentLimitUnderConcurrentUploads: many uploads at once into a
// case one place short of its limit (and a document at its version limit)
// never take either past it: exactly the free places are taken, the rest
// are refused as conflicts, and a refused upload leaves nothing behind.
func TestDocumentLimitUnderConcurrentUploads(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		const limit, racers = 4, 12
		e.vault.maxDocs, e.vault.maxVersions = limit, limit
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		var first Document
		for i := range limit - 1 {
			d := e.upload(t, med, k.caseID, fmt.Sprintf("doc %d", i), k.audience(t, "joint"), ClassEvidence, []byte("x"))
			if i == 0 {
				first = d
			}
		}
		race := func(what string, op func(i int) error) (ok int) {
			t.Helper()
			errs := make(chan error, racers)
			start := make(chan struct{})
			for i := range racers {
				go func() {
					<-start
					errs <- op(i)
				}()
			}
			close(start)
			for range racers {
				err := <-errs
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, fault.ErrConflict):
					t.Errorf("%s: %v", what, err)
				}
			}
			return ok
		}
		ok := race("upload", func(i int) error {
			_, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: fmt.Sprintf("racer %d", i), Audience: k.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader(randomBytes(70<<10)))
			return err
		})
		if ok > 1 {
			t.Errorf("%d of %d concurrent uploads into the last place succeeded", ok, racers)
		}
		if l, err := e.vault.List(ctx, med, k.caseID); err != nil || len(l) > limit {
			t.Fatalf("list: %d documents (limit %d) %v", len(l), limit, err)
		}
		// Versions: the document has one; limit-1 places are left.
		ok = race("version", func(i int) error {
			_, err := e.vault.AddVersion(ctx, med, k.caseID, first.ID, NewVersion{}, bytes.NewReader(randomBytes(70<<10)))
			return err
		})
		if ok > limit-1 {
			t.Errorf("%d of %d concurrent versions into %d places succeeded", ok, racers, limit-1)
		}
		d, err := e.vault.Get(ctx, med, k.caseID, first.ID)
		if err != nil || len(d.Versions) > limit {
			t.Fatalf("versions: %d (limit %d) %v", len(d.Versions), limit, err)
		}
		// Refused uploads left no ciphertext and no claim.
		l, err := e.vault.List(ctx, med, k.caseID)
		if err != nil {
			t.Fatal(err)
		}
		want := len(l) - 1 + len(d.Versions)
		if n := countObjects(t, store, "docs/"+k.caseID+"/"); n != want {
			t.Errorf("%d ciphertext objects for %d visible versions", n, want)
		}
		if n := countObjects(t, store, placePrefix(k.caseID)); n != 0 {
			t.Errorf("%d place claims left", n)
		}
	})
}

func countObjects(t *testing.T, store objstore.Store, prefix string) (n int) {
	t.Helper()
	if err := store.List(t.Context(), prefix, func(objstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashedUploadFreesItsPlace: the place claim of an upload that
// crashed between its count and its document record holds the place
// only until it is stale; the next count removes it.
func TestCrashedUploadFreesItsPlace(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		e.vault.maxDocs = 2
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		e.upload(t, med, k.caseID, "doc 0", k.audience(t, "joint"), ClassEvidence, []byte("x"))
		ghost := placeKey(k.caseID, "d-crashed")
		if _, err := e.meta.Create(ctx, ghost, placeRecord{Doc: "d-crashed"}); err != nil {
			t.Fatal(err)
		}
		n := NewDocument{Name: "late", Audience: k.audience(t, "joint"), Class: ClassEvidence}
		if _, err := e.vault.Upload(ctx, med, k.caseID, n, bytes.NewReader([]byte("y"))); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("upload while a fresh claim holds the last place: %v", err)
		}
		e.vault.placeStale = 0 // every claim is stale now
		if _, err := e.vault.Upload(ctx, med, k.caseID, n, bytes.NewReader([]byte("y"))); err != nil {
			t.Fatalf("upload once the claim is stale: %v", err)
		}
		if n := countObjects(t, store, placePrefix(k.caseID)); n != 0 {
			t.Errorf("%d place claims left", n)
		}
	})
}
