package evaluation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

var (
	firstNames = []string{"Alejandra", "Brendan", "Chiamaka", "Dmitri", "Eleanor", "Farhan", "Giulia", "Hiroshi", "Imani", "Jasper", "Katarzyna", "Lorenzo", "Mariam", "Nikolai", "Oluwaseun", "Priya", "Quentin", "Rosalind", "Santiago", "Thandiwe"}
	lastNames  = []string{"Okonkwo", "Vasquez", "Lindqvist", "Abernathy", "Nakamura", "Castellanos", "Fitzgerald", "Haddad", "Kowalczyk", "Montgomery", "Oyelaran", "Petrosyan", "Rasmussen", "Sutherland", "Tanaka", "Whitfield"}
	types      = []string{"family", "landlord-tenant", "workplace", "commercial", "Neighbor dispute", "custody"}
	referrals  = []string{"court", "self", "attorney", "Referred by Judge Whitfield", "agency"}
)

type person struct{ name, email, phone string }

func newPerson(r *rand.Rand) person {
	f, l := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	return person{name: f + " " + l, email: strings.ToLower(f+"."+l) + "@example.com",
		phone: fmt.Sprintf("(%03d) %03d-%04d", 200+r.IntN(700), r.IntN(1000), r.IntN(10000))}
}

// seed makes n closed cases whose every free field is full of names,
// emails and phone numbers, with survey comments that name people, and
// returns the service and every roster string and PII value used.
func seed(t testing.TB, n int, dir string) (*cases.Service, []string) {
	ctx := context.Background()
	store, err := objstore.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	meta, _ := metastore.New(store, key)
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(make([]byte, 32)))
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New()
	svc := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, log)
	r := rand.New(rand.NewPCG(1, 2))
	var secrets []string
	var items []cases.Imported
	base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		a, b, m, lawyer := newPerson(r), newPerson(r), newPerson(r), newPerson(r)
		secrets = append(secrets, a.name, b.name, m.name, lawyer.name, a.email, b.email, lawyer.email, a.phone, b.phone)
		opened := base.Add(time.Duration(r.IntN(300*24)) * time.Hour)
		stages := []cases.StageChange{{To: cases.StagePreparation, At: opened}}
		at := opened
		for _, st := range cases.Stages[1:] {
			at = at.Add(time.Duration(1+r.IntN(20)) * 24 * time.Hour)
			stages = append(stages, cases.StageChange{From: stages[len(stages)-1].To, To: st, At: at,
				Note: "Call " + a.name + " at " + a.phone})
		}
		closed := at
		c := &cases.Case{
			ID: ids.New("c"), Title: a.name + " v. " + b.name + " (" + a.email + ")", Type: types[r.IntN(len(types))],
			ReferralSource: referrals[r.IntN(len(referrals))],
			Sides:          []cases.Side{{ID: "A", Label: a.name + " household"}, {ID: "B", Label: "Landlord " + b.name}},
			Mediators:      []cases.Mediator{{AccountID: ids.New("u"), Name: m.name, Added: opened}},
			Participants: []cases.Participant{
				{AccountID: ids.New("u"), Name: a.name, Role: cases.RoleParty, Side: "A", Joined: opened},
				{AccountID: ids.New("u"), Name: b.name, Role: cases.RoleParty, Side: "B", Joined: opened},
				{AccountID: ids.New("u"), Name: lawyer.name, Role: cases.RoleCounsel, Side: "A", Joined: opened}},
			Objectives: []cases.Objective{{ID: ids.New("o"), Kind: cases.KindObjective, Text: "Settle with " + b.name + " by phone " + b.phone}},
			Stage:      cases.StageClosure, StageHistory: stages,
			Disclosures: []cases.Disclosure{{ID: ids.New("d"), Mediator: "x", Text: m.name + " knows " + a.name}},
			Created:     opened, Closed: &closed,
			Outcome: &cases.Outcome{Result: []cases.OutcomeResult{cases.FullAgreement, cases.PartialAgreement, cases.NoAgreement, cases.Withdrawn}[r.IntN(4)],
				Sessions: 1 + r.IntN(5), Hours: float64(1+r.IntN(12)) * 0.75, Recorded: closed},
		}
		comments := []string{
			"The mediator was patient and fair.",
			"Thanks to " + m.name + ", we finally talked. Reach me at " + a.email + " or " + a.phone + ".",
			b.name + " lives at 42 Maple Street, Springfield 62704; ask him.",
			"My lawyer " + lawyer.name + " helped a lot.",
			"See https://example.com/my-story and call 555-867-5309. SSN 123-45-6789 from 10.0.0.7",
		}
		var resps []cases.SurveyResponse
		for j := range 1 + r.IntN(3) {
			scores := map[string]int{}
			for _, it := range cases.SurveyItems {
				scores[it] = 1 + r.IntN(5)
			}
			resps = append(resps, cases.SurveyResponse{Day: closed.Format(time.DateOnly), Scores: scores, Comment: comments[(i+j)%len(comments)]})
		}
		items = append(items, cases.Imported{Case: c, Responses: resps})
	}
	if err := svc.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	return svc, secrets
}

var piiRe = regexp.MustCompile(`(?i)@|https?://|\d{3}[-) .]\d{3}|\d{3}-\d{2}-\d{4}|\d+\.\d+\.\d+\.\d+|maple street`)

func TestExportIdentifiesNoOne(t *testing.T) {
	svc, secrets := seed(t, 300, t.TempDir())
	var out bytes.Buffer
	rep, err := Run(context.Background(), svc, &out, Options{From: time.Time{}, To: time.Now().Add(time.Hour), K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CasesInRange != 300 || rep.Rows+rep.Suppressed != 300 || rep.Rows < 200 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.CommentsKept == 0 || rep.CommentsDropped == 0 {
		t.Fatalf("expected some comments kept (clean ones) and some dropped: %+v", rep)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(Columns, ",") {
		t.Fatalf("header %v", recs[0])
	}
	groups := map[string]int{}
	for _, rec := range recs[1:] {
		line := strings.Join(rec, "\t")
		for _, s := range secrets {
			for _, part := range append([]string{s}, strings.Fields(s)...) {
				if len(part) >= 3 && strings.Contains(strings.ToLower(line), strings.ToLower(part)) && !isDigitsOrPunct(part) {
					t.Fatalf("roster string %q survived in row: %s", part, line)
				}
			}
		}
		if piiRe.MatchString(line) {
			t.Fatalf("PII pattern survived: %s", line)
		}
		groups[rec[1]+"|"+rec[2]+"|"+rec[3]]++
	}
	for g, n := range groups {
		if n < 5 {
			t.Fatalf("quasi-identifier group %s has %d rows (< k=5)", g, n)
		}
	}
	if len(recs)-1 != rep.Rows {
		t.Fatalf("%d rows written, report says %d", len(recs)-1, rep.Rows)
	}
	// Pseudonyms differ between exports.
	var again bytes.Buffer
	Run(context.Background(), svc, &again, Options{To: time.Now().Add(time.Hour)})
	second, _ := csv.NewReader(&again).ReadAll()
	tokens := map[string]bool{}
	for _, rec := range recs[1:] {
		tokens[rec[0]] = true
	}
	for _, rec := range second[1:] {
		if tokens[rec[0]] {
			t.Fatalf("case token %s appears in two exports", rec[0])
		}
	}
}

// Durations and counts that someone could know of a case — its stage
// dates, its roster size — leave the export only as band labels, so they
// cannot single out a row within its k-anonymous group.
func TestExportBandsDurationsAndCounts(t *testing.T) {
	svc, _ := seed(t, 120, t.TempDir())
	var out bytes.Buffer
	if _, err := Run(context.Background(), svc, &out, Options{To: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]band{"participants": participantBands, "sessions": sessionBands, "hours": hourBands,
		"days_preparation": dayBands, "days_opening": dayBands, "days_issues": dayBands, "days_negotiation": dayBands,
		"days_to_resolution": dayBands, "survey_responses": responseBands}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	// The rows as made, before k-anonymity generalizes cells away (the
	// random seed cases differ on so many columns that few cells survive
	// it), and the rows as released.
	rows := recs[1:]
	key := make([]byte, 32)
	svc.All(context.Background(), func(c *cases.Case) error {
		resps, err := svc.SurveyResponses(context.Background(), c.ID)
		if err != nil {
			return err
		}
		r, _, _ := makeRow(c, resps, nil, key)
		rows = append(rows, r.values)
		return nil
	})
	seen := map[string]int{}
	for _, rec := range rows {
		for name, bands := range allowed {
			v := rec[col[name]]
			if v == "" || v == withheld || name == "survey_responses" && (v == releasedOrNot(0) || v == releasedOrNot(MinSurveyResponses)) {
				continue
			}
			if !slices.ContainsFunc(bands, func(b band) bool { return b.label == v }) {
				t.Fatalf("%s = %q: not a band label (%s)", name, v, bandLabels(bands))
			}
			seen[name]++
		}
	}
	if seen["days_to_resolution"] == 0 || seen["hours"] == 0 || seen["participants"] == 0 {
		t.Fatalf("the seeded cases gave no values to check: %v", seen)
	}
}

func TestBands(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {0.4, "0"}, {1, "1-6"}, {6.9, "1-6"}, {7, "7-13"}, {364.9, "180-364"}, {365, "365+"}, {4000, "365+"}, {-1, "0"}} {
		if got := inBand(tc.v, dayBands); got != tc.want {
			t.Errorf("inBand(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func isDigitsOrPunct(s string) bool {
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return false
		}
	}
	return true
}

// TestAgeEncryptedExportOpensWithStockAge: the Debian `age` tool decrypts
// the export and the result parses as the documented CSV.
func TestAgeEncryptedExportOpensWithStockAge(t *testing.T) {
	ageBin, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("PARLEY_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("the age command is missing (make test installs Debian's age package)")
		}
		t.Skip("age not installed; run make test")
	}
	svc, _ := seed(t, 40, t.TempDir())
	id, _ := age.GenerateX25519Identity()
	var out bytes.Buffer
	rep, err := Run(context.Background(), svc, &out, Options{To: time.Now().Add(time.Hour), Recipient: id.Recipient()})
	if err != nil || !rep.Encrypted {
		t.Fatalf("%v %+v", err, rep)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key.txt"), []byte(id.String()+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "export.csv.age"), out.Bytes(), 0o600)
	plain, err := exec.Command(ageBin, "-d", "-i", filepath.Join(dir, "key.txt"), filepath.Join(dir, "export.csv.age")).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	recs, err := csv.NewReader(bytes.NewReader(plain)).ReadAll()
	if err != nil || len(recs) != rep.Rows+1 || len(recs[0]) != len(Columns) {
		t.Fatalf("decrypted export: %d records, err %v", len(recs), err)
	}
}

func BenchmarkExport10000Cases(b *testing.B) {
	dir := b.TempDir()
	if shm := "/dev/shm"; os.Getenv("PARLEY_BENCH_DIR") != "" {
		dir = os.Getenv("PARLEY_BENCH_DIR")
	} else if st, err := os.Stat(shm); err == nil && st.IsDir() {
		d, err := os.MkdirTemp(shm, "parley-export-bench")
		if err == nil {
			dir = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	svc, _ := seed(b, 10000, dir)
	b.ResetTimer()
	for b.Loop() {
		var out bytes.Buffer
		rep, err := Run(context.Background(), svc, &out, Options{To: time.Now().Add(time.Hour)})
		if err != nil || rep.CasesInRange != 10000 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
