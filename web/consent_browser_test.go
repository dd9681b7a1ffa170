package web_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserConsent drives web/client/test/consent.mjs in Chromium: the
// mediator (seeded here: terms set, one disclosure) has the case open; two
// parties and a lawyer join in their own browser contexts and each reads
// and accepts the terms and acknowledges the disclosure, signed by their
// browser's device key; opening is refused, naming who is missing, until
// the last accepts; a party's first caucus message reaches the mediator
// although the mediator never posted there; a later disclosure is shown
// again to a party who comes back; a lawyer who joins and writes while no
// mediator is online is told the message waits for the mediator, and it
// goes when the mediator opens the case.
func TestBrowserConsent(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	const terms = "Agreement to mediate\nYou take part voluntarily and in good faith; the mediator decides nothing.\n\n" +
		"Confidentiality\nWhat is said here stays here, unless the law requires otherwise.\n\n" +
		"Ground rules\nOne person speaks at a time. Breaks on request."
	if _, err := medC.SetTerms(ctx, k.ID, terms); err != nil {
		t.Fatal(err)
	}
	if _, err := medC.CaseAction(ctx, k.ID, "disclosures", api.TextRequest{Text: "Ten years ago I worked at the same firm as the landlord's agent."}); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, p := range []struct{ key, role, side, name string }{
		{"A", "party", "A", "Ada Okafor"}, {"B", "party", "B", "Lars Lindqvist"}, {"C", "counsel", "A", "Jordan Blake"}} {
		inv, err := medC.Invite(ctx, k.ID, p.role, p.side, p.name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		links[p.key] = inv.Link
	}

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/consent.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_INVITE_A="+links["A"], "PARLEY_INVITE_B="+links["B"], "PARLEY_INVITE_COUNSEL="+links["C"],
		"PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answer := func(err error, ok string) {
		if err != nil {
			t.Error(err)
			fmt.Fprintln(stdin, "error "+strings.Join(strings.Fields(err.Error()), " "))
			return
		}
		fmt.Fprintln(stdin, "ok "+ok)
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch line {
		case "ask opening refused":
			// The API refuses, naming exactly who has not accepted.
			_, err := medC.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "opening"})
			var ae *client.Error
			switch {
			case err == nil:
				answer(fmt.Errorf("opening was allowed before the lawyer accepted"), "")
			case !errors.As(err, &ae) || ae.Status != 409 || !strings.Contains(ae.Problem.Detail, "still to accept: Jordan Blake (Tenant's lawyer)") ||
				strings.Contains(ae.Problem.Detail, "Ada") || strings.Contains(ae.Problem.Detail, "Lars"):
				answer(fmt.Errorf("refusal does not name exactly the lawyer: %v", err), "")
			default:
				answer(nil, ae.Problem.Detail)
			}
		case "ask opening":
			c, err := medC.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "opening"})
			if err == nil && c.Stage != api.StageOpening {
				err = fmt.Errorf("stage %s", c.Stage)
			}
			answer(err, "")
		case "ask disclose":
			_, err := medC.CaseAction(ctx, k.ID, "disclosures", api.TextRequest{Text: "Since then my sister has rented a flat from the landlord."})
			answer(err, "")
		case "ask signed":
			// Every acceptance and acknowledgement was signed by a device
			// the key directory knows for that person.
			v, err := medC.Terms(ctx, k.ID)
			if err == nil && (len(v.People) != 3 || !v.Complete) {
				err = fmt.Errorf("terms: %+v", v)
			}
			for _, p := range v.People {
				if err == nil && (p.Accepted == nil || !strings.HasPrefix(p.Accepted.Device, "dv_")) {
					err = fmt.Errorf("%s's acceptance is not signed by a device: %+v", p.Name, p.Accepted)
				}
			}
			answer(err, "")
		case "ask invite counsel B":
			inv, err := medC.Invite(ctx, k.ID, "counsel", "B", "Robin Hale", "", time.Hour)
			answer(err, inv.Link)
		case "PASS":
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"consent-party.png", "consent-party-phone.png", "consent-mediator.png", "consent-mediator-phone.png", "consent-later-disclosure.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
