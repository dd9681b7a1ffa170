package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestNoSecretLeavesAnyRoute walks every route of the router (a route
// added later is covered without touching this test) as every person of
// a case — mediators, an administrator, records staff, parties and
// counsel of both sides — and then the mediator's writes, and checks that
// no answer holds what must never leave the server: a password hash (by
// name or by value), a wrapped key, a device's private seeds, or the
// session token of anyone else. Stored records carry some of these with
// JSON names; only package api's views may be answers (writeJSON takes an
// api.Body), and this test checks the result on the wire.
func TestNoSecretLeavesAnyRoute(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	ctx := t.Context()
	forbidden := map[string]string{
		`"passwordHash"`: "a password hash member", "$argon2id$": "a password hash",
		`"wrappedKey"`: "a wrapped key member", `"sigSeed"`: "a private signing seed", `"kemSeed"`: "a private KEM seed",
	}
	hashes := 0
	for who, id := range k.id {
		a, err := n.Accounts.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.PasswordHash != "" {
			forbidden[a.PasswordHash] = who + "'s password hash"
			hashes++
		}
	}
	if hashes < 4 {
		t.Fatalf("only %d staff password hashes to look for", hashes)
	}
	people := []string{"mediator", "admin", "records", "recused", "partyA", "counselA", "partyB", "counselB"}
	check := func(who, label string, body []byte) {
		t.Helper()
		for s, what := range forbidden {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("%s: the answer holds %s", label, what)
			}
		}
		for other, c := range k.as {
			if other != who && c.Token != "" && bytes.Contains(body, []byte(c.Token)) {
				t.Errorf("%s: the answer holds %s's session token", label, other)
			}
		}
	}
	do := func(who string, r route, path string) {
		req := k.request(t, r, path, k.as[who].Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		check(who, fmt.Sprintf("%s %s %s → %d", who, r.method, r.pattern, res.StatusCode), body)
	}
	routes := allRoutes(t, n)
	reads, writes := 0, 0
	for _, who := range people {
		for _, r := range routes {
			if r.method != http.MethodGet || strings.HasSuffix(r.pattern, "/ws") {
				continue
			}
			path, _ := k.fill(r.pattern)
			do(who, r, path)
			reads++
		}
	}
	// A sign-in answers with the account and a token: the caller's own.
	res, err := http.Post(n.URL+"/api/v1/session", "application/json",
		strings.NewReader(`{"email":"mediator@example.org","password":"`+nodetest.Password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d %s", res.StatusCode, body)
	}
	check("mediator", "POST /api/v1/session", body)
	// The mediator's writes (last: they change the case).
	for _, r := range routes {
		if r.method == http.MethodGet || r.method == http.MethodDelete || !strings.HasPrefix(r.pattern, "/api/v1/cases/{caseID}/") {
			continue
		}
		path, _ := k.fill(r.pattern)
		do("mediator", r, path)
		writes++
	}
	t.Logf("%d reads by %d people and %d writes checked for %d secrets", reads, len(people), writes, len(forbidden))
}
