package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/vault"
)

// TestShareHugeAudienceRefused: a share naming a 1 MiB audience is a 400
// naming the field, found without reading the list (a signed-in account
// could otherwise keep a core busy for hours). The request has a bound
// only so that a regression fails rather than hangs.
func TestShareHugeAudienceRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	d := k.upload(t, "mediator", "Offer.txt", "caucus:A", "correspondence", []byte("offer"))
	var b strings.Builder
	b.WriteString("users:")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "a%06x,", i)
	}
	body, _ := json.Marshal(map[string]string{"audience": b.String()})
	for _, who := range []string{"mediator", "partyB"} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		status, p := postJSONCtx(t, ctx, n.URL+"/api/v1/cases/"+k.caseID+"/documents/"+d.ID+"/share", k.as[who].Token, string(body))
		cancel()
		want := fmt.Sprintf("at most %d characters", vault.MaxAudienceLen)
		if status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "audience" || p.Errors[0].Detail != want {
			t.Fatalf("%s: got %d %+v", who, status, p)
		}
	}
}

// postJSONCtx posts body within ctx and returns the status and problem.
func postJSONCtx(t *testing.T, ctx context.Context, url, token, body string) (int, api.Problem) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p api.Problem
	json.NewDecoder(res.Body).Decode(&p)
	return res.StatusCode, p
}

// TestHugeLinkLifetimeRefused: a lifetime in seconds so large that it
// wraps around when turned into a duration is refused naming the field,
// for invitations and re-entry links alike.
func TestHugeLinkLifetimeRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	base := n.URL + "/api/v1/cases/" + k.caseID
	for _, url := range []string{base + "/invites", base + "/participants/" + k.id["partyA"] + "/reentry"} {
		for _, ttl := range []string{"18446747674", "9223372036", "2592001"} {
			body := `{"role":"party","side":"A","name":"Pat","ttlSeconds":` + ttl + `}`
			if strings.HasSuffix(url, "/reentry") {
				body = `{"ttlSeconds":` + ttl + `}`
			}
			status, p := postJSONCtx(t, t.Context(), url, k.as["mediator"].Token, body)
			if status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "ttlSeconds" {
				t.Fatalf("%s with ttlSeconds %s: got %d %+v", url, ttl, status, p)
			}
		}
	}
}

// TestSlowBodyEndsWithinTheBound: a JSON body sent a few bytes and then
// nothing (on a route open to anyone) is answered 408 once the body
// timeout passes, rather than holding the request for ever. The wait is
// bounded so that a regression fails rather than hangs.
func TestSlowBodyEndsWithinTheBound(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), BodyTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":")
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer res.Body.Close()
	var p api.Problem
	json.NewDecoder(res.Body).Decode(&p)
	if res.StatusCode != http.StatusRequestTimeout || p.Type != "urn:parley:problem:request-timeout" || !strings.Contains(p.Detail, "did not arrive within 300ms") {
		t.Fatalf("got %d %+v", res.StatusCode, p)
	}
	// A body that arrives in time on the same kind of route is served.
	status, _ := postJSONCtx(t, t.Context(), n.URL+"/api/v1/session", "", `{"email":"nobody@example.org","password":"wrong password here"}`)
	if status != http.StatusUnauthorized {
		t.Fatalf("a prompt sign-in: %d", status)
	}
}
