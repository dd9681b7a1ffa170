package web_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserWholeCase drives web/client/test/wholecase.mjs in Chromium: a
// whole mediation with no CLI (issue #17's "done when"). The mediator opens
// the case in the desk (type, referral, sides, reference) and invites two
// parties and a lawyer, reading each link from the page; they join in their
// own browsers and accept the mediator's terms, and opening is refused,
// naming the lawyer, until the lawyer accepts too; each acknowledges the
// mediator's disclosure; they talk in the caucuses; the test clock ends the
// Tenant's session (eight idle days, while the others came back on day
// four) and a re-entry link brings her back to the same account and her
// history; she links her phone from her laptop by a pairing code and reads
// the caucus there; the Landlord loses his browser and the mediator admits
// his new one, which reads only what follows; an administrator disables a
// second mediator (with their own case open), whose socket closes, while
// the case's mediator carries on; the case goes through every stage to
// closure, the outcome is recorded and the Tenant answers the survey. At
// each "ask" the Go side checks what the server holds.
func TestBrowserWholeCase(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "axe-core")); err != nil {
		t.Fatal("web/client/node_modules is missing axe-core: run `make web` (npm ci)")
	}
	// The clock of sessions and links: real time until the test moves it.
	var ahead atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(),
		Clock: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	ctx := context.Background()
	tag := ids.New("x")[2:10]
	medEmail, samEmail, adminEmail := "morgan-"+tag+"@browser.test", "sam-"+tag+"@browser.test", "ines-"+tag+"@browser.test"
	med, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	sam, err := n.Accounts.Create(ctx, account.NewAccount{Email: samEmail, Name: "Sam Ortiz", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := n.Accounts.Create(ctx, account.NewAccount{Email: adminEmail, Name: "Ines Admin", Role: policy.RoleAdmin, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	title := "Okafor v. Lindqvist — deposit " + tag
	reference := "2026-CV-" + strings.ToUpper(tag[:4])

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/wholecase.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_MEDIATOR2_EMAIL="+samEmail,
		"PARLEY_ADMIN_EMAIL="+adminEmail, "PARLEY_PASSWORD="+nodetest.Password, "PARLEY_TITLE="+title, "PARLEY_REFERENCE="+reference,
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

	var caseID string
	load := func() (*cases.Case, error) { return n.Cases.Load(ctx, caseID) }
	accountOf := func(c *cases.Case, name string) string {
		for _, p := range c.Participants {
			if p.Name == name {
				return p.AccountID
			}
		}
		return ""
	}
	var adaAt, larsAt string // the accounts that first joined
	audited := func(typ, actor, object string) error {
		for i := n.Audit.Size() - 1; i >= 0; i-- {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				return err
			}
			if ev.Type == typ && ev.Actor == actor && (object == "" || len(ev.Objects) > 0 && ev.Objects[0] == object) {
				return nil
			}
		}
		return fmt.Errorf("no %s audit entry by %s about %s", typ, actor, object)
	}
	checks := map[string]func(arg string) error{
		// The case the desk opened, as the form said.
		"created": func(id string) error {
			caseID = id
			c, err := load()
			if err != nil {
				return err
			}
			if c.Title != title || c.Type != "tenancy" || c.ReferralSource != "court" || c.Reference != reference ||
				len(c.Sides) != 2 || c.Sides[0].Label != "Tenant" || c.Sides[1].Label != "Landlord" ||
				len(c.Mediators) != 1 || c.Mediators[0].AccountID != med.ID {
				return fmt.Errorf("case as stored: %q %q %q ref %q sides %+v mediators %+v", c.Title, c.Type, c.ReferralSource, c.Reference, c.Sides, c.Mediators)
			}
			return nil
		},
		// The refusal changed nothing.
		"still": func(string) error {
			c, err := load()
			if err == nil && (string(c.Stage) != "preparation" || len(c.StageHistory) != 1) {
				err = fmt.Errorf("after the refusal the case is in %s (%d changes)", c.Stage, len(c.StageHistory))
			}
			return err
		},
		// Opened: all three accepted the mediator's terms, each signed by
		// a device of theirs, and acknowledged the disclosure.
		"opened": func(string) error {
			c, err := load()
			if err != nil {
				return err
			}
			if string(c.Stage) != "opening" || c.Terms == nil || c.Terms.By != med.ID {
				return fmt.Errorf("stage %s, terms %+v", c.Stage, c.Terms)
			}
			adaAt, larsAt = accountOf(c, "Ada Okafor"), accountOf(c, "Lars Lindqvist")
			signed := map[string]bool{}
			for _, k := range c.TermsConsents {
				if k.Item == strconv.Itoa(c.Terms.Version) && k.SHA256 == c.Terms.SHA256 && strings.HasPrefix(k.Device, "dv_") && k.Signature != "" {
					signed[k.AccountID] = true
				}
			}
			acked := map[string]bool{}
			if len(c.Disclosures) == 1 {
				for _, a := range c.Disclosures[0].Acks {
					acked[a.AccountID] = a.Signed != nil
				}
			}
			for _, p := range c.Participants {
				if !signed[p.AccountID] || !acked[p.AccountID] {
					return fmt.Errorf("%s: terms signed %v, disclosure acknowledged with a signature %v", p.Name, signed[p.AccountID], acked[p.AccountID])
				}
			}
			if len(c.Participants) != 3 || adaAt == "" || larsAt == "" {
				return fmt.Errorf("participants %+v", c.Participants)
			}
			return nil
		},
		"days": func(d string) error {
			days, err := strconv.Atoi(d)
			if err != nil {
				return err
			}
			ahead.Add(int64(time.Duration(days) * 24 * time.Hour))
			return nil
		},
		// Back by re-entry: the same account, and no new participant.
		"same": func(me string) error {
			c, err := load()
			if err == nil && (me != adaAt || len(c.Participants) != 3 || accountOf(c, "Ada Okafor") != adaAt) {
				err = fmt.Errorf("after re-entry Ada is %s (first joined as %s); participants %+v", me, adaAt, c.Participants)
			}
			return err
		},
		// The mediator admitted a device of Lars's own account, audited.
		"admitted": func(string) error {
			for i := n.Audit.Size() - 1; i >= 0; i-- {
				ev, err := n.Audit.Entry(ctx, i)
				if err != nil {
					return err
				}
				if ev.Type == "e2ee.device.admitted" {
					if ev.Actor != med.ID || ev.Case != caseID || len(ev.Objects) < 2 || ev.Objects[0] != larsAt {
						return fmt.Errorf("admission audited as %+v", ev)
					}
					return nil
				}
			}
			return fmt.Errorf("no admission in the audit log")
		},
		"disabled": func(string) error {
			s, err := n.Accounts.Get(ctx, sam.ID)
			if err != nil {
				return err
			}
			m, err := n.Accounts.Get(ctx, med.ID)
			if err != nil {
				return err
			}
			if !s.Disabled || m.Disabled {
				return fmt.Errorf("disabled: Sam %v, Morgan %v", s.Disabled, m.Disabled)
			}
			return audited("account.disabled", admin.ID, sam.ID)
		},
		// Every stage in order, the outcome, one anonymous survey answer.
		"final": func(string) error {
			c, err := load()
			if err != nil {
				return err
			}
			var path []string
			for _, h := range c.StageHistory {
				path = append(path, string(h.To))
			}
			if got := strings.Join(path, ","); got != "preparation,opening,issues,negotiation,closure" || c.Closed == nil {
				return fmt.Errorf("stage history %s, closed %v", got, c.Closed)
			}
			if c.Outcome == nil || c.Outcome.Result != "full-agreement" || c.Outcome.Sessions != 3 || c.Outcome.Hours != 5 {
				return fmt.Errorf("outcome %+v", c.Outcome)
			}
			if len(c.Participants) != 3 || accountOf(c, "Ada Okafor") != adaAt || accountOf(c, "Lars Lindqvist") != larsAt {
				return fmt.Errorf("participants at the end %+v", c.Participants)
			}
			rs, err := n.Cases.SurveyResponses(ctx, caseID)
			if err != nil {
				return err
			}
			if len(rs) != 1 || rs[0].Comment != "Clear and calm throughout." || len(rs[0].Scores) == 0 {
				return fmt.Errorf("survey responses %+v", rs)
			}
			for q, v := range rs[0].Scores {
				if v != 4 {
					return fmt.Errorf("survey answer %s = %d, the page ticked Agree (4)", q, v)
				}
			}
			return nil
		},
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if rest, ok := strings.CutPrefix(line, "ask "); ok {
			verb, arg, _ := strings.Cut(rest, " ")
			f := checks[verb]
			if f == nil {
				t.Errorf("unknown ask %q", verb)
				fmt.Fprintln(stdin, "error unknown")
				continue
			}
			if err := f(strings.TrimSpace(arg)); err != nil {
				t.Errorf("%s: %v", verb, err)
				fmt.Fprintln(stdin, "error "+strings.Join(strings.Fields(err.Error()), " "))
				continue
			}
			fmt.Fprintln(stdin, "ok")
		}
		if line == "PASS" {
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"wholecase-survey.png", "wholecase-survey-phone.png", "wholecase-survey-sent-phone.png",
		"wholecase-disclosure-confirm.png", "wholecase-disclosure-confirm-phone.png", "wholecase-outcome-confirm.png", "wholecase-outcome-confirm-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
