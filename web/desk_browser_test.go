package web_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserDesk drives web/client/test/desk.mjs in Chromium: a mediator
// runs a case from the case desk with no CLI. They open a case with two
// labelled sides, invite a party per side (one by email, whose link the
// desk does not show: the party opens it from the mail, in another
// browser, and lands in the case) and a lawyer, copy a link; add an objective, a success criterion and a disclosure (which the
// Go side acknowledges as the other party, through the API); move the
// stage forward, are refused going back without a note and allowed with
// one; close the case (after a confirmation naming what closing does),
// record the outcome and get survey links; and step off. An invitation
// made by mistake is withdrawn after a confirmation naming the person,
// and its link no longer works. At each "ask"
// the Go side checks what the server holds (and Mailpit for the mailed
// invitation), so the screens cannot pass on their own say-so.
func TestBrowserDesk(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "desk@browser.test", MailPoll: 100 * time.Millisecond})
	ctx := context.Background()
	tag := ids.New("x")[2:10]
	medEmail := "desk-mediator-" + tag + "@browser.test"
	med, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	title := "Okafor v. Lindqvist — deposit " + tag
	partyEmail := "okafor-" + tag + "@example.test"

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/desk.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_TITLE="+title, "PARLEY_PARTY_EMAIL="+partyEmail, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
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
	var caseID string
	var other *client.Client
	// theCase finds the case the browser opened, by its title.
	theCase := func() (api.Case, error) {
		list, err := medC.Cases(ctx)
		if err != nil {
			return api.Case{}, err
		}
		for _, l := range list {
			if l.Title == title {
				caseID = l.ID
				return medC.Case(ctx, l.ID)
			}
		}
		return api.Case{}, fmt.Errorf("no case titled %q", title)
	}
	checks := map[string]func(arg string) (string, error){
		// The case exists with the two labelled sides the form named.
		"created": func(string) (string, error) {
			c, err := theCase()
			if err != nil {
				return "", err
			}
			if c.Type != "tenancy" || c.ReferralSource != "court" || len(c.Sides) != 2 || c.Sides[0].Label != "Tenant" || c.Sides[1].Label != "Landlord" {
				return "", fmt.Errorf("case as stored: type %q referral %q sides %+v", c.Type, c.ReferralSource, c.Sides)
			}
			return caseID, nil
		},
		// The invitation given an email address went to Mailpit, with
		// the link and without the case's name; the link, which the desk
		// did not show, is the one the party opens.
		"mailed": func(string) (string, error) {
			got := mp.Outbox(sentIDs(n, caseID)).WaitFor(t, "join-"+caseID+"-", 1, 20*time.Second)
			if len(got) != 1 || got[0].To[0].Address != partyEmail {
				return "", fmt.Errorf("invitation mail: %+v", got)
			}
			full, err := mp.Get(got[0].ID)
			at := strings.Index(full.Text, "http")
			if err != nil || at < 0 || !strings.Contains(full.Text, "/join#") || strings.Contains(full.Text+full.Subject, "Okafor") {
				return "", fmt.Errorf("invitation mail text (%v): %s", err, full.Text)
			}
			return strings.Fields(full.Text[at:])[0], nil
		},
		// The Landlord party opens their link through the API, then
		// acknowledges the disclosure the mediator made in the browser.
		"join": func(link string) (string, error) {
			other = client.New(n.URL, "")
			_, err := other.Join(ctx, link)
			return "", err
		},
		// The withdrawn invitation's link is refused as an expired one
		// is, and the server lists it no more.
		"withdrawn": func(link string) (string, error) {
			var apiErr *client.Error
			if _, err := client.New(n.URL, "").Join(ctx, link); !errors.As(err, &apiErr) || apiErr.Status != http.StatusGone {
				return "", fmt.Errorf("the withdrawn link: %v", err)
			}
			list, err := medC.PendingInvites(ctx, caseID)
			if err != nil {
				return "", err
			}
			for _, p := range list {
				if p.Name == "Lee Typo" {
					return "", fmt.Errorf("the withdrawn invitation is still pending: %+v", list)
				}
			}
			return "", nil
		},
		// The Landlord party accepts the case's terms, signed by a device.
		"accept": func(string) (string, error) {
			nodetest.AcceptTerms(t, other, caseID)
			return "", nil
		},
		"ack": func(string) (string, error) {
			c, err := other.Case(ctx, caseID)
			if err != nil || len(c.Disclosures) != 1 {
				return "", fmt.Errorf("the party's view of the case: %d disclosures, %v", len(c.Disclosures), err)
			}
			_, err = other.CaseAction(ctx, caseID, "disclosures/"+c.Disclosures[0].ID+"/ack", nil)
			return "", err
		},
		// Everything the desk saved is what the server holds.
		"final": func(string) (string, error) {
			c, err := theCase()
			if err == nil {
				return "", fmt.Errorf("the mediator still reads the case after stepping off")
			}
			c, err = other.Case(ctx, caseID)
			if err != nil {
				return "", err
			}
			kinds := map[string]string{}
			for _, o := range c.Objectives {
				kinds[o.Text] = string(o.Kind)
			}
			var path []string
			for _, h := range c.StageHistory {
				path = append(path, string(h.To))
			}
			if got := strings.Join(path, ","); got != "preparation,opening,preparation,opening,issues,negotiation,closure" {
				return "", fmt.Errorf("stage history %s", got)
			}
			// The party sees how it ended, not the sessions and hours
			// (they count caucuses); the record holds them.
			if c.Outcome == nil || *c.Outcome != (api.Outcome{Result: api.PartialAgreement}) {
				return "", fmt.Errorf("the party's outcome %+v", c.Outcome)
			}
			held, err := n.Cases.Load(ctx, caseID)
			if err != nil {
				return "", err
			}
			if held.Outcome == nil || held.Outcome.Sessions != 2 || held.Outcome.Hours != 3.5 {
				return "", fmt.Errorf("the recorded outcome %+v", held.Outcome)
			}
			if len(c.Mediators) != 1 || c.Mediators[0].AccountID != med.ID || c.Mediators[0].Recused == nil || c.Mediators[0].RecusalReason == "" {
				return "", fmt.Errorf("mediators %+v", c.Mediators)
			}
			roles := map[string]int{}
			for _, p := range c.Participants {
				roles[string(p.Role)+"/"+p.Side]++
			}
			if kinds["Agree what happens to the deposit"] != "objective" || kinds["Both sides sign a written settlement"] != "success-criterion" || roles["party/A"] != 1 || roles["party/B"] != 1 || len(c.Disclosures) != 2 { // the second: the one whose answer desk.mjs lost (saved all the same)
				return "", fmt.Errorf("objectives %v participants %v disclosures %d", kinds, roles, len(c.Disclosures))
			}
			return "", nil
		},
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if verb, arg, ok := strings.Cut(strings.TrimPrefix(line, "ask "), " "); strings.HasPrefix(line, "ask ") && ok {
			f := checks[verb]
			if f == nil {
				t.Errorf("unknown ask %q", verb)
				fmt.Fprintln(stdin, "error unknown")
				continue
			}
			out, err := f(arg)
			if err != nil {
				t.Errorf("%s: %v", verb, err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok "+out)
		}
		if line == "PASS" {
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"desk-new-case.png", "desk-invite.png", "desk-case.png", "desk-stage-refused.png", "desk-close-confirm.png",
		"desk-surveys.png", "desk-stepoff.png", "desk-list.png", "desk-list-open.png", "desk-case-phone.png", "desk-invite-phone.png", "desk-stage-phone.png",
		"desk-disclosure-confirm.png", "desk-disclosure-confirm-phone.png", "desk-disclosure-reread.png", "desk-disclosure-reread-phone.png", "desk-outcome-empty.png", "desk-outcome-confirm.png", "desk-outcome-confirm-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
