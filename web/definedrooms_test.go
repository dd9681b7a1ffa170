package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDefinedRoomCloseLongName: a close naming a room longer than any room
// name is refused as invalid before anything is audited, so the audit log
// never holds an arbitrary string from the path.
func TestDefinedRoomCloseLongName(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	long := "room:" + strings.Repeat("x", 4000)
	before := n.Audit.Size()
	err := k.as["partyB"].Do(t.Context(), "POST", "/api/v1/cases/"+k.caseID+"/defined-rooms/"+long+"/close", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("closing a 4000-character room name: want HTTP 400, got %.120v", err)
	}
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(ev), strings.Repeat("x", 100)) {
			t.Fatalf("audit entry %d holds the path's string", i)
		}
	}
}

// TestRoomNameFromPathChecked: every route with a {room} (history, room
// controls, defined rooms) answers 400 problem+json for a name outside the
// room-name grammar — a sentence a case member typed into the path, or
// one over the audit log's attribute limit — before anything is audited,
// so the sentence never reaches the log and no refusal is lost to a
// failed append; a well-formed name of a room that is not theirs is still
// refused (404) and audited under that name.
func TestRoomNameFromPathChecked(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	base := n.URL + "/api/v1/cases/" + k.caseID
	token := k.as["partyB"].Token
	sentence := "Buyer would accept 40000 but only if Seller apologises publicly first"
	for _, name := range []string{url.PathEscape(sentence), strings.Repeat("y", 300), "caucus:" + url.PathEscape(sentence), "room:nosuch", "caucus:a"} {
		for _, route := range []struct{ method, path string }{
			{"GET", "/rooms/" + name + "/messages"},
			{"POST", "/rooms/" + name + "/hand"},
			{"DELETE", "/rooms/" + name + "/floor"},
			{"POST", "/defined-rooms/" + name + "/close"},
			{"POST", "/defined-rooms/" + name + "/entries"},
		} {
			before := n.Audit.Size()
			res := rawRequest(t, route.method, base+route.path, token, strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %.60s: %d %s %.200s, want 400 problem+json", route.method, route.path, res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			for i := before; i < n.Audit.Size(); i++ {
				ev, err := n.Audit.Entry(t.Context(), i)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Attrs["room"] != "" {
					t.Errorf("%s %.60s: audited %s with room %q", route.method, route.path, ev.Type, ev.Attrs["room"])
				}
			}
		}
	}

	// Side A's caucus: refused as not found, and the refusal audited.
	before := n.Audit.Size()
	res := rawRequest(t, "GET", base+"/rooms/caucus:A/messages", token, nil, nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("another side's caucus: %d, want 404", res.StatusCode)
	}
	for i := before; i < n.Audit.Size(); i++ {
		if ev, err := n.Audit.Entry(t.Context(), i); err == nil && ev.Type == "access.denied" && ev.Attrs["room"] == "caucus:A" {
			return
		}
	}
	t.Fatal("the refusal of another side's caucus is not audited")
}
