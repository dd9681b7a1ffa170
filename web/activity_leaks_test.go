package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Per-route counters and the audit log's size let whoever reads them time
// other people's uploads, carries and recusals. The users' listener serves
// neither to a stranger: /metrics is not on it at all (it has a listener
// of its own), and the audit checkpoint answers records staff and admins
// only.
func TestMetricsAndCheckpointNotPublic(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@leaks.test")
	_, rec := n.Staff(t, policy.RoleRecords, "records@leaks.test")
	k, err := med.CreateCase(ctx, "Leak case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, k.ID, "party", "B", "Bea", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(n.URL, "")
	if _, err := party.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}

	if code, body := get(t, n.URL+"/metrics", ""); code != http.StatusNotFound || strings.Contains(body, "parley_http_requests_total") {
		t.Errorf("anonymous GET /metrics on the users' listener: %d %.80q, want 404", code, body)
	}
	if code, body := get(t, n.URL+"/metrics", party.Token); code != http.StatusNotFound || strings.Contains(body, "parley_http_requests_total") {
		t.Errorf("a party's GET /metrics: %d %.80q, want 404", code, body)
	}
	cp := n.URL + "/api/v1/audit/checkpoint"
	if code, body := get(t, cp, ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous checkpoint: %d %.80q, want 401", code, body)
	}
	if code, body := get(t, cp, party.Token); code != http.StatusForbidden {
		t.Errorf("a party's checkpoint: %d %.80q, want 403", code, body)
	}
	if code, body := get(t, cp, rec.Token); code != http.StatusOK || !strings.HasPrefix(body, "parley/audit\n") {
		t.Errorf("records staff's checkpoint: %d %.80q, want the signed checkpoint", code, body)
	}

	// The metrics listener of its own serves them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.ServeMetrics(mctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("metrics listener: %v", err)
		}
	})
	if code, body := get(t, "http://"+ln.Addr().String()+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "parley_http_requests_total") {
		t.Errorf("metrics listener: %d %.80q", code, body)
	}
	if code, _ := get(t, "http://"+ln.Addr().String()+"/api/v1/cases", med.Token); code != http.StatusNotFound {
		t.Errorf("the metrics listener serves the API: %d", code)
	}
}

// A stage change's note is the mediators': parties of either side see the
// change, never its text (a mediator may write why talks went back in
// words one side must not read).
func TestStageNoteForMediatorsOnly(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@notes.test")
	k, err := med.CreateCase(ctx, "Notes case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	var parties []*client.Client
	for _, side := range []string{"A", "B"} {
		inv, err := med.Invite(ctx, k.ID, "party", side, "Party "+side, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p := client.New(n.URL, "")
		if _, err := p.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		nodetest.AcceptTerms(t, p, k.ID)
		parties = append(parties, p)
	}
	const note = "NOTE-CANARY side A admitted the debt in caucus"
	if _, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "opening"}); err != nil {
		t.Fatal(err)
	}
	mine, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "preparation", "note": note})
	if err != nil {
		t.Fatal(err)
	}
	if last := mine.StageHistory[len(mine.StageHistory)-1]; last.Note != note {
		t.Fatalf("the mediator does not see their own note: %+v", last)
	}
	for i, p := range parties {
		for _, path := range []string{"/api/v1/cases/" + k.ID, "/api/v1/cases"} {
			code, body := get(t, n.URL+path, p.Token)
			if code != http.StatusOK || strings.Contains(body, "NOTE-CANARY") {
				t.Errorf("party %d: GET %s: %d, note shown: %v", i, path, code, strings.Contains(body, "NOTE-CANARY"))
			}
		}
		c, err := p.Case(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.StageHistory) != 3 || c.StageHistory[2].To != "preparation" {
			t.Errorf("party %d does not see the stage change itself: %+v", i, c.StageHistory)
		}
	}
	if got, err := med.Case(ctx, k.ID); err != nil || got.StageHistory[2].Note != note {
		t.Errorf("the mediator's case view lost the note: %v %+v", err, got.StageHistory)
	}
}

// normalize blanks what differs between two answers only because the ids
// asked for differ (and the request id).
func normalize(body string, idsAsked ...string) string {
	for _, id := range idsAsked {
		body = strings.ReplaceAll(body, id, "ID")
	}
	var p api.Problem
	if json.Unmarshal([]byte(body), &p) == nil && p.Type != "" {
		p.RequestID = ""
		b, _ := json.Marshal(p)
		return string(b)
	}
	return body
}

// "Not yours" and "not there" are one answer: side B's party asking for
// another case, side A's caucus (its history, its documents), side A's
// carry, gets exactly what it gets for a case, room, document or carry
// that does not exist — same status, same body.
func TestNotYoursLooksLikeNotThere(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@oracle.test")
	k, err := med.CreateCase(ctx, "Oracle case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := med.CreateCase(ctx, "Someone else's case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	join := func(side string) *client.Client {
		inv, err := med.Invite(ctx, k.ID, "party", side, "Party "+side, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p := client.New(n.URL, "")
		if _, err := p.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		return p
	}
	partyA, partyB := join("A"), join("B")
	doc, err := med.UploadDocument(ctx, k.ID, client.Upload{Name: "a.txt", MediaType: "text/plain", Audience: "caucus:A",
		Class: "evidence", Body: strings.NewReader("side A only"), Size: 11})
	if err != nil {
		t.Fatal(err)
	}
	// Party A posts in their caucus; the mediator proposes carrying it.
	chat, err := partyA.Chat(ctx, k.ID, map[string]*messaging.Position{"caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("opaque payload")
	m, err := chat.Send(ctx, "caucus:A", ids.New("m"), body)
	chat.Close()
	if err != nil {
		t.Fatal(err)
	}
	carryID := ids.New("cr")
	if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/carries", keydir.CarryRequest{ID: carryID, From: "caucus:A", To: "joint",
		Epoch: m.Epoch, Offset: m.Offset, Hash: fmt.Sprintf("sha256:%x", e2ee.PayloadHash(body))}, nil); err != nil {
		t.Fatal(err)
	}

	missingCase, missingDoc, missingCarry := ids.New("c"), ids.New("d"), ids.New("cr")
	consent := `{"hash":"sha256:` + strings.Repeat("ab", 32) + `"}`
	for _, tc := range []struct {
		what              string
		method            string
		yours, notThere   string
		yoursID, missedID string
		body              string
	}{
		{"another case", "GET", "/api/v1/cases/" + other.ID, "/api/v1/cases/" + missingCase, other.ID, missingCase, ""},
		{"another case's summary", "GET", "/api/v1/cases/" + other.ID + "/summary", "/api/v1/cases/" + missingCase + "/summary", other.ID, missingCase, ""},
		{"another case's documents", "GET", "/api/v1/cases/" + other.ID + "/documents", "/api/v1/cases/" + missingCase + "/documents", other.ID, missingCase, ""},
		{"another side's caucus", "GET", "/api/v1/cases/" + k.ID + "/rooms/caucus:A/messages", "/api/v1/cases/" + k.ID + "/rooms/caucus:Z/messages", "caucus:A", "caucus:Z", ""},
		{"another side's document", "GET", "/api/v1/cases/" + k.ID + "/documents/" + doc.ID, "/api/v1/cases/" + k.ID + "/documents/" + missingDoc, doc.ID, missingDoc, ""},
		{"another side's document's content", "GET", "/api/v1/cases/" + k.ID + "/documents/" + doc.ID + "/content", "/api/v1/cases/" + k.ID + "/documents/" + missingDoc + "/content", doc.ID, missingDoc, ""},
		{"another person's carry", "POST", "/api/v1/cases/" + k.ID + "/carries/" + carryID + "/consent", "/api/v1/cases/" + k.ID + "/carries/" + missingCarry + "/consent", carryID, missingCarry, consent},
	} {
		do := func(path string) *http.Response {
			var rd io.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			return rawRequest(t, tc.method, n.URL+path, partyB.Token, rd, map[string]string{"Content-Type": "application/json"})
		}
		read := func(res *http.Response) (int, string) {
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		yc, yb := read(do(tc.yours))
		mc, mb := read(do(tc.notThere))
		if yc != http.StatusNotFound || mc != http.StatusNotFound {
			t.Errorf("%s: %d for the one that exists, %d for the one that does not; want 404 for both", tc.what, yc, mc)
		}
		if normalize(yb, tc.yoursID) != normalize(mb, tc.missedID) {
			t.Errorf("%s: the answers differ\nexists:  %s\nmissing: %s", tc.what, yb, mb)
		}
	}
}

// The outcome's sessions and hours count every session, caucuses
// included: side B, knowing the joint sessions and its own caucuses, would
// work out how much side A caucused. Parties, counsel and observers see
// how the case ended (the result) and nothing else of the outcome, in the
// case, the case list and the summary; the mediators and records staff
// keep it whole.
func TestOutcomeEffortForMediatorsAndRecords(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@effort.test")
	_, rec := n.Staff(t, policy.RoleRecords, "records@effort.test")
	k, err := med.CreateCase(ctx, "Effort case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	var people []*client.Client
	for _, who := range [][2]string{{"party", "A"}, {"party", "B"}, {"counsel", "B"}, {"observer", ""}} {
		inv, err := med.Invite(ctx, k.ID, who[0], who[1], "Someone "+who[0]+" "+who[1], "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p := client.New(n.URL, "")
		if _, err := p.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		nodetest.AcceptTerms(t, p, k.ID)
		people = append(people, p)
	}
	if _, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	if _, err := med.RecordOutcome(ctx, k.ID, "no-agreement", 9, 14.5); err != nil {
		t.Fatal(err)
	}
	// outcomes reads every outcome object in a JSON answer (a case, a
	// summary, or a list of them).
	outcomes := func(who, path, token string) []map[string]any {
		t.Helper()
		code, body := get(t, n.URL+path, token)
		if code != http.StatusOK {
			t.Fatalf("%s: GET %s: %d %.200s", who, path, code, body)
		}
		var one struct {
			Outcome map[string]any `json:"outcome"`
		}
		var many []struct {
			Outcome map[string]any `json:"outcome"`
		}
		if strings.HasPrefix(body, "[") {
			if err := json.Unmarshal([]byte(body), &many); err != nil {
				t.Fatal(err)
			}
		} else if err := json.Unmarshal([]byte(body), &one); err != nil {
			t.Fatal(err)
		} else {
			many = append(many, one)
		}
		var out []map[string]any
		for _, m := range many {
			if m.Outcome == nil {
				t.Errorf("%s: GET %s: no outcome", who, path)
			}
			out = append(out, m.Outcome)
		}
		return out
	}
	paths := []string{"/api/v1/cases/" + k.ID, "/api/v1/cases", "/api/v1/cases/" + k.ID + "/summary"}
	for i, p := range people {
		for _, path := range paths {
			for _, o := range outcomes(fmt.Sprintf("participant %d", i), path, p.Token) {
				if len(o) != 1 || o["result"] != "no-agreement" {
					t.Errorf("participant %d: GET %s: outcome %v, want the result alone", i, path, o)
				}
			}
		}
	}
	for _, path := range paths {
		for _, o := range outcomes("the mediator", path, med.Token) {
			if o["sessions"] != 9.0 || o["hours"] != 14.5 {
				t.Errorf("the mediator: GET %s: outcome %v, want 9 sessions and 14.5 hours", path, o)
			}
		}
	}
	for _, path := range paths[1:] {
		for _, o := range outcomes("records staff", path, rec.Token) {
			if o["sessions"] != 9.0 || o["hours"] != 14.5 {
				t.Errorf("records staff: GET %s: outcome %v, want 9 sessions and 14.5 hours", path, o)
			}
		}
	}
}
