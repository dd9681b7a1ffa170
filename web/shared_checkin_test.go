package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
)

// A's survey and check-in links are single-use and answer in A's name:
// they are not mailed to the family address side B also reads (B could
// answer A's check-in as A). The mediator is told in plain words who was
// not emailed, and still gets every link to give by hand. A party alone at
// their address still gets theirs by mail.
func TestCheckInAndSurveyNotMailedToSharedAddress(t *testing.T) {
	sc := newSharedCase(t)
	ctx := context.Background()
	solo := "solo-" + ids.New("x")[2:10] + "@example.test"
	inv, err := sc.med.Invite(ctx, sc.caseID, "party", "A", "Sam Solo", solo, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(sc.n.URL, "").Join(ctx, inviteLink(t, sc.n, sc.raw, sc.caseID, inv)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.med.CaseAction(ctx, sc.caseID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	out, err := sc.med.RecordOutcome(ctx, sc.caseID, "full-agreement", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	notEmailed := func(what, warning string) {
		t.Helper()
		for _, want := range []string{"Not emailed", "Alex Parent", "Bo Parent", "someone else in this case"} {
			if !strings.Contains(warning, want) {
				t.Fatalf("%s: warning %q lacks %q", what, warning, want)
			}
		}
		if strings.Contains(warning, "Sam Solo") {
			t.Fatalf("%s: warning %q names the party with an address of their own", what, warning)
		}
	}
	notEmailed("survey", out.MailWarning)
	if len(out.Surveys) != 3 {
		t.Fatalf("%d survey links for the mediator, want 3", len(out.Surveys))
	}
	if got := sc.queuedTo(t, "survey-", sc.family); len(got) != 0 {
		t.Fatalf("survey mail queued to the shared address: %v", got)
	}
	got := sc.mp.WaitFor(t, "survey-"+sc.caseID+"-", 1, 20*time.Second)
	if len(got) != 1 || len(got[0].To) != 1 || !strings.EqualFold(got[0].To[0].Address, solo) {
		t.Fatalf("survey mails arrived: %+v; want one, to the party alone at their address", got)
	}

	fu, err := sc.med.SetFollowUps(ctx, sc.caseID, []int{1, 30})
	if err != nil {
		t.Fatal(err)
	}
	notEmailed("check-ins", fu.MailWarning)
	for _, cp := range fu.Checkpoints {
		if cp.NotMailed != 2 {
			t.Fatalf("set, check-in after %d days: %d links shown as not emailed, want 2", cp.Days, cp.NotMailed)
		}
	}
	if len(fu.Links) != 6 {
		t.Fatalf("%d check-in links for the mediator, want 6", len(fu.Links))
	}
	if got := sc.queuedTo(t, "fu-", sc.family); len(got) != 0 {
		t.Fatalf("check-in mail queued to the shared address: %v", got)
	}
	if got := sc.queuedTo(t, "fu-", solo); len(got) != 2 {
		t.Fatalf("check-in mail queued to the party alone at their address: %v, want 2", got)
	}
	// Where the mediator sees the check-ins, each says how many of its
	// links were not emailed.
	st, err := sc.med.FollowUps(ctx, sc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range st.Checkpoints {
		if cp.NotMailed != 2 {
			t.Fatalf("check-in after %d days: %d links shown as not emailed, want 2", cp.Days, cp.NotMailed)
		}
	}
}
