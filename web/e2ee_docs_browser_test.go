package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserE2EEDocuments drives web/client/test/e2ee-docs.mjs, end-to-end
// encrypted documents between a mediator's browser and two parties' Go
// devices (Ada Okafor, Tenant; Ben Lindqvist, Landlord):
//   - Go → browser: Ada's device encrypts a document for the Tenant
//     caucus; the mediator's browser downloads and decrypts it to the same
//     bytes, and a copy altered on the way is refused with plain words and
//     no file;
//   - browser → Go: the mediator's browser encrypts a file for the Tenant
//     caucus; Ada's device decrypts it to the same bytes, Ben's gets
//     nothing, and none of the key wraps the server holds (decoded here
//     as the mediator) has a copy for Ben's device;
//   - share and narrow by re-wrap from the browser: shared to the joint
//     room, Ben's device decrypts it; narrowed back, Ben is refused and
//     no wrap holds a copy for his device any more;
//   - a lying server shows Ada's offer as "Hearing schedule.pdf" (review
//     finding 1): the browser checks the name against the one Ada's device
//     signed, refuses the share (no confirmation, no wrap for Ben) and the
//     download in plain words;
//   - a records clerk puts it on legal hold from the records screen, which
//     the mediator's card shows;
//   - upgrade: the mediator's browser encrypts two old server-encrypted
//     documents end to end (one held document left as it is); Ada's
//     device then decrypts the Tenant caucus's one to its original bytes
//     and Ben's cannot, Ben's decrypts the joint one, and the store keeps
//     one copy of each (the server's readable copy is gone);
//   - a newcomer (Ada's lawyer, joining late with a new device) gets the
//     keys to the three Tenant caucus documents and the joint one (the
//     upgraded ones among them) from the mediator's browser when it opens
//     the documents, which says so (review finding 6); the next pass,
//     after a reload, gives nothing and refuses nothing (review 404 M1);
//   - disposal of the closed case, driven by the records clerk: the held
//     document's bytes stay while its neighbours go; released, the next
//     disposal destroys it (certificate shown) and no stored object of it
//     is left.
func TestBrowserE2EEDocuments(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail := "mediator-" + ids.New("x")[2:10] + "@browser.test"
	recEmail := "records-" + ids.New("x")[2:10] + "@browser.test"
	rec2Email := "records2-" + ids.New("x")[2:10] + "@browser.test"
	for _, a := range []account.NewAccount{
		{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password},
		{Email: recEmail, Name: "Rita Records", Role: policy.RoleRecords, Password: nodetest.Password},
		{Email: rec2Email, Name: "Rob Records", Role: policy.RoleRecords, Password: nodetest.Password},
	} {
		if _, err := n.Accounts.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	recC := client.New(n.URL, "")
	if _, err := recC.Login(ctx, recEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	rec2C := client.New(n.URL, "")
	if _, err := rec2C.Login(ctx, rec2Email, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	// Evidence is disposed of as soon as the case closes.
	setRuleApproved(t, recC, rec2C, "evidence", "case-closed", "0d")
	k, err := medC.CreateCaseWith(ctx, api.CreateCaseRequest{Title: "Okafor v. Lindqvist — deposit", Type: "tenancy", ReferralSource: "court",
		Sides: []string{"Tenant", "Landlord"}, Reference: "2026-CV-0321"})
	if err != nil {
		t.Fatal(err)
	}
	member := func(role, side, name string) (*client.E2EE, string) {
		inv, err := medC.Invite(ctx, k.ID, role, side, name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if _, err := client.InitDevice(dir, s.Account.ID, e2ee.KEMXWing); err != nil {
			t.Fatal(err)
		}
		x, err := pc.E2EE(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Register(ctx); err != nil {
			t.Fatal(err)
		}
		return x, s.Account.ID
	}
	party := func(side, name string) (*client.E2EE, string) { return member("party", side, name) }
	ada, adaID := party("A", "Ada Okafor")
	var cora *client.E2EE // Ada's lawyer, who joins late (a newcomer)
	ben, benID := party("B", "Ben Lindqvist")
	offer := bytes.Repeat([]byte("Our bottom line is 4,000. "), 4000) // two segments
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	// Old documents, stored before end-to-end encryption: encrypted by the
	// server's vault only. The lease is on legal hold.
	hearing := bytes.Repeat([]byte("Hearing on 14 January at 10:00. "), 3000) // two segments
	intake := []byte("Intake form: both sides agree to mediate.")
	old := map[string]string{}
	for _, o := range []struct {
		name, audience, class string
		body                  []byte
	}{{"Hearing-schedule.pdf", "caucus:A", "evidence", hearing}, {"Intake-form.pdf", "joint", "evidence", intake}, {"Lease.pdf", "joint", "correspondence", []byte("Lease of 1 May.")}} {
		d, err := medC.UploadDocument(ctx, k.ID, client.Upload{Name: o.name, MediaType: "application/pdf", Audience: o.audience, Class: o.class,
			Body: bytes.NewReader(o.body), Size: int64(len(o.body))})
		if err != nil {
			t.Fatal(err)
		}
		old[o.name] = d.ID
	}
	if _, err := recC.HoldDocument(ctx, k.ID, old["Lease.pdf"], true, "Complaint", "Rule 12"); err != nil {
		t.Fatal(err)
	}
	// stored counts the live stored versions (no delete markers) of every
	// object whose key names docID: ciphertext, version and document records.
	var summary, offerID string // kept for after their disposal
	stored := func(docID string) (map[string]int, error) {
		out := map[string]int{}
		err := n.Store.VersionsUnder(ctx, "", func(v objstore.Version) error {
			if !v.DeleteMarker && strings.Contains(v.Key, docID) {
				out[v.Key]++
			}
			return nil
		})
		return out, err
	}
	byName := func(x *client.E2EE, name string) (api.Document, error) {
		docs, err := x.C.Documents(ctx, k.ID)
		if err != nil {
			return api.Document{}, err
		}
		for _, d := range docs {
			if d.Name == name {
				return d, nil
			}
		}
		return api.Document{}, fmt.Errorf("no document %q listed", name)
	}
	summaryID := func() (string, error) {
		docs, err := medC.Documents(ctx, k.ID)
		if err != nil {
			return "", err
		}
		for _, d := range docs {
			if d.Name == "Medical-summary.pdf" {
				return d.ID, nil
			}
		}
		return "", errors.New("no Medical-summary.pdf")
	}
	// read decrypts a document on x's device and returns its SHA-256.
	read := func(x *client.E2EE, docID string) (string, error) {
		d, err := x.DownloadDocumentE2EE(ctx, k.ID, docID, 0)
		if err != nil {
			return "", err
		}
		defer d.Body.Close()
		b, err := io.ReadAll(d.Body)
		if err != nil {
			return "", err
		}
		if !d.E2EE {
			return "", errors.New("not end-to-end encrypted")
		}
		return sum(b), nil
	}
	// recipients decodes, as the mediator, every key wrap the server holds
	// for the Medical summary's latest version and tells whether any holds
	// a copy for Ada's and for Ben's device: the browser's wraps themselves,
	// not only whether the server lets Ben download (review finding 7).
	recipients := func() (toAda, toBen bool, err error) {
		id, err := summaryID()
		if err != nil {
			return false, false, err
		}
		var keys api.DocumentKeys
		if err := medC.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(k.ID)+"/documents/"+url.PathEscape(id)+"/keys", nil, &keys); err != nil {
			return false, false, err
		}
		if len(keys.Wraps) == 0 {
			return false, false, errors.New("the server holds no key wrap for the browser's upload")
		}
		for _, raw := range keys.Wraps {
			w, err := e2ee.DecodeDocKey(raw)
			if err != nil {
				return false, false, err
			}
			toAda = toAda || slices.Contains(w.Devices(), ada.Me.ID)
			toBen = toBen || slices.Contains(w.Devices(), ben.Me.ID)
		}
		return toAda, toBen, nil
	}
	noKeyForBen := func(when string) (string, error) {
		toAda, toBen, err := recipients()
		if err != nil {
			return "", err
		}
		if toBen || !toAda {
			return "", fmt.Errorf("%s: the key wraps hold a copy for Ada's device: %v, for Ben's: %v", when, toAda, toBen)
		}
		return "", nil
	}
	must := func(id string, err error) string {
		if err != nil {
			t.Error(err)
		}
		return id
	}
	browserScript{
		name: "e2ee-docs.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_RECORDS_EMAIL=" + recEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_CASE=" + k.ID, "PARLEY_HEARING_SHA256=" + sum(hearing)},
		ask: map[string]func(string) (string, error){
			// Once the mediator's browser has signed a membership naming
			// both parties, Ada's device encrypts and uploads the offer.
			"upload": func(string) (string, error) {
				deadline := time.Now().Add(30 * time.Second)
				for {
					devs, _, err := ada.CaseDevices(ctx, k.ID)
					if err == nil {
						chain, cerr := ada.Statements(ctx, k.ID, devs)
						if cerr == nil && chain.Latest() != nil && slices.ContainsFunc(chain.Latest().People, func(p e2ee.Person) bool { return p.Account == benID }) &&
							slices.ContainsFunc(chain.Latest().People, func(p e2ee.Person) bool { return p.Account == adaID }) {
							break
						}
					}
					if time.Now().After(deadline) {
						return "", errors.New("the mediator's browser signed no membership naming both parties within 30s")
					}
					time.Sleep(100 * time.Millisecond)
				}
				d, err := ada.UploadDocumentE2EE(ctx, k.ID, client.Upload{Name: "Offer-4000.pdf", MediaType: "application/pdf",
					Audience: "caucus:A", Class: "evidence", Body: bytes.NewReader(offer), Size: int64(len(offer))})
				offerID = d.ID
				return sum(offer), err
			},
			// What the mediator's browser encrypted: Ada's device decrypts
			// it to the browser's bytes; Ben's side cannot get it.
			"summary": func(want string) (string, error) {
				d, err := byName(ada, "Medical-summary.pdf")
				if err != nil {
					return "", err
				}
				if !d.E2EE {
					return "", errors.New("the browser's upload is not end-to-end encrypted")
				}
				if got, err := read(ada, d.ID); err != nil || got != want {
					return "", fmt.Errorf("Ada's device read %s, %v; the browser sent %s", got, err, want)
				}
				if _, err := read(ben, d.ID); err == nil {
					return "", errors.New("Ben's device read the Tenant caucus's document")
				}
				return noKeyForBen("after the upload")
			},
			// After the browser's share to the joint room: Ben's device
			// holds a key it wrapped and reads the same bytes.
			"ben-reads": func(want string) (string, error) {
				id, err := summaryID()
				if err != nil {
					return "", err
				}
				if got, err := read(ben, id); err != nil || got != want {
					return "", fmt.Errorf("Ben's device read %s, %v after the share; want %s", got, err, want)
				}
				if _, toBen, err := recipients(); err != nil || !toBen {
					return "", fmt.Errorf("after the share to the joint room no wrap holds a copy for Ben's device (%v)", err)
				}
				return "", nil
			},
			// After the browser narrowed it back to the Tenant caucus.
			"ben-cannot": func(string) (string, error) {
				id, err := summaryID()
				if err != nil {
					return "", err
				}
				if _, err := read(ben, id); err == nil {
					return "", errors.New("Ben's device still reads it after the narrowing")
				}
				return noKeyForBen("after the narrowing")
			},
			// After the browser refused to share the relabelled offer: it is
			// still side A's caucus's, and no wrap holds a copy for Ben.
			"offer-unshared": func(string) (string, error) {
				d, err := byName(ada, "Offer-4000.pdf")
				if err != nil {
					return "", err
				}
				if d.Audience != "caucus:A" {
					return "", fmt.Errorf("the relabelled offer is now shared with %s", d.Audience)
				}
				var keys api.DocumentKeys
				if err := medC.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(k.ID)+"/documents/"+url.PathEscape(d.ID)+"/keys", nil, &keys); err != nil {
					return "", err
				}
				for _, raw := range keys.Wraps {
					if w, err := e2ee.DecodeDocKey(raw); err != nil || slices.Contains(w.Devices(), ben.Me.ID) {
						return "", fmt.Errorf("a wrap of the relabelled offer for Ben's device (%v)", err)
					}
				}
				return "", nil
			},
			// A newcomer: Ada's lawyer joins the Tenant side and registers a
			// device while the mediator's browser is away from the case.
			"newcomer": func(string) (string, error) {
				cora, _ = member("counsel", "A", "Cora Achebe")
				if _, err := read(cora, must(summaryID())); err == nil {
					return "", errors.New("the newcomer's device read a document before anyone gave it a key")
				}
				return "", nil
			},
			// After the mediator's browser gave her device the keys: it
			// reads the Tenant caucus documents and the joint one.
			"cora-reads": func(want string) (string, error) {
				if got, err := read(cora, must(summaryID())); err != nil || got != want {
					return "", fmt.Errorf("the newcomer's device read the summary as %s, %v; want %s", got, err, want)
				}
				d, err := byName(ada, "Offer-4000.pdf")
				if err != nil {
					return "", err
				}
				if got, err := read(cora, d.ID); err != nil || got != sum(offer) {
					return "", fmt.Errorf("the newcomer's device read the offer as %s, %v", got, err)
				}
				// The upgraded ones: their wraps bind the names the server
				// kept, and the mediator's re-wraps carry those bindings.
				for name, body := range map[string][]byte{"Hearing-schedule.pdf": hearing, "Intake-form.pdf": intake} {
					if got, err := read(cora, old[name]); err != nil || got != sum(body) {
						return "", fmt.Errorf("the newcomer's device read the upgraded %s as %s, %v", name, got, err)
					}
				}
				return "", nil
			},
			// After the browser's upgrade: the parties' devices decrypt the
			// old documents end to end; the server keeps one stored copy
			// of each (its own readable copy is deleted); the held lease
			// is as it was.
			"upgraded": func(string) (string, error) {
				for _, c := range []struct {
					x    *client.E2EE
					name string
					body []byte
				}{{ada, "Hearing-schedule.pdf", hearing}, {ben, "Intake-form.pdf", intake}, {ada, "Intake-form.pdf", intake}} {
					if got, err := read(c.x, old[c.name]); err != nil || got != sum(c.body) {
						return "", fmt.Errorf("%s after the upgrade: read %s, %v; want the original bytes", c.name, got, err)
					}
				}
				if _, err := read(ben, old["Hearing-schedule.pdf"]); err == nil {
					return "", errors.New("Ben's device read the Tenant caucus's upgraded document")
				}
				// The browser's upgrade wraps bind the name and type the
				// server keeps, as a fresh upload's do.
				for _, name := range []string{"Hearing-schedule.pdf", "Intake-form.pdf"} {
					d, err := medC.Document(ctx, k.ID, old[name])
					if err != nil {
						return "", err
					}
					var keys api.DocumentKeys
					if err := medC.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(k.ID)+"/documents/"+url.PathEscape(d.ID)+"/keys", nil, &keys); err != nil {
						return "", err
					}
					if len(keys.Wraps) == 0 {
						return "", fmt.Errorf("%s: no wrap after the upgrade", name)
					}
					for _, raw := range keys.Wraps {
						w, err := e2ee.DecodeDocKey(raw)
						if err != nil || !w.Ctx.Name.Bound() || w.Ctx.Name.Check(name, d.MediaType) != nil {
							return "", fmt.Errorf("%s: an upgrade wrap that does not bind its name and type %s (%v)", name, d.MediaType, err)
						}
					}
				}
				for _, name := range []string{"Hearing-schedule.pdf", "Intake-form.pdf"} {
					objs, err := stored(old[name])
					if err != nil {
						return "", err
					}
					// The ciphertext and the version record with its data key:
					// one copy each, the upgraded one.
					for _, key := range []string{"docs/" + k.ID + "/" + old[name] + "/1", fmt.Sprintf("vault/%s/versions/%s/%010d", k.ID, old[name], 1)} {
						if objs[key] != 1 {
							return "", fmt.Errorf("%s: %d stored copies of %s after the upgrade, want 1 (the server could still read the old one)", name, objs[key], key)
						}
					}
				}
				lease, err := medC.Document(ctx, k.ID, old["Lease.pdf"])
				if err != nil || lease.E2EE || !lease.Held {
					return "", fmt.Errorf("the held lease after the upgrade: e2ee %v, held %v, %v", lease.E2EE, lease.Held, err)
				}
				return "", nil
			},
			"close": func(string) (string, error) {
				_, err := medC.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"})
				return "", err
			},
			"approve": func(plan string) (string, error) {
				pa, err := rec2C.PlanActions(ctx, plan)
				if err != nil {
					return "", err
				}
				_, err = rec2C.ApprovePlan(ctx, plan, pa.ActionsDigest)
				return "", err
			},
			// After the disposal while the summary was held: its stored
			// bytes stay; its end-to-end encrypted neighbours are gone.
			"kept": func(string) (string, error) {
				id, err := summaryID()
				if err != nil {
					return "", err
				}
				summary = id
				objs, err := stored(id)
				if err != nil {
					return "", err
				}
				if objs["docs/"+k.ID+"/"+id+"/1"] != 1 {
					return "", fmt.Errorf("the held document's ciphertext after the disposal: %v", objs)
				}
				for _, d := range []string{offerID, old["Hearing-schedule.pdf"], old["Intake-form.pdf"]} {
					if objs, err := stored(d); err != nil || len(objs) > 0 {
						return "", fmt.Errorf("a document not held survived the disposal: %v %v", objs, err)
					}
				}
				return "", nil
			},
			// After the disposal that followed the release: nothing of it
			// is stored, in any version.
			"gone": func(string) (string, error) {
				docs, err := medC.Documents(ctx, k.ID)
				if err != nil {
					return "", err
				}
				for _, d := range docs {
					if d.Name == "Medical-summary.pdf" {
						return "", errors.New("the summary is still listed after the disposal")
					}
				}
				if summary == "" {
					return "", errors.New("no summary id kept from before")
				}
				if objs, err := stored(summary); err != nil || len(objs) > 0 {
					return "", fmt.Errorf("stored objects of the disposed summary: %v %v", objs, err)
				}
				return "", nil
			},
		},
		shots: []string{"e2ee-docs-card.png", "e2ee-docs-card-phone.png", "e2ee-docs-upload.png", "e2ee-docs-refused.png", "e2ee-docs-share.png",
			"e2ee-docs-share-phone.png", "e2ee-docs-relabelled.png", "e2ee-docs-relabelled-phone.png", "e2ee-docs-upgrade-confirm.png", "e2ee-docs-upgrade-done.png",
			"e2ee-docs-upgrade-phone.png", "e2ee-docs-newcomers.png", "e2ee-docs-newcomers-phone.png", "e2ee-docs-certificate.png", "e2ee-docs-certificate-phone.png"},
	}.run(t, n.URL)
}
