package web_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
)

// TestNoExistenceOracleAcrossSides: side B's party calls every route
// under /api/v1/cases/{caseID}/ that names a document, carry, session,
// share request, room or account (the live router, walked: a route added
// later is covered) once about side A's real one and once about a
// well-formed id of the same form that names nothing. The two answers are
// one — the same status, the same body (but for the id asked), and the
// same audit entries in B's name — so B cannot tell that A has a document,
// a carry, a session, a room alone with the mediator, or a caucus at all
// (review 377 LOW-2).
func TestNoExistenceOracleAcrossSides(t *testing.T) {
	t.Parallel()
	k := newSideBCase(t)
	n, ctx, med, a := k.n, t.Context(), k.med, k.as["partyA"]
	// Every route twice as one party: more refusals a minute than the
	// audit log's refusal limit writes in full (audit
	// TestRefusalFloodIsCounted); this test compares each one's entry.
	if err := n.Audit.SetDenialLimit(ctx, audit.DenialLimit{}, nil); err != nil {
		t.Fatal(err)
	}
	// Side A's resources, each of a kind a path may name.
	ch, err := a.Chat(ctx, k.caseID, map[string]*api.Position{"caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("opaque")
	m, err := ch.Send(ctx, "caucus:A", "a-1", body)
	ch.Close()
	if err != nil {
		t.Fatal(err)
	}
	carry := ids.New("cr")
	if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.caseID+"/carries", map[string]any{"id": carry, "from": "caucus:A", "to": "joint",
		"epoch": m.Epoch, "offset": m.Offset, "hash": fmt.Sprintf("sha256:%x", e2ee.PayloadHash(body))}, nil); err != nil {
		t.Fatal(err)
	}
	doc, err := a.UploadDocument(ctx, k.caseID, client.Upload{Name: "s.txt", Audience: "caucus:A", Class: "evidence",
		Body: strings.NewReader("secret"), Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	var share api.DocShareRequest
	if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.caseID+"/documents/"+doc.ID+"/share-requests", map[string]any{"audience": "joint"}, &share); err != nil {
		t.Fatal(err)
	}
	sess, err := med.AddSession(ctx, k.caseID, api.NewSessionRequest{Start: time.Now().Add(72 * time.Hour).UTC().Format("2006-01-02T15:04"),
		TimeZone: "UTC", Minutes: 60, Rooms: []string{"caucus:A"}, Expected: []string{k.id["partyA"], k.id["mediator"]}})
	if err != nil {
		t.Fatal(err)
	}
	var room api.DefinedRoom
	if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.caseID+"/defined-rooms", map[string]any{"label": "A alone",
		"members": []string{k.id["mediator"], k.id["partyA"]}}, &room); err != nil {
		t.Fatal(err)
	}
	if _, err := med.SetTimer(ctx, k.caseID, "caucus:A", api.TimerRequest{Minutes: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RaiseHand(ctx, k.caseID, "caucus:A"); err != nil {
		t.Fatal(err)
	}
	// A room id of the same form as the real one (10 characters of
	// base32, or 32 hex digits), naming no room.
	roomID := strings.TrimPrefix(room.Room, api.RoomDefined)
	fakeRoom := api.RoomDefined + strings.Repeat("a", len(roomID))
	if len(roomID) == 32 {
		fakeRoom = api.RoomDefined + strings.Repeat("0", 32)
	}
	if !api.ValidRoomName(fakeRoom) || fakeRoom == room.Room {
		t.Fatalf("no room name of the form of %s", room.Room)
	}
	type values map[string]string
	pairs := []struct{ real, fake values }{
		{values{"docID": doc.ID, "carryID": carry, "sessionID": sess.ID, "requestID": share.ID, "room": room.Room, "accountID": k.id["partyA"]},
			values{"docID": ids.New("d"), "carryID": ids.New("cr"), "sessionID": ids.New("s"), "requestID": ids.New("sa"), "room": fakeRoom, "accountID": ids.New("a")}},
		// A's caucus against a side the case does not have.
		{values{"room": "caucus:A"}, values{"room": "caucus:Z"}},
	}
	for _, p := range pairs {
		for name, v := range p.fake {
			if p.real[name] == v || len(p.real[name]) != len(v) {
				t.Fatalf("%s: fake %q is not of the form of %q", name, v, p.real[name])
			}
		}
	}
	samples := &isolationCast{node: n, id: map[string]string{"mediator": k.id["mediator"], "partyA": k.id["partyA"], "records": ids.New("a")}}
	other := regexp.MustCompile(`\{[a-zA-Z]+\}`)
	fill := func(pattern string, vals values) string {
		p := strings.ReplaceAll(pattern, "{caseID}", k.caseID)
		p = strings.ReplaceAll(p, "{version}", "1")
		for name, v := range vals {
			p = strings.ReplaceAll(p, "{"+name+"}", v)
		}
		return other.ReplaceAllString(p, "x_"+strings.Repeat("a", 26))
	}
	// ask calls r as side B's party: the status, the body and the audit
	// entries in B's name it appended, each id of vals named by its
	// parameter instead.
	B, bID := k.as["partyB"], k.id["partyB"]
	ask := func(r route, vals values) (int, string, []string) {
		blank := func(s string) string {
			for name, v := range vals {
				s = strings.ReplaceAll(s, v, "{"+name+"}")
			}
			return s
		}
		code, body, entries := askAudited(t, n, samples.request(t, r, fill(r.pattern, vals), B.Token), bID)
		for i, e := range entries {
			entries[i] = blank(e)
		}
		return code, blank(normalize(body)), entries
	}
	named := regexp.MustCompile(`\{(docID|carryID|sessionID|requestID|room|accountID)\}`)
	checked := 0
	for _, r := range allRoutes(t, n) {
		if !strings.HasPrefix(r.pattern, "/api/v1/cases/{caseID}/") || strings.HasSuffix(r.pattern, "/ws") || !named.MatchString(r.pattern) {
			continue
		}
		for _, p := range pairs {
			if _, ok := p.real["docID"]; !ok && !strings.Contains(r.pattern, "{room}") {
				continue // the caucus pair names only a room
			}
			rc, rb, ra := ask(r, p.real)
			fc, fb, fa := ask(r, p.fake)
			checked++
			if rc != fc || rb != fb {
				t.Errorf("%s %s: side B can tell side A's %v from nothing\nreal: %d %.600s\nfake: %d %.600s", r.method, r.pattern, p.real, rc, rb, fc, fb)
			}
			if !slices.Equal(ra, fa) {
				t.Errorf("%s %s: the audit entries differ\nreal: %v\nfake: %v", r.method, r.pattern, ra, fa)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d route answers compared", checked)
	}
	t.Logf("%d route answers compared", checked)
}
