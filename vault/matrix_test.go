package vault

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// audiences are the matrix's columns, in order.
var audiences = []string{"joint", "caucus:A", "caucus:B", "mediators", "user:partyA"}

// matrix is the specification: for each role, what it may do to a document
// (class evidence, uploaded by the mediator) shared with each audience.
// L list (appears in the case's list), M read metadata, D download,
// U upload a new version, S share, H place a hold. Everything else is
// refused.
var matrix = map[string][5]string{
	//           joint    caucus:A  caucus:B  mediators  user:partyA
	"admin":    {"", "", "", "", ""},
	"records":  {"LMH", "LMH", "LMH", "LMH", "LMH"},
	"mediator": {"LMDUS", "LMDUS", "LMDUS", "LMDUS", "LMDUS"},
	"recused":  {"", "", "", "", ""},
	"partyA":   {"LMD", "LMDU", "", "", "LMD"},
	"counselA": {"LMD", "LMDU", "", "", ""},
	"partyB":   {"LMD", "", "LMDU", "", ""},
	"counselB": {"LMD", "", "LMDU", "", ""},
	"observer": {"LMD", "", "", "", ""},
	"outsider": {"", "", "", "", ""},
}

// TestAuthorizationMatrix exercises every role × audience × action through
// the vault service on real storage and compares with the table.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		content := map[string][]byte{}
		docs := map[string]Document{}
		for _, aud := range audiences {
			content[aud] = randomBytes(SegmentSize + 100)
			docs[aud] = e.upload(t, k.who["mediator"], k.caseID, "Report for "+aud+".pdf", k.audience(t, aud), ClassEvidence, content[aud])
		}
		var wrong []string
		check := func(who, aud string, letter byte, err error) {
			want := strings.IndexByte(matrix[who][slices.Index(audiences, aud)], letter) >= 0
			switch {
			case want && err != nil:
				wrong = append(wrong, fmt.Sprintf("%s %s %c: refused (%v), want allowed", who, aud, letter, err))
			case !want && err == nil:
				wrong = append(wrong, fmt.Sprintf("%s %s %c: allowed, want refused", who, aud, letter))
			case !want && !isRefusal(err):
				wrong = append(wrong, fmt.Sprintf("%s %s %c: failed with %v, want forbidden or not found", who, aud, letter, err))
			}
		}
		for _, who := range roles {
			actor := k.who[who]
			list, listErr := e.vault.List(ctx, actor, k.caseID)
			for _, aud := range audiences {
				doc := docs[aud]
				// L: the document is in the actor's list.
				err := listErr
				if err == nil && !slices.ContainsFunc(list, func(d Document) bool { return d.ID == doc.ID }) {
					err = fault.ErrNotFound
				}
				check(who, aud, 'L', err)
				// M: its metadata.
				_, err = e.vault.Get(ctx, actor, k.caseID, doc.ID)
				check(who, aud, 'M', err)
				// D: its content, which must be the uploaded bytes.
				got, err := e.download(t, actor, k.caseID, doc.ID, 1)
				if err == nil && !bytes.Equal(got, content[aud]) {
					err = errors.New("downloaded bytes differ")
				}
				check(who, aud, 'D', err)
				// S: a share (previewed, so the table stays put; the
				// preview is decided exactly like the share).
				_, err = e.vault.Share(ctx, actor, k.caseID, doc.ID, k.audience(t, "mediators"), true)
				if aud == "mediators" {
					_, err = e.vault.Share(ctx, actor, k.caseID, doc.ID, k.audience(t, "joint"), true)
				}
				check(who, aud, 'S', err)
				// H: place a hold, and release it.
				_, err = e.vault.SetHold(ctx, actor, k.caseID, doc.ID, true)
				if err == nil {
					if _, err := e.vault.SetHold(ctx, actor, k.caseID, doc.ID, false); err != nil {
						t.Fatalf("%s releasing the hold on %s: %v", who, aud, err)
					}
				}
				check(who, aud, 'H', err)
				// U: a new version.
				_, err = e.vault.AddVersion(ctx, actor, k.caseID, doc.ID, NewVersion{}, strings.NewReader(who+" was here"))
				check(who, aud, 'U', err)
			}
		}
		slices.Sort(wrong)
		if len(wrong) > 0 {
			t.Fatalf("%d decisions differ from the table:\n%s", len(wrong), strings.Join(wrong, "\n"))
		}
		// Every allowed new version landed, numbered in order.
		for _, aud := range audiences {
			d, err := e.vault.Get(ctx, k.who["mediator"], k.caseID, docs[aud].ID)
			if err != nil {
				t.Fatal(err)
			}
			uploaders := 0
			for _, who := range roles {
				if strings.IndexByte(matrix[who][slices.Index(audiences, aud)], 'U') >= 0 {
					uploaders++
				}
			}
			if d.Version != 1+uploaders || len(d.Versions) != 1+uploaders {
				t.Fatalf("%s: latest version %d with %d versions, want %d", aud, d.Version, len(d.Versions), 1+uploaders)
			}
			got, err := e.download(t, k.who["mediator"], k.caseID, d.ID, 1)
			if err != nil || !bytes.Equal(got, content[aud]) {
				t.Fatalf("%s: version 1 after new versions: %v", aud, err)
			}
		}
	})
}

// A refusal is audited, and a document the actor may not know of is not
// found rather than forbidden.
func TestRefusalsAuditedAndHidden(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		d := e.upload(t, k.who["mediator"], k.caseID, "a.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("caucus A only"))
		n := e.log.Size()
		_, err := e.download(t, k.who["partyB"], k.caseID, d.ID, 0)
		if !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("party B downloading caucus A's document: %v, want not found", err)
		}
		ev := e.lastEntry(t)
		if e.log.Size() != n+1 || ev.Type != "access.denied" || ev.Actor != k.who["partyB"].ID || ev.Attrs["action"] != "doc.download" || ev.Objects[0] != d.ID {
			t.Fatalf("refusal audited as %+v", ev)
		}
		// Records staff know the document exists: they are forbidden.
		_, err = e.download(t, k.who["records"], k.caseID, d.ID, 0)
		if !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("records downloading: %v, want forbidden", err)
		}
		// Admins and outsiders cannot even list the case's documents. An
		// outsider is told the case is not found, as for one that does
		// not exist.
		for who, want := range map[string]error{"admin": fault.ErrForbidden, "outsider": fault.ErrNotFound, "recused": fault.ErrForbidden} {
			if _, err := e.vault.List(t.Context(), k.who[who], k.caseID); !errors.Is(err, want) {
				t.Fatalf("%s listing: %v, want %v", who, err, want)
			}
		}
	})
}
