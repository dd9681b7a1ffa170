package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestUploadOptionsAgreeWithUploads: the upload form's choices come from
// policy. Every audience the answer allows takes an upload, every one it
// refuses is refused by the upload itself, and a party sees only their own
// side's caucus with the reason for the rest in words.
func TestUploadOptionsAgreeWithUploads(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	want := map[string][]string{
		"mediator": {"joint", "caucus:A", "caucus:B", "mediators"},
		"partyA":   {"caucus:A"},
		"counselA": {"caucus:A"},
		"partyB":   {"caucus:B"},
		"observer": nil,
	}
	for who, allowed := range want {
		var opts api.UploadOptions
		if err := k.as[who].Do(t.Context(), http.MethodGet, "/api/v1/cases/"+k.caseID+"/documents/upload-options", nil, &opts); err != nil {
			t.Fatalf("%s: upload options: %v", who, err)
		}
		if opts.MaxSize <= 0 || len(opts.Audiences) != 4 {
			t.Fatalf("%s: %+v", who, opts)
		}
		var got []string
		for _, a := range opts.Audiences {
			if a.Allowed {
				got = append(got, a.Audience)
				if len(a.Classes) == 0 || a.Why != "" {
					t.Errorf("%s: allowed %s without classes or with a reason: %+v", who, a.Audience, a)
				}
			} else if a.Why == "" || strings.Contains(a.Why, "doc.") || len(a.Classes) != 0 {
				t.Errorf("%s: refused %s without plain words: %+v", who, a.Audience, a)
			}
			// The answer is what an upload does.
			class := "evidence"
			if len(a.Classes) > 0 {
				class = a.Classes[0]
			}
			_, err := k.as[who].UploadDocument(t.Context(), k.caseID, client.Upload{Name: who + " " + a.Audience + ".txt", MediaType: "text/plain",
				Audience: a.Audience, Class: class, Body: bytes.NewReader([]byte("x")), Size: 1})
			if (err == nil) != a.Allowed {
				t.Errorf("%s: options say %s allowed=%v, the upload answered %v", who, a.Audience, a.Allowed, err)
			}
		}
		if !slices.Equal(got, allowed) {
			t.Errorf("%s may upload to %v, want %v", who, got, allowed)
		}
	}
	// Someone outside the case learns nothing.
	_, outsider := n.Staff(t, "mediator", "outsider@example.org")
	var opts api.UploadOptions
	if err := outsider.Do(t.Context(), http.MethodGet, "/api/v1/cases/"+k.caseID+"/documents/upload-options", nil, &opts); status(err) != 404 {
		t.Fatalf("outsider: %v %+v", err, opts)
	}
}

// TestShareDryRunNamesInvitedPeople: a share's preview names the people
// invited and not joined yet who will open the document once they join,
// and only those.
func TestShareDryRunNamesInvitedPeople(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	med := k.as["mediator"]
	for _, inv := range [][3]string{{"party", "B", "Pat Pending"}, {"counsel", "A", "Casey Counsel"}} {
		if _, err := med.Invite(ctx, k.caseID, inv[0], inv[1], inv[2], "", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	d := k.upload(t, "mediator", "Offer.txt", "caucus:A", "correspondence", []byte("offer"))
	preview := func(to string) []string {
		t.Helper()
		res := rawRequest(t, http.MethodPost, n.URL+"/api/v1/cases/"+k.caseID+"/documents/"+d.ID+"/share", med.Token,
			strings.NewReader(`{"audience":"`+to+`","dryRun":true}`), map[string]string{"Content-Type": "application/json"})
		defer res.Body.Close()
		var p api.ShareResult
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 200 {
			t.Fatalf("preview %s: %d %v", to, res.StatusCode, err)
		}
		var names []string
		for _, i := range p.Invited {
			names = append(names, i.Name+"/"+string(i.Role)+"/"+i.Side)
		}
		return names
	}
	// Counsel A already could (caucus:A); party B could not.
	if got := preview("joint"); !slices.Equal(got, []string{"Pat Pending/party/B"}) {
		t.Errorf("to joint: invited %v", got)
	}
	if got := preview("caucus:B"); !slices.Equal(got, []string{"Pat Pending/party/B"}) {
		t.Errorf("to caucus:B: invited %v", got)
	}
	if got := preview("mediators"); len(got) != 0 {
		t.Errorf("to mediators: invited %v", got)
	}
}
