package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestParseAudienceStopsAtTheLimit: a list of named accounts is refused
// as soon as it names one account more than the limit, and a text longer
// than any valid audience is refused before it is read.
func TestParseAudienceStopsAtTheLimit(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e, k, med := oneDocShort(t, store)
		ctx := t.Context()
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

// uploadEntriesTrue checks the audit entries from index from on: every
// doc.upload names a version that is visible now, unless a
// doc.upload.failed with its op follows it. It returns how many entries
// of each kind it saw.
func uploadEntriesTrue(t *testing.T, e *env, k *cast, from int64) (uploads, failed int) {
	t.Helper()
	evs := e.entries(t, from)
	corrected := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == "doc.upload.failed" {
			failed++
			corrected[ev.Attrs[audit.OpAttr]] = true
		}
	}
	for _, ev := range evs {
		if ev.Type != "doc.upload" {
			continue
		}
		uploads++
		if corrected[ev.Attrs[audit.OpAttr]] {
			continue
		}
		d, err := e.vault.Get(t.Context(), k.who["mediator"], k.caseID, ev.Objects[0])
		if err != nil {
			t.Errorf("doc.upload (version %s) names document %s, which is not there: %v", ev.Attrs["version"], ev.Objects[0], err)
			continue
		}
		if !slices.ContainsFunc(d.Versions, func(v VersionInfo) bool { return strconv.Itoa(v.Version) == ev.Attrs["version"] }) {
			t.Errorf("doc.upload names version %s of %s, which is not there (versions %+v)", ev.Attrs["version"], ev.Objects[0], d.Versions)
		}
	}
	return uploads, failed
}

// TestUploadRefusedAtItsClaimLeavesNoEntry: an upload that passed the
// early count, and whose place is then taken while its bytes stream, is
// refused at its place claim; the audit log holds no doc.upload for it
// (before, its entry was appended before the claim and stayed, naming an
// upload that never happened).
func TestUploadRefusedAtItsClaimLeavesNoEntry(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e, k, med := oneDocShort(t, store)
		ctx := t.Context()
		from := e.log.Size()
		g := &gatedReader{first: strings.NewReader(strings.Repeat("draft ", 20000)), rest: strings.NewReader("end"),
			started: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "late", Audience: k.audience(t, "joint"), Class: ClassEvidence}, g)
			done <- err
		}()
		<-g.started
		// Another upload takes the last place meanwhile (its claim, as
		// if it were between its count and its record).
		if _, err := e.meta.Create(ctx, placeKey(k.caseID, "d-other"), placeRecord{Doc: "d-other", At: time.Now().UTC()}); err != nil {
			close(g.release)
			t.Fatal(err)
		}
		close(g.release)
		if err := <-done; !errors.Is(err, fault.ErrConflict) || !strings.HasPrefix(err.Error(), "this case already has 2 documents") {
			t.Fatalf("upload into a place taken meanwhile: %v", err)
		}
		for _, ev := range e.entries(t, from) {
			if strings.HasPrefix(ev.Type, "doc.upload") {
				t.Errorf("refused upload left %s in the audit log: %+v", ev.Type, ev)
			}
		}
		if n := countObjects(t, store, "docs/"+k.caseID+"/"); n != 1 {
			t.Errorf("%d ciphertext objects for 1 document", n)
		}
	})
}

// TestVersionRefusedAtTheLimitIsCorrectedInTheLog: of two versions
// uploading side by side into a document's last place, the one that
// commits second is refused; its doc.upload entry (appended before the
// version could become visible) is followed by doc.upload.failed with
// its op and cause "conflict". Before, it stood uncorrected.
func TestVersionRefusedAtTheLimitIsCorrectedInTheLog(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		e.vault.maxVersions = 2
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassEvidence, []byte("v1"))
		from := e.log.Size()
		g := &gatedReader{first: strings.NewReader(strings.Repeat("draft ", 20000)), rest: strings.NewReader("end"),
			started: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, g)
			done <- err
		}()
		<-g.started // its number reserved, its bytes streaming
		if _, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, bytes.NewReader([]byte("v2"))); err != nil {
			close(g.release)
			t.Fatal(err)
		}
		close(g.release)
		if err := <-done; !errors.Is(err, fault.ErrConflict) || !strings.HasPrefix(err.Error(), "this document already has 2 versions") {
			t.Fatalf("version into a place taken meanwhile: %v", err)
		}
		uploads, failed := uploadEntriesTrue(t, e, k, from)
		if uploads != 2 || failed != 1 {
			t.Errorf("%d doc.upload and %d doc.upload.failed entries, want 2 and 1", uploads, failed)
		}
		for _, ev := range e.entries(t, from) {
			if ev.Type == "doc.upload.failed" && ev.Attrs["cause"] != "conflict" {
				t.Errorf("correction's cause %q, want conflict", ev.Attrs["cause"])
			}
		}
	})
}

// TestPartiesLeaveTheMediatorsTheirReserve: a party, lawyer or observer
// adds a new document only while the case holds fewer than maxDocs less
// the mediators' reserve, so one side filling the case cannot stop the
// mediators; the mediators fill it to maxDocs.
func TestPartiesLeaveTheMediatorsTheirReserve(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	e.vault.maxDocs, e.vault.reserve = 4, 2
	k := e.newCast(t)
	ctx := t.Context()
	med, pB := k.who["mediator"], k.who["partyB"]
	caucusB := k.audience(t, "caucus:B")
	for i := range 2 {
		e.upload(t, pB, k.caseID, fmt.Sprintf("flood %d", i), caucusB, ClassEvidence, []byte("x"))
	}
	_, err := e.vault.Upload(ctx, k.who["partyA"], k.caseID, NewDocument{Name: "mine", Audience: k.audience(t, "caucus:A"), Class: ClassEvidence}, bytes.NewReader([]byte("y")))
	if !errors.Is(err, ErrDocumentLimit) || !strings.Contains(err.Error(), "the most its parties and lawyers may add") {
		t.Fatalf("a party's upload past the parties' share: %v", err)
	}
	for i := range 2 {
		e.upload(t, med, k.caseID, fmt.Sprintf("agenda %d", i), k.audience(t, "joint"), ClassEvidence, []byte("x"))
	}
	_, err = e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "one too many", Audience: k.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader([]byte("y")))
	if !errors.Is(err, ErrDocumentLimit) || !strings.Contains(err.Error(), "the most one case holds") {
		t.Fatalf("the mediator's upload past the case's limit: %v", err)
	}
}

// TestNewDocumentsPerPersonPerDay: one party, lawyer or observer adds at
// most perDay new documents to a case a day (a 429 saying when more may
// be added); another person is not affected, new versions are not
// counted, an upload that was refused does not count, and the case's
// mediators are not limited.
func TestNewDocumentsPerPersonPerDay(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	e.vault.perDay = 2
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, pB := k.who["mediator"], k.who["partyA"], k.who["partyB"]
	caucusA, caucusB := k.audience(t, "caucus:A"), k.audience(t, "caucus:B")
	first := e.upload(t, pA, k.caseID, "one", caucusA, ClassEvidence, []byte("x"))
	e.upload(t, pA, k.caseID, "two", caucusA, ClassEvidence, []byte("x"))
	_, err := e.vault.Upload(ctx, pA, k.caseID, NewDocument{Name: "three", Audience: caucusA, Class: ClassEvidence}, bytes.NewReader([]byte("y")))
	re, ok := fault.AsRateLimited(err)
	if !ok || re.RetryAfter <= 23*time.Hour || !strings.HasPrefix(err.Error(), "you have added 2 new documents to this case in the last day") {
		t.Fatalf("a third new document in a day: %v", err)
	}
	if _, err := e.vault.AddVersion(ctx, pA, k.caseID, first.ID, NewVersion{}, bytes.NewReader([]byte("v2"))); err != nil {
		t.Fatalf("a new version after the day's new documents: %v", err)
	}
	// Party B's first attempt is refused by the case's limit: not counted.
	e.vault.maxDocs = 2 + e.vault.reserve
	if _, err := e.vault.Upload(ctx, pB, k.caseID, NewDocument{Name: "b0", Audience: caucusB, Class: ClassEvidence}, bytes.NewReader([]byte("y"))); !errors.Is(err, ErrDocumentLimit) {
		t.Fatalf("party B's upload in a full case: %v", err)
	}
	e.vault.maxDocs = MaxDocumentsPerCase
	for i := range 2 {
		e.upload(t, pB, k.caseID, fmt.Sprintf("b%d", i+1), caucusB, ClassEvidence, []byte("x"))
	}
	for i := range 3 {
		e.upload(t, med, k.caseID, fmt.Sprintf("m%d", i), k.audience(t, "joint"), ClassEvidence, []byte("x"))
	}
}

// oneDocShort is a case on store that holds at most 2 documents and has
// one, uploaded by its mediator (med).
func oneDocShort(t *testing.T, store objstore.Store) (*env, *cast, account.Account) {
	t.Helper()
	e := newEnv(t, store)
	e.vault.maxDocs = 2
	k := e.newCast(t)
	med := k.who["mediator"]
	e.upload(t, med, k.caseID, "doc 0", k.audience(t, "joint"), ClassEvidence, []byte("x"))
	return e, k, med
}
