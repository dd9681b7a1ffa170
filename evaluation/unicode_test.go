package evaluation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// A name that starts or ends with a letter outside ASCII is scrubbed too,
// in any case, at a sentence start, in the other Unicode form (NFD "Zoë")
// and with a typographic apostrophe ("O’Brien" for a stored "O'Brien").
// Before, `\b` (ASCII-only) never matched next to "ë" or "é", and these
// comments were released with the names in them.
func TestExportScrubsNonASCIINames(t *testing.T) {
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
	secrets := []string{"Zoë", "Lindqvist", "José", "Núñez", "Renée", "O'Brien", "Łukasz", "Élise"}
	comments := []string{"Zoë never showed up.", "thanks to zoë.", "José was late", "O’Brien said no", "Zoe\u0308 helped",
		"ŁUKASZ listened.", "élise was fair"}
	var items []cases.Imported
	for i := range 12 {
		opened := base.Add(time.Duration(i) * time.Hour)
		closed := opened.Add(40 * 24 * time.Hour)
		c := &cases.Case{
			ID: ids.New("c"), Title: "Case", Type: "family", ReferralSource: "court",
			Sides:     []cases.Side{{ID: "A", Label: "Side one"}, {ID: "B", Label: "Side two"}},
			Mediators: []cases.Mediator{{AccountID: ids.New("u"), Name: "Élise Łukasz", Added: opened}},
			Participants: []cases.Participant{
				{AccountID: ids.New("u"), Name: "Zoë Lindqvist", Role: cases.RoleParty, Side: "A", Joined: opened},
				{AccountID: ids.New("u"), Name: "José Núñez", Role: cases.RoleParty, Side: "B", Joined: opened},
				{AccountID: ids.New("u"), Name: "Renée O'Brien", Role: cases.RoleCounsel, Side: "B", Joined: opened}},
			Stage:        cases.StageClosure,
			StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: opened}, {From: cases.StagePreparation, To: cases.StageClosure, At: closed}},
			Created:      opened, Closed: &closed,
			Outcome: &cases.Outcome{Result: cases.FullAgreement, Sessions: 2, Hours: 3, Recorded: closed},
		}
		var resps []cases.SurveyResponse
		for _, comment := range comments {
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
	fold := func(s string) string {
		return strings.ToLower(strings.NewReplacer("’", "'", "‘", "'", "ʼ", "'").Replace(norm.NFC.String(s)))
	}
	got := fold(out.String())
	for _, s := range secrets {
		if strings.Contains(got, fold(s)) {
			t.Fatalf("%q survived in the export:\n%s", s, out.String())
		}
	}
	// The comments are kept, with the names removed, not dropped whole.
	for _, want := range []string{"[removed] never showed up.", "thanks to [removed].", "[removed] was late",
		"[removed] said no", "[removed] helped", "[removed] listened.", "[removed] was fair"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q not in the export:\n%s", want, out.String())
		}
	}
}

// The Unicode-aware match removes a name only as a whole word, in any
// script, and for ASCII it removes what `\b<name>\b` removed before.
func TestScrubCommentWordBoundaries(t *testing.T) {
	roster := rosterStrings([]string{"Zoë Lindqvist", "Pat Doe", "Renée O’Brien"})
	for _, c := range []struct{ in, want string }{
		{"Zoë never showed up.", "[removed] never showed up."},
		{"thanks to ZOË, really", "thanks to [removed], really"},
		{"zoëlla and zoë_x stay", "zoëlla and zoë_x stay"},
		{"pat pat pat", "[removed] [removed] [removed]"},
		{"patricia and pat doe", "patricia and [removed]"},
		{"o'brien and o’brien", "[removed] and [removed]"},
		{"rene\u0301e agreed", "[removed] agreed"},
		{"no name here", "no name here"},
	} {
		if got, _ := scrubComment(c.in, roster); got != c.want {
			t.Errorf("scrubComment(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, name := range []string{"Pat", "Pat Doe", "O'Brien", "Doe-Smith", "al"} {
		old := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(name) + `\b`)
		re := rosterStrings([]string{name})[0]
		for _, in := range []string{"Pat, pat. PAT!", "Patrick pat_x 2pat pat2 xpat", "pat doe doe pat doe", "o'brien O'BRIEN o'briens",
			"doe-smith doe-smithy", "Al al, alan pal al.", "", "[removed] pat"} {
			if got, want := removeName(in, re), old.ReplaceAllString(in, removed); got != want {
				t.Errorf("%q in %q: %q, before %q", name, in, got, want)
			}
		}
	}
}
