package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// isolationCast is a case whose side A has said and filed things in its
// caucus, and a signed-in client for each person who must not see them.
type isolationCast struct {
	node      *nodetest.Node
	caseID    string
	as        map[string]*client.Client
	id        map[string]string
	docA      string // a document shared with caucus:A only
	disclosed string // a disclosure id (not confidential to a side)
	carry     string // a proposed carry of A's caucus message to the joint room
	// secret are the plaintexts side A put in its caucus (records staff
	// see a document's metadata, but not its name: names come with the
	// right to download).
	secret []string
}

func newIsolationCast(t *testing.T) *isolationCast {
	t.Helper()
	n := nodetest.Embedded(t)
	ctx := t.Context()
	// These tests look for every refusal's own entry, many a minute by one
	// person: the refusal limit (audit TestRefusalFloodIsCounted) is off.
	if err := n.Audit.SetDenialLimit(ctx, audit.DenialLimit{}, nil); err != nil {
		t.Fatal(err)
	}
	k := &isolationCast{node: n, as: map[string]*client.Client{}, id: map[string]string{}}
	for who, role := range map[string]policy.Role{"mediator": policy.RoleMediator, "recused": policy.RoleMediator, "records": policy.RoleRecords, "admin": policy.RoleAdmin} {
		a, c := n.Staff(t, role, who+"@example.org")
		k.as[who], k.id[who] = c, a.ID
	}
	med := k.as["mediator"]
	c, err := med.CreateCase(ctx, "Isolation", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	k.caseID = c.ID
	d, err := med.CaseAction(ctx, c.ID, "disclosures", map[string]string{"text": "I once met the buyer's cousin"})
	if err != nil || len(d.Disclosures) == 0 {
		t.Fatalf("disclosure: %v", err)
	}
	k.disclosed = d.Disclosures[0].ID
	for who, inv := range map[string][2]string{"partyA": {"party", "A"}, "counselA": {"counsel", "A"}, "partyB": {"party", "B"}, "counselB": {"counsel", "B"}} {
		link, err := med.Invite(ctx, c.ID, inv[0], inv[1], "Person "+who, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, link.Link)
		if err != nil {
			t.Fatal(err)
		}
		k.as[who], k.id[who] = pc, s.Account.ID
	}
	// The co-mediator joins once the people are in: a case with two
	// mediators and no signed membership yet takes no invitation from
	// either (cases.ErrNotOpenYet).
	if _, err := med.CaseAction(ctx, c.ID, "mediators", map[string]string{"accountId": k.id["recused"]}); err != nil {
		t.Fatal(err)
	}
	// Side A talks and files in its caucus.
	msg, name, body := "CANARY-caucusA-message-5e1f", "CANARY-caucusA-docname-77b2.txt", "CANARY-caucusA-doccontent-0c9d"
	k.secret = []string{msg, name, body}
	ch, err := k.as["partyA"].Chat(ctx, c.ID, map[string]*messaging.Position{"caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ch.Send(ctx, "caucus:A", "a-1", []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	ch.Close()
	k.carry = "cr_" + strings.Repeat("b", 26)
	if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/carries", map[string]any{"id": k.carry, "from": "caucus:A", "to": "joint",
		"epoch": m.Epoch, "offset": m.Offset, "hash": fmt.Sprintf("sha256:%x", e2ee.PayloadHash([]byte(msg)))}, nil); err != nil {
		t.Fatalf("proposing a carry: %v", err)
	}
	doc, err := k.as["partyA"].UploadDocument(ctx, c.ID, client.Upload{Name: name, Audience: "caucus:A", Class: "evidence",
		Body: strings.NewReader(body), Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	k.docA = doc.ID
	if _, err := k.as["recused"].CaseAction(ctx, c.ID, "recusals", map[string]string{"reason": "conflict"}); err != nil {
		t.Fatal(err)
	}
	return k
}

// route is one method and pattern of the router.
type route struct{ method, pattern string }

// allRoutes walks the live router, so a route added later is covered
// without touching this test.
func allRoutes(t *testing.T, n *nodetest.Node) []route {
	t.Helper()
	var out []route
	err := chi.Walk(n.API.Handler().(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if pattern != "/" {
			pattern = strings.TrimSuffix(pattern, "/")
		}
		out = append(out, route{method, pattern})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pattern+out[i].method < out[j].pattern+out[j].method })
	if len(out) < 30 {
		t.Fatalf("router walk found only %d routes", len(out))
	}
	return out
}

// zeroHash is a well-formed content hash of nothing in particular.
var zeroHash = "sha256:" + strings.Repeat("0", 64)

// sampleBodies are well-formed bodies for the case's write routes, so a
// request reaches the authorization decision rather than stopping at input
// validation. A write route added to the case without a sample here fails
// the test (add one).
func (k *isolationCast) sampleBodies() map[string]string {
	return map[string]string{
		"/stage":                            `{"stage":"issues","note":"x"}`,
		"/objectives":                       `{"text":"x"}`,
		"/disclosures":                      `{"text":"x"}`,
		"/disclosures/{disclosureID}/ack":   `{}`,
		"/recusals":                         `{"reason":"x"}`,
		"/mediators":                        `{"accountId":"` + k.id["records"] + `"}`,
		"/invites":                          `{"role":"party","side":"A","name":"x","ttlSeconds":3600}`,
		"/invites/{inviteID}":               `{}`,
		"/outcome":                          `{"result":"no-agreement","sessions":1,"hours":1}`,
		"/carries":                          `{"id":"cr_` + strings.Repeat("a", 26) + `","from":"caucus:A","to":"joint","epoch":1,"offset":1,"hash":"` + zeroHash + `"}`,
		"/carries/{carryID}/consent":        `{"hash":"` + zeroHash + `"}`,
		"/carries/{carryID}/decline":        `{}`,
		"/e2ee/statements":                  `{"record":"AAAA"}`,
		"/e2ee/admissions":                  `{"record":"AAAA"}`,
		"/terms":                            `{"text":"x"}`,
		"/terms/accept":                     `{"item":"1","sha256":"` + strings.Repeat("0", 64) + `","device":"dv_` + strings.Repeat("a", 26) + `","signedAt":1,"signature":"AAAA"}`,
		"/documents":                        "raw: a new document for caucus A",
		"/documents/{docID}/versions":       "raw: a new version of A's document",
		"/documents/{docID}/share":          `{"audience":"caucus:B","dryRun":false}`,
		"/documents/{docID}/share-requests": `{"audience":"joint"}`,
		"/documents/{docID}/share-requests/{requestID}": `{"allow":true}`,
		"/documents/{docID}/hold":                       `{"on":true}`,
		"/documents/{docID}/keys":                       `{"wraps":[{"version":1,"wrap":"AAAA"}]}`,
		"/documents/{docID}/upgrade":                    "raw: a re-encrypted version",
		"/holds":                                        `{"reason":"x","authority":"x"}`,
		"/holds/{holdID}/release":                       `{"reason":"x"}`,
		"/recusal-proposals":                            `{"mediatorId":"` + k.id["mediator"] + `","reason":"x"}`,
		"/assignment-proposals":                         `{"accountId":"` + k.id["records"] + `"}`,
		"/proposals/{proposalID}/approve":               `{}`,
		"/proposals/{proposalID}/decline":               `{}`,
		"/sessions":                                     `{"start":"` + time.Now().Add(72*time.Hour).UTC().Format("2006-01-02T15:04") + `","timeZone":"UTC","minutes":60}`,
		"/sessions/{sessionID}/move":                    `{"start":"` + time.Now().Add(96*time.Hour).UTC().Format("2006-01-02T15:04") + `","reason":"x"}`,
		"/sessions/{sessionID}/cancel":                  `{"reason":"x"}`,
		"/mail/{messageID}/resend":                      `{}`,
		"/followups":                                    `{"days":[30,90]}`,
		"/participants/{accountID}/reentry":             `{"ttlSeconds":3600}`,
		"/participants/{accountID}":                     `{}`,
		"/defined-rooms":                                `{"label":"x","members":["` + k.id["mediator"] + `","` + k.id["partyA"] + `"]}`,
		"/defined-rooms/{room}/close":                   `{}`,
		"/defined-rooms/{room}/entries":                 `{"record":"AAAA"}`,
		"/agreement":                                    `{"template":"general"}`,
		"/agreement/versions":                           `{"base":1,"text":"x"}`,
		"/agreement/sign":                               `{"version":1,"sha256":"` + strings.Repeat("0", 64) + `","device":"dv_` + strings.Repeat("a", 26) + `","signedAt":1,"signature":"` + strings.Repeat("A", 86) + `=="}`,
		"/agreement/file":                               `{}`,
		"/rooms/{room}/timer":                           `{"minutes":5}`,
		"/rooms/{room}/floor":                           `{"side":"A","minutes":5}`,
		"/rooms/{room}/hand":                            `{}`,
	}
}

// request builds who's call of route r at path, with a sample body.
func (k *isolationCast) request(t *testing.T, r route, path, token string) *http.Request {
	t.Helper()
	var body io.Reader
	var name string
	contentType := "application/json"
	if r.method != http.MethodGet && r.method != http.MethodHead {
		sample, ok := k.sampleBodies()[strings.TrimPrefix(r.pattern, "/api/v1/cases/{caseID}")]
		switch {
		case ok && strings.HasPrefix(sample, "raw: "):
			body, contentType = strings.NewReader(strings.TrimPrefix(sample, "raw: ")), "text/plain"
			if r.pattern == "/api/v1/cases/{caseID}/documents" {
				path += "?audience=caucus:A&class=evidence"
			}
			name = "b-was-here.txt"
		case ok:
			body = strings.NewReader(sample)
		case strings.HasPrefix(r.pattern, "/api/v1/cases/{caseID}"):
			t.Fatalf("%s %s: no sample body in sampleBodies; add one so the route's authorization is tested", r.method, r.pattern)
		default:
			body = strings.NewReader(`{}`)
		}
	}
	req, _ := http.NewRequest(r.method, k.node.URL+path, body)
	if name != "" {
		req.Header.Set(api.DocumentNameHeader, name)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// fill substitutes side A's confidential resources for a pattern's
// parameters; aimed says whether the path names one of them (a document of
// caucus A, the caucus itself).
func (k *isolationCast) fill(pattern string) (path string, aimed bool) {
	var b strings.Builder
	for rest := pattern; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest, '}')
		switch param := rest[i+1 : j]; param {
		case "caseID":
			b.WriteString(k.caseID)
		case "room":
			b.WriteString("caucus:A")
			aimed = true
		case "docID":
			b.WriteString(k.docA)
			aimed = true
		case "disclosureID":
			b.WriteString(k.disclosed)
		case "carryID":
			b.WriteString(k.carry)
			aimed = true
		default: // ids of things side A may own that the cast did not make
			b.WriteString("x_" + strings.Repeat("a", 26))
		}
		rest = rest[j+1:]
	}
	return b.String(), aimed
}

// TestIsolationEveryRoute: side B's party and counsel, a recused mediator
// and records staff call every route of the router (and every WebSocket
// action) aimed at side A's caucus, its history and its documents. Nothing
// of A's caucus ever appears in an answer (records staff see that the
// document exists, never its name, content or the messages); every request
// naming one of A's resources is refused with 403 or 404; the recused
// mediator is refused everything in the case; nothing any of them sent
// changed A's caucus or documents; and every refusal on the case is in the
// audit log as access.denied, with ids only.
func TestIsolationEveryRoute(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	routes := allRoutes(t, n)
	before := k.stateOfA(t)
	type refusal struct{ who, req string }
	var unaudited []refusal
	var wrong []string
	requests := 0
	for _, who := range []string{"partyB", "counselB", "recused", "records"} {
		c := k.as[who]
		for _, r := range routes {
			if r.pattern == "/api/v1/cases/{caseID}/ws" {
				continue // TestIsolationWebSocket
			}
			path, aimed := k.fill(r.pattern)
			inCase := strings.HasPrefix(r.pattern, "/api/v1/cases/{caseID}")
			req := k.request(t, r, path, c.Token)
			auditBefore := n.Audit.Size()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			requests++
			label := fmt.Sprintf("%s %s %s → %d", who, r.method, r.pattern, res.StatusCode)
			if res.StatusCode == http.StatusBadRequest {
				label += " " + string(got)
			}
			for _, s := range k.secret {
				if bytes.Contains(got, []byte(s)) || bytes.Contains(bytes.ToLower(got), []byte(strings.ToLower(s))) {
					wrong = append(wrong, fmt.Sprintf("%s: answer holds side A's %q", label, s))
				}
			}
			refused := res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusNotFound
			switch {
			case res.StatusCode >= 500:
				wrong = append(wrong, label+": server error")
			case who == "recused" && inCase && !refused:
				wrong = append(wrong, label+": a recused mediator was not refused")
			case aimed && who != "records" && !refused:
				wrong = append(wrong, label+": side A's resource was not refused")
			case aimed && who == "records" && (strings.HasSuffix(r.pattern, "/content") || strings.HasSuffix(r.pattern, "/messages")) && !refused:
				wrong = append(wrong, label+": records staff read content")
			}
			// Records staff manage holds: a hold id the cast never made is
			// simply not found for them, not a refusal to audit.
			// Likewise proposals, which records staff decide.
			unknownHold := who == "records" && (strings.Contains(r.pattern, "{holdID}") || strings.Contains(r.pattern, "{proposalID}")) &&
				res.StatusCode == http.StatusNotFound
			if refused && inCase && !unknownHold && !k.deniedSince(t, auditBefore, who) {
				unaudited = append(unaudited, refusal{who, label})
			}
		}
	}
	if after := k.stateOfA(t); after != before {
		wrong = append(wrong, fmt.Sprintf("side A's caucus changed: before %s, after %s", before, after))
	}
	for _, u := range unaudited {
		wrong = append(wrong, u.req+": refused but not audited as access.denied")
	}
	t.Logf("%d requests over %d routes by 4 outsiders to side A's caucus", requests, len(routes))
	if len(wrong) > 0 {
		t.Fatalf("%d isolation failures:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
}

// stateOfA summarises caucus A as its own party sees it: the messages and
// the versions of A's document.
func (k *isolationCast) stateOfA(t *testing.T) string {
	t.Helper()
	var page struct {
		Messages []messaging.Message `json:"messages"`
	}
	if err := k.as["partyA"].Do(t.Context(), http.MethodGet, "/api/v1/cases/"+k.caseID+"/rooms/caucus:A/messages", nil, &page); err != nil {
		t.Fatal(err)
	}
	d, err := k.as["partyA"].Document(t.Context(), k.caseID, k.docA)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := k.as["mediator"].Documents(t.Context(), k.caseID)
	if err != nil {
		t.Fatal(err)
	}
	// (Holds are left out: records staff may place them.)
	return fmt.Sprintf("%d messages, %d versions, audience %v, %d documents in the case", len(page.Messages), len(d.Versions), d.Audience, len(docs))
}

// deniedSince reports whether an access.denied entry by who was appended
// at or after index from, and that it carries no side-A plaintext.
func (k *isolationCast) deniedSince(t *testing.T, from int64, who string) bool {
	t.Helper()
	found := false
	for i := from; i < k.node.Audit.Size(); i++ {
		ev, err := k.node.Audit.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range k.secret {
			if strings.Contains(fmt.Sprint(ev), s) {
				t.Errorf("audit entry %d holds side A's %q", i, s)
			}
		}
		if ev.Type == "access.denied" && ev.Actor == k.id[who] {
			found = true
		}
	}
	return found
}

// TestIsolationWebSocket: every WebSocket action on caucus A by side B's
// party and counsel is refused, and nothing of A's caucus reaches them; the
// recused mediator and records staff cannot open the case's socket at all.
func TestIsolationWebSocket(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	url := strings.Replace(n.URL, "http", "ws", 1) + "/api/v1/cases/" + k.caseID + "/ws"
	dial := func(who string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+k.as[who].Token)
		return websocket.DefaultDialer.Dial(url, h)
	}
	for _, who := range []string{"recused", "records", "admin"} {
		if _, res, err := dial(who); err == nil || res == nil || (res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound) {
			t.Fatalf("%s opened the case's socket: %v %v", who, err, res)
		}
	}
	for _, who := range []string{"partyB", "counselB"} {
		ws, _, err := dial(who)
		if err != nil {
			t.Fatal(err)
		}
		auditBefore := n.Audit.Size()
		frames := []api.ClientFrame{
			{Type: "sub", Room: "caucus:A"},
			{Type: "sub", Room: "caucus:A", From: &messaging.Position{Epoch: 1, Offset: 0}},
			{Type: "pub", Room: "caucus:A", ID: "b-1", Body: []byte("injected")},
			{Type: "unsub", Room: "caucus:A"},
			{Type: "sub", Room: "mediators"},
			{Type: "pub", Room: "mediators", ID: "b-2", Body: []byte("injected")},
			{Type: "sub", Room: "caucus:a"},
			{Type: "sub", Room: "caucus:A "},
		}
		for _, f := range frames {
			if err := ws.WriteJSON(f); err != nil {
				t.Fatal(err)
			}
		}
		// A control subscription that is allowed, so the reader knows when
		// every refusal before it has been answered.
		ws.WriteJSON(api.ClientFrame{Type: "sub", Room: "joint"})
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		refusals := 0
		for done := false; !done; {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("%s: socket ended: %v", who, err)
			}
			for _, s := range k.secret {
				if bytes.Contains(data, []byte(s)) {
					t.Fatalf("%s received side A's %q over the socket", who, s)
				}
			}
			var f api.ServerFrame
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			switch {
			case f.Type == "error" && (f.Code == "forbidden" || f.Code == "invalid"):
				refusals++
			case f.Type == "subscribed" && f.Room == "joint":
				done = true
			case f.Type == "subscribed" || f.Type == "msgs" || f.Type == "ack" || f.Type == "reload":
				t.Fatalf("%s got %s for %s", who, f.Type, f.Room)
			}
		}
		ws.Close()
		// unsub of a room never joined needs no answer; every other frame is refused.
		if refusals < len(frames)-1 {
			t.Fatalf("%s: %d refusals for %d frames", who, refusals, len(frames)-1)
		}
		if !k.deniedSince(t, auditBefore, who) {
			t.Fatalf("%s's refused subscriptions to caucus A are not audited", who)
		}
	}
	if got := k.stateOfA(t); !strings.HasPrefix(got, "1 messages, 1 versions") {
		t.Fatalf("side A's caucus changed: %s", got)
	}
}
