package evaluation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// Survey comments are scrubbed of every name the case ever held, not only
// of the people in it at export time: a participant a mediator removed, a
// mediator assigned and still in their notice period, and the name a
// notice of the program carries (a withdrawn assignment).
func TestExportScrubsRemovedPendingAndNoticeNames(t *testing.T) {
	ctx := context.Background()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := metastore.New(store, make([]byte, 32))
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(make([]byte, 32)))
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New()
	svc := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, log)
	base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	secrets := []string{"Rivera", "Okafor", "Lindgren"}
	var items []cases.Imported
	for i := range 12 {
		opened := base.Add(time.Duration(i) * time.Hour)
		closed := opened.Add(40 * 24 * time.Hour)
		c := &cases.Case{
			ID: ids.New("c"), Title: "Case", Type: "family", ReferralSource: "court",
			Sides:     []cases.Side{{ID: "A", Label: "Side one"}, {ID: "B", Label: "Side two"}},
			Mediators: []cases.Mediator{{AccountID: ids.New("u"), Name: "Morgan Reyes", Added: opened}},
			Participants: []cases.Participant{
				{AccountID: ids.New("u"), Name: "Pat Doe", Role: cases.RoleParty, Side: "A", Joined: opened},
				{AccountID: ids.New("u"), Name: "Sam Roe", Role: cases.RoleParty, Side: "B", Joined: opened}},
			Removed: []cases.RemovedParticipant{{Participant: cases.Participant{AccountID: ids.New("u"), Name: "Alex Rivera",
				Role: cases.RoleCounsel, Side: "A", Joined: opened}, Removed: opened.Add(time.Hour), RemovedBy: "x"}},
			PendingMediators: []cases.PendingMediator{{AccountID: ids.New("u"), Name: "Jordan Okafor", Approved: closed, ReadsFrom: closed.Add(72 * time.Hour)}},
			Notices:          []cases.Notice{{ID: ids.New("n"), Kind: cases.NoticeWithdrawn, Mediator: ids.New("u"), Name: "Kim Lindgren", At: opened}},
			Stage:            cases.StageClosure,
			StageHistory:     []cases.StageChange{{To: cases.StagePreparation, At: opened}, {From: cases.StagePreparation, To: cases.StageClosure, At: closed}},
			Created:          opened, Closed: &closed,
			Outcome: &cases.Outcome{Result: cases.FullAgreement, Sessions: 2, Hours: 3, Recorded: closed},
		}
		var resps []cases.SurveyResponse
		for _, comment := range []string{"Rivera lied about the deposit.", "Okafor never showed up.", "Lindgren was kind."} {
			scores := map[string]int{}
			for _, it := range cases.SurveyItems {
				scores[it] = 4
			}
			resps = append(resps, cases.SurveyResponse{Day: closed.Format(time.DateOnly), Scores: scores, Comment: comment})
		}
		items = append(items, cases.Imported{Case: c, Responses: resps})
	}
	if err := svc.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(ctx, svc, &out, Options{To: time.Now().Add(time.Hour), K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows == 0 {
		t.Fatalf("no rows: %+v", rep)
	}
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(out.String()), strings.ToLower(s)) {
			t.Fatalf("%q survived in the export:\n%s", s, out.String())
		}
	}
}
