package evaluation

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/parley-mediation/parley/cases"
)

// Options select what to export and how.
type Options struct {
	From, To  time.Time // cases opened in [From, To)
	K         int       // k-anonymity (default 5)
	Format    string    // "csv" (default) or "jsonl"
	Recipient age.Recipient
	// Progress, if set, is called after each case is read.
	Progress func(done int)
}

// Report says what an export holds and what it had to hide.
type Report struct {
	Rows         int            `json:"rows"`
	CasesInRange int            `json:"casesInRange"`
	Suppressed   int            `json:"suppressed"`
	Generalized  map[string]int `json:"generalized"` // step → rows
	// CommentsKept and CommentsDropped count, over the rows released,
	// the comments written and those the scrub dropped; a row whose
	// comments are withheld (beside a disposed case's stub) counts
	// neither, and comments past a row's cap are not kept. A suppressed
	// row's are not counted: one dropped comment in a range whose one
	// surveyed case was suppressed said that case had a comment naming
	// someone.
	CommentsKept    int `json:"commentsKept"`
	CommentsDropped int `json:"commentsDropped"`
	// SurveysWithheld counts cases with survey responses, but fewer than
	// MinSurveyResponses, whose means and comments were not released.
	SurveysWithheld int `json:"surveysWithheld"`
	// Stubs counts the disposed cases in range, counted from their
	// statistical stubs (included in CasesInRange).
	Stubs            int      `json:"stubs"`
	K                int      `json:"k"`
	SHA256           string   `json:"sha256"` // of the bytes written (after encryption)
	Encrypted        bool     `json:"encrypted"`
	Format           string   `json:"format"`
	QuasiIdentifiers []string `json:"quasiIdentifiers"`
}

// Source is where cases come from: the cases service.
type Source interface {
	All(ctx context.Context, fn func(*cases.Case) error) error
	SurveyResponses(ctx context.Context, caseID string) ([]cases.SurveyResponse, error)
}

// Columns of a row, in order. See Dictionary.
var Columns = append([]string{"case_token", "case_type", "referral_source", "opened_period", "sides", "participants",
	"sessions", "hours", "days_preparation", "days_opening", "days_issues", "days_negotiation", "days_to_resolution",
	"outcome", "survey_responses"}, append(meanColumns(), "comments", "followup_honoured", "followup_partly", "followup_not")...)

// FollowUpSource is a Source that also has the anonymous check-ins on
// agreements (package schedule): their answers are counted per case.
type FollowUpSource interface {
	FollowUpCounts(ctx context.Context, caseID string) (honoured, partly, not int, err error)
}

// InviteSource is a Source that also has whom the cases' invitations
// were for (cases.Service.Invited): every one, used or not, withdrawn or
// refused. Their names are scrubbed from the case's comments like its
// roster's.
type InviteSource interface {
	Invited(ctx context.Context, fn func(cases.InvitedPerson) error) error
}

func meanColumns() []string {
	out := make([]string, len(cases.SurveyItems))
	for i, it := range cases.SurveyItems {
		out[i] = "mean_" + it
	}
	return out
}

// MinSurveyResponses is the fewest survey responses a case must have for
// its survey means and comments to be released. Below it, a mean is one or
// two people's exact answers, which anyone who can tell the row's case
// would read; those cells are left empty ("not released").
const MinSurveyResponses = 3

// halfMean is how a survey mean is published: rounded to the nearest 0.5
// (halves round up), written with one decimal ("4.0", "4.5"). Records
// staff know each case's number of responses; a mean printed as sum/n
// with two decimals gave n back (a 3-response case's means are thirds, a
// 4-response case's quarters), and with it the row's case inside its
// group. Every value of the 0.5 grid is reachable from any n >= 2, so a
// rounded mean does not say n.
func halfMean(v float64) string {
	return strconv.FormatFloat(math.Round(v*2)/2, 'f', 1, 64)
}

// QuasiIdentifiers are the columns someone may know of a case without the
// export. Records staff, who run the export, see each case's type, opening
// and stage dates, closure, sides, roster size and outcome (sessions, hours)
// in its summary, and in the audit log one "survey.response" event per
// response; participants know their own case. So every one of these
// columns is part of the k-anonymity grouping: a released row is
// indistinguishable, on all of them together, from at least k-1 others.
// Records staff also know which cases have follow-up check-ins (the
// `followup.set` audit entries name the case and its days), and can count
// a case's check-in answers: each link opens a day before its due date
// and expires 60 days after, and every `followup.response` entry has its
// time, so where cases' windows do not overlap the entries in a window
// are its case's. The three follow-up cells bound that count (their
// bands' sum), so a row whose cells fit only one case's count would be
// that case. The number of answers is therefore a quasi-identifier too
// ("followup_answers", derived, not a column of its own): while a row's
// follow-up cells are in their count bands it is grouped only with rows
// of cases with exactly as many answers, so its cells fit every case of
// its group; generalized ("followups:some-or-all") the cells say only
// "0", "some" or "all", which fit any number of answers from
// MinSurveyResponses up, and the row is grouped with every row released
// so; a row without them is grouped with the rows without them. What is
// left to protect is what no one outside the survey knows: the survey
// means and comments, and the check-in answers.
var QuasiIdentifiers = []string{"case_type", "referral_source", "opened_period", "sides", "participants",
	"sessions", "hours", "days_preparation", "days_opening", "days_issues", "days_negotiation", "days_to_resolution",
	"outcome", "survey_responses", "followup_answers"}

// qiFirst and qiLast bound the QuasiIdentifiers in a row (after the
// token).
const qiFirst, qiLast = 1, 14

// withheld marks a generalized-away quasi-identifier cell.
const withheld = "*"

type row struct {
	opened    time.Time
	responses int
	level     int
	values    []string
	// followups: the follow-up columns are released; answers is the
	// case's number of check-in answers, and checkIns the answers
	// (honoured, partly, not); someOrAll: the cells are generalized to
	// "0", "some" or "all" (derived quasi-identifier "followup_answers":
	// answers while the cells are in count bands).
	followups bool
	someOrAll bool
	answers   int
	checkIns  [3]int
	// stub: the row is a disposed case's, made from its statistical stub.
	stub bool
	// kept and dropped: how many of the case's comments the scrub kept
	// and dropped (counted in the report only if the row is released).
	kept, dropped int
	// comments: the case's scrubbed comments, in the order of its
	// responses (none for a stub); capComments decides how many are
	// released.
	comments []string
}

// qi is the row's quasi-identifier tuple as a grouping key.
func (r *row) qi() string {
	return strings.Join(r.values[qiFirst:qiLast+1], "\x00") + "\x00" + r.followupAnswers()
}

// followupAnswers is the row's derived quasi-identifier
// "followup_answers": "" when the follow-up cells are not released, "any"
// when they are generalized to "0", "some" or "all" (which fit every
// number of answers they are released for), else the case's exact number
// of answers, which records staff can count from the audit log and which
// the count bands bound.
func (r *row) followupAnswers() string {
	switch {
	case !r.followups:
		return ""
	case r.someOrAll:
		return "any"
	}
	return strconv.Itoa(r.answers)
}

// someOrAll is a follow-up cell generalized: "0", "all" (x is every one
// of the case's total answers) or "some". With at least
// MinSurveyResponses answers every combination of the three cells fits
// every total, so the cells do not bound the number of answers.
func someOrAll(x, total int) string {
	switch x {
	case 0:
		return "0"
	case total:
		return "all"
	}
	return "some"
}

// Run writes the export of src to w and returns its report.
func Run(ctx context.Context, src Source, w io.Writer, opts Options) (Report, error) {
	if opts.K == 0 {
		opts.K = 5
	}
	if opts.K < 2 || opts.K > 1000 {
		return Report{}, fmt.Errorf("k must be between 2 and 1000")
	}
	if opts.Format == "" {
		opts.Format = "csv"
	}
	if opts.Format != "csv" && opts.Format != "jsonl" {
		return Report{}, fmt.Errorf("format must be csv or jsonl")
	}
	key := make([]byte, 32)
	rand.Read(key)
	rep := Report{K: opts.K, Format: opts.Format, Generalized: map[string]int{},
		QuasiIdentifiers: QuasiIdentifiers}
	invited := map[string][]cases.InvitedPerson{}
	if is, ok := src.(InviteSource); ok {
		if err := is.Invited(ctx, func(p cases.InvitedPerson) error {
			invited[p.CaseID] = append(invited[p.CaseID], p)
			return nil
		}); err != nil {
			return Report{}, err
		}
	}
	var rows []*row
	done := 0
	// live: every stored case. A case whose disposal stopped part way
	// (paused at a storage hold, or under way) has both its record and its
	// stub; it is counted once, from its record.
	live := map[string]bool{}
	err := src.All(ctx, func(c *cases.Case) error {
		done++
		live[c.ID] = true
		if opts.Progress != nil {
			opts.Progress(done)
		}
		if c.Created.Before(opts.From) || !c.Created.Before(opts.To) {
			return nil
		}
		rep.CasesInRange++
		resps, err := src.SurveyResponses(ctx, c.ID)
		if err != nil {
			return err
		}
		r, kept, dropped := makeRow(c, resps, invited[c.ID], key)
		h, p, n := 0, 0, 0
		if fs, ok := src.(FollowUpSource); ok {
			if h, p, n, err = fs.FollowUpCounts(ctx, c.ID); err != nil {
				return err
			}
		}
		if h+p+n >= MinSurveyResponses {
			r.values = append(r.values, itoaBand(h, countBands), itoaBand(p, countBands), itoaBand(n, countBands))
			r.followups, r.answers, r.checkIns = true, h+p+n, [3]int{h, p, n}
		} else {
			// Fewer answers than a survey mean needs: one person's
			// check-in is not released.
			r.values = append(r.values, "", "", "")
		}
		r.kept, r.dropped = kept, dropped
		if len(resps) > 0 && len(resps) < MinSurveyResponses {
			rep.SurveysWithheld++
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	if ss, ok := src.(StubSource); ok {
		// Disposed cases: their statistical stubs count as cases (but
		// for a case still stored, counted above).
		err := ss.Stubs(ctx, func(st *cases.Stub) error {
			if live[st.Case] || st.Opened.Before(opts.From) || !st.Opened.Before(opts.To) {
				return nil
			}
			r := stubRow(st, key)
			if r == nil {
				return nil
			}
			rep.CasesInRange++
			rep.Stubs++
			if st.Responses > 0 && st.Responses < MinSurveyResponses {
				rep.SurveysWithheld++
			}
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return Report{}, err
		}
	}
	rows, rep.Suppressed = anonymize(rows, opts.K, rep.Generalized)
	withholdCommentsBesideStubs(rows)
	capComments(rows)
	// Counted once withheld and capped: kept is what is written, and a
	// row whose comments are withheld counts none dropped (a stored case
	// beside a stub showing no comments but "1 dropped" said it had one
	// naming someone).
	for _, r := range rows {
		rep.CommentsKept += r.kept
		rep.CommentsDropped += r.dropped
	}
	rep.Rows = len(rows)
	slices.SortFunc(rows, func(a, b *row) int { return strings.Compare(a.values[0], b.values[0]) })

	h := sha256.New()
	out := io.MultiWriter(w, h)
	var closer io.Closer
	if opts.Recipient != nil {
		enc, err := age.Encrypt(out, opts.Recipient)
		if err != nil {
			return Report{}, err
		}
		out, closer, rep.Encrypted = enc, enc, true
	}
	if err := write(out, rows, opts.Format); err != nil {
		return Report{}, err
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			return Report{}, err
		}
	}
	rep.SHA256 = hex.EncodeToString(h.Sum(nil))
	return rep, nil
}

func makeRow(c *cases.Case, resps []cases.SurveyResponse, invited []cases.InvitedPerson, key []byte) (*row, int, int) {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(c.ID))
	token := hex.EncodeToString(mac.Sum(nil)[:10])

	days := map[cases.Stage]float64{}
	for i, h := range c.StageHistory {
		end := time.Now()
		if i+1 < len(c.StageHistory) {
			end = c.StageHistory[i+1].At
		} else if c.Closed != nil {
			end = *c.Closed
		}
		days[h.To] += end.Sub(h.At).Hours() / 24
	}
	resolution := ""
	if c.Closed != nil {
		resolution = inBand(c.Closed.Sub(c.Created).Hours()/24, dayBands)
	}
	outcome, sessions, hours := "open", "", ""
	if c.Outcome != nil {
		outcome = string(c.Outcome.Result)
		sessions = itoaBand(c.Outcome.Sessions, sessionBands)
		hours = inBand(math.Round(c.Outcome.Hours*2)/2, hourBands) // half hours, then banded
	} else if c.Closed != nil {
		outcome = "closed-unrecorded"
	}
	// Everyone the case ever named: participants, those a mediator
	// removed, mediators (recused ones too), mediators assigned and still
	// in their notice period, the names the program's notices carry (a
	// withdrawn assignment leaves its name only there), everyone invited
	// (never joined, withdrawn or refused too) with the part of their
	// address before the @, and every capitalized word of the case's
	// free text (disclosures, objectives, recusal, notice and proposal
	// reasons, stage notes, the case's own terms, the labels of the rooms
	// a mediator defined), where a name given in passing is found.
	var names, emails, labels []string
	for _, p := range invited {
		names = append(names, p.Name)
		if local, _, ok := strings.Cut(p.Email, "@"); ok {
			emails = append(emails, local)
		}
	}
	var texts []string
	for _, d := range c.Disclosures {
		texts = append(texts, d.Text)
	}
	for _, o := range c.Objectives {
		texts = append(texts, o.Text)
	}
	for _, m := range c.Mediators {
		texts = append(texts, m.RecusalReason)
	}
	for _, n := range c.Notices {
		texts = append(texts, n.Reason)
	}
	for _, h := range c.StageHistory {
		texts = append(texts, h.Note)
	}
	for _, p := range c.Proposals {
		texts = append(texts, p.Reason)
	}
	if c.Terms != nil {
		texts = append(texts, c.Terms.Text)
	}
	for _, r := range c.Rooms {
		texts = append(texts, r.Label)
	}
	names = append(names, capitalizedWords(texts)...)
	for _, p := range c.Participants {
		names = append(names, p.Name)
	}
	for _, p := range c.Removed {
		names = append(names, p.Name)
	}
	for _, m := range c.Mediators {
		names = append(names, m.Name)
	}
	for _, m := range c.PendingMediators {
		names = append(names, m.Name)
	}
	for _, n := range c.Notices {
		names = append(names, n.Name)
	}
	for _, s := range c.Sides {
		labels = append(labels, s.Label)
	}
	roster := rosterStrings(names, emails, labels, []string{c.Title, c.ReferralSource})
	means := make([]string, len(cases.SurveyItems))
	var comments []string
	kept, dropped := 0, 0
	for i, item := range cases.SurveyItems {
		sum, n := 0, 0
		for _, r := range resps {
			if v, ok := r.Scores[item]; ok {
				sum += v
				n++
			}
		}
		if n >= MinSurveyResponses {
			means[i] = halfMean(float64(sum) / float64(n))
		}
	}
	for _, r := range resps {
		if r.Comment == "" || len(resps) < MinSurveyResponses {
			continue
		}
		if s, ok := scrubComment(r.Comment, roster); ok {
			comments = append(comments, s)
			kept++
		} else {
			dropped++
		}
	}
	dayCell := func(s cases.Stage) string {
		if d, ok := days[s]; ok {
			return inBand(d, dayBands)
		}
		return ""
	}
	r := &row{opened: c.Created, responses: len(resps)}
	r.values = append([]string{token, vocab(c.Type, CaseTypes), vocab(c.ReferralSource, ReferralSources), c.Created.UTC().Format("2006-01"),
		strconv.Itoa(len(c.Sides)), itoaBand(len(c.Participants), participantBands),
		sessions, hours, dayCell(cases.StagePreparation), dayCell(cases.StageOpening), dayCell(cases.StageIssues),
		dayCell(cases.StageNegotiation), resolution, outcome, itoaBand(len(resps), responseBands)}, means...)
	r.values = append(r.values, strings.Join(comments, " | "))
	r.comments = comments
	return r, kept, dropped
}

// generalization steps, applied in order to rows whose group is too small:
// first the details that single a case out most easily and matter least to
// a program report (days per stage, sessions and hours, roster size, the
// exact survey count), then the calendar, then the outcome and the rest.
// Before all of them, "followups:some-or-all" turns the follow-up cells
// into "0", "some" or "all", so the row is no longer grouped on its exact
// number of check-in answers (followupAnswers). Last, "followups:any"
// empties the three follow-up columns: the row then looks like a case
// without check-ins.
var steps = []string{"followups:some-or-all", "days_per_stage:any", "days_to_resolution:any", "sessions_hours:any", "participants:any",
	"survey_responses:released-or-not", "opened_period:quarter", "opened_period:year", "outcome:any",
	"opened_period:any", "sides:any", "referral_source:any", "case_type:any", "followups:any"}

// column positions in a row.
const (
	colType, colReferral, colOpened, colSides, colParticipants, colSessions, colHours = 1, 2, 3, 4, 5, 6, 7
	colDaysFirst, colDaysLast, colResolution, colOutcome, colResponses                = 8, 11, 12, 13, 14
	colMeansFirst                                                                     = qiLast + 1
)

// colComments is the comments column's position in a row.
var colComments = colMeansFirst + len(cases.SurveyItems)

// generalize takes the row's next step, and says whether it changed the
// row (the follow-up steps do not change a row without follow-ups; the
// report counts only the rows a step changed).
func (r *row) generalize() bool {
	r.level++
	v := r.values
	switch steps[r.level-1] {
	case "followups:some-or-all":
		if !r.followups || r.someOrAll {
			return false
		}
		for i, x := range r.checkIns {
			v[len(v)-3+i] = someOrAll(x, r.answers)
		}
		r.someOrAll = true
	case "followups:any":
		if !r.followups {
			return false
		}
		for i := len(v) - 3; i < len(v); i++ {
			v[i] = ""
		}
		r.followups = false
	case "days_per_stage:any":
		for i := colDaysFirst; i <= colDaysLast; i++ {
			v[i] = withheld
		}
	case "days_to_resolution:any":
		v[colResolution] = withheld
	case "sessions_hours:any":
		v[colSessions], v[colHours] = withheld, withheld
	case "participants:any":
		v[colParticipants] = withheld
	case "survey_responses:released-or-not":
		v[colResponses] = releasedOrNot(r.responses)
	case "opened_period:quarter":
		v[colOpened] = fmt.Sprintf("%d-Q%d", r.opened.UTC().Year(), (int(r.opened.UTC().Month())-1)/3+1)
	case "opened_period:year":
		v[colOpened] = strconv.Itoa(r.opened.UTC().Year())
	case "outcome:any":
		v[colOutcome] = withheld
	case "opened_period:any":
		v[colOpened] = withheld
	case "sides:any":
		v[colSides] = withheld
	case "referral_source:any":
		v[colReferral] = withheld
	case "case_type:any":
		v[colType] = withheld
	}
	return true
}

// anonymize generalizes rows in groups smaller than k, one step at a time
// and only those rows, then suppresses what is still too small. A group is
// the rows equal on every quasi-identifier.
func anonymize(rows []*row, k int, generalized map[string]int) ([]*row, int) {
	for range len(steps) {
		counts := groupCounts(rows)
		changed := false
		for _, r := range rows {
			if counts[r.qi()] < k && r.level < len(steps) {
				if r.generalize() {
					generalized[steps[r.level-1]]++
				}
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	counts := groupCounts(rows)
	kept := rows[:0]
	suppressed := 0
	for _, r := range rows {
		if counts[r.qi()] >= k {
			kept = append(kept, r)
		} else {
			suppressed++
		}
	}
	return kept, suppressed
}

// withholdCommentsBesideStubs empties the comments of every row of a
// released group that holds a disposed case's row. A stub keeps no
// comments, while a stored case with enough responses usually has some;
// records staff know which cases were disposed of, so the one row of its
// group with means and no comments would be the disposed case.
func withholdCommentsBesideStubs(rows []*row) {
	withStub := map[string]bool{}
	for _, r := range rows {
		if r.stub {
			withStub[r.qi()] = true
		}
	}
	for _, r := range rows {
		if withStub[r.qi()] {
			r.values[colComments] = ""
			r.comments = nil
			r.kept, r.dropped = 0, 0
		}
	}
}

// capComments releases at most as many comments per row as the fewest
// responses its released survey_responses cell allows (3 for "3-4" and
// "3+", 5 for "5-9", 10 for "10+"). Each response can add a comment, and
// records staff know every case's exact number of responses (one
// survey.response audit entry each), so a row of a "3-4" group with four
// comments would be the case with 4 responses. Capped at the band's low
// end, the number of comments fits every count in the band.
func capComments(rows []*row) {
	for _, r := range rows {
		limit := MinSurveyResponses
		for _, b := range responseBands {
			if r.values[colResponses] == b.label && int(b.lo) > limit {
				limit = int(b.lo)
			}
		}
		if len(r.comments) > limit {
			r.comments = r.comments[:limit]
			r.values[colComments] = strings.Join(r.comments, " | ")
		}
		r.kept = min(r.kept, len(r.comments))
	}
}

func groupCounts(rows []*row) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[r.qi()]++
	}
	return m
}

func write(w io.Writer, rows []*row, format string) error {
	if format == "jsonl" {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			obj := make(map[string]string, len(Columns))
			for i, c := range Columns {
				obj[c] = r.values[i]
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	}
	cw := csv.NewWriter(w)
	cw.Write(Columns)
	cells := make([]string, len(Columns))
	for _, r := range rows {
		for i, v := range r.values {
			cells[i] = inertCell(v)
		}
		cw.Write(cells)
	}
	cw.Flush()
	return cw.Error()
}

// inertCell keeps a spreadsheet from reading a CSV cell as a formula: a
// cell starting with = + - @, a tab or a carriage return gets a leading '
// (a comment "=HYPERLINK(…)" would otherwise be a live link, or worse,
// in the program's spreadsheet). JSON lines are left as they are.
func inertCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
