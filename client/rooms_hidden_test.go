package client_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

var requestID = regexp.MustCompile(`"requestId":"[^"]*"`)

// caseGETs lists the GET routes of web/openapi.yaml under a case with no
// other parameter than the case, and the room-messages route.
func caseGETs(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../web/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	path := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  /") {
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
			continue
		}
		if line == "    get:" && strings.HasPrefix(path, "/api/v1/cases/{caseID}") && path != "/api/v1/cases/{caseID}/ws" &&
			strings.Count(path, "{") == 1 {
			out = append(out, path)
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d case routes found in openapi.yaml: %v", len(out), out)
	}
	return append(out, "/api/v1/cases/{caseID}/rooms/{room}/messages", "/api/v1/cases", "/api/v1/keys/devices")
}

// TestDefinedRoomHiddenFromTheCase: a mediator opens a room with side A's
// party. Side A's counsel, side B's party and the case's other mediator —
// all in the case, none in the room — call every GET route the server has
// for the case (the signed membership chain included): no answer holds the
// room's id, name or label, and no statement lists members for any room
// but the case's standing ones. What remains visible is a sealed slot
// ("sealed:<commitment>", no members) added to the statement at the time
// of the opening, and its epoch. A member's client places the room with
// exactly its people.
func TestDefinedRoomHiddenFromTheCase(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	counselA := joinCounsel(t, tc, "A", "Casey Counsel")
	med2Acct, med2C := n.Staff(t, policy.RoleMediator, fmt.Sprintf("med2-%d@example.org", time.Now().UnixNano()))
	if err := tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/mediators", map[string]string{"accountId": med2Acct.ID}, nil); err != nil {
		t.Fatal(err)
	}
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	const label = "Avery and the mediator, privately"
	room, err := med.OpenRoom(ctx, label, []string{tc.med.id, tc.a.id}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := signedRoom(t, med, room.Room, 1); !slices.Equal(got, sorted(tc.med.id, tc.a.id)) {
		t.Fatalf("signed members %v", got)
	}
	secrets := []string{room.ID, room.Room, label, "room:", "cross:"}

	standing := map[string]bool{"joint": true, "mediators": true, "caucus:A": true, "caucus:B": true}
	for _, who := range []struct {
		name string
		c    *client.Client
	}{{"A's counsel", counselA.c}, {"B's party", tc.b.c}, {"the other mediator", med2C}} {
		get := func(route, roomName string) (int, string) {
			path := strings.NewReplacer("{caseID}", tc.caseID, "{room}", roomName).Replace(route)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+who.c.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res.StatusCode, requestID.ReplaceAllString(string(body), "")
		}
		for _, route := range caseGETs(t) {
			status, body := get(route, room.Room)
			if strings.Contains(route, "{room}") {
				// Asked about the room by its name, they get what a room
				// that does not exist gets (their own words echoed); a
				// well-formed name, since a malformed one is refused as
				// input (400) before anything is decided.
				none := "room:" + strings.Repeat("0", len(room.ID))
				noneStatus, noneBody := get(route, none)
				if status != http.StatusNotFound || status != noneStatus || body != strings.ReplaceAll(noneBody, none, room.Room) {
					t.Errorf("%s: GET %s: %d %s; a room that does not exist: %d %s", who.name, route, status, body, noneStatus, noneBody)
				}
				continue
			}
			for _, s := range secrets {
				if strings.Contains(string(body), s) {
					t.Errorf("%s: GET %s (%d) holds %q", who.name, route, status, s)
				}
			}
		}
		// The signed membership as they fetch and verify it.
		var v api.Proven
		if err := who.c.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/e2ee/statements", nil, &v); err != nil {
			t.Fatal(err)
		}
		slots := 0
		for _, rec := range v.Statements {
			st, err := e2ee.DecodeStatement(rec.Record)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range st.Rooms {
				switch {
				case standing[r.Name]:
				case e2ee.IsSealedSlot(r.Name) && len(r.Members) == 0:
					slots++
				default:
					t.Errorf("%s: statement %d names room %q with %v", who.name, st.Seq, r.Name, r.Members)
				}
			}
		}
		if slots == 0 {
			t.Errorf("%s: no sealed slot in the chain: the room was not signed as one", who.name)
		}
	}
	// The people in it see it, with its people.
	a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 5 * time.Second})
	if r, ok := a.Chain().Latest().Room(room.Room); !ok || !slices.Equal(r.Members, sorted(tc.med.id, tc.a.id)) {
		t.Fatalf("A's chain places the room as %+v %v", r, ok)
	}
}
