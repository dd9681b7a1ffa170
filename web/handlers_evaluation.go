package web

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/evaluation"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// surveyQueueFailed is the mediator's warning when some survey mail could
// not be queued.
const surveyQueueFailed = "Some survey mail could not be queued. Give the links below by hand."

func (a *API) recordOutcome(w http.ResponseWriter, r *http.Request) {
	var req api.OutcomeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	c, links, err := a.cases.RecordOutcome(r.Context(), actor, chi.URLParam(r, "caseID"), req.Result, req.Sessions, req.Hours)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var warning string
	var mailed []bool
	if a.schedule != nil {
		var err error
		var mailErr error
		mailed, mailErr = a.schedule.MailSurveys(r.Context(), c, links, a.publicURL+"/survey")
		warning, err = linkMailWarning(mailErr, surveyQueueFailed)
		if err != nil {
			a.log.WarnContext(r.Context(), "survey mail", "error", err.Error())
		}
	}
	view := c.View()
	out := api.OutcomeResponse{Case: &view, Surveys: a.surveyLinks(links, mailed), MailWarning: warning}
	writeJSON(w, http.StatusOK, out)
}

// surveyLinks is the outcome's answer of survey links: a link that was
// emailed is not given to the mediator, only said to be mailed, so that
// only its person can answer it (a mediator holding every link could
// answer, unseen, in anyone's name: the answer names nobody).
func (a *API) surveyLinks(links []cases.SurveyLink, mailed []bool) []api.SurveyLink {
	out := []api.SurveyLink{}
	for i, l := range links {
		if i < len(mailed) && mailed[i] {
			out = append(out, api.SurveyLink{Name: l.Name, Mailed: true})
			continue
		}
		out = append(out, api.SurveyLink{Name: l.Name, Link: a.publicURL + "/survey#" + l.Token})
	}
	return out
}

// submitSurvey needs no session: the single-use token is the capability,
// and nothing links the answer to the person.
func (a *API) submitSurvey(w http.ResponseWriter, r *http.Request) {
	var req api.SurveyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.cases.SubmitSurvey(r.Context(), req.Token, req.Scores, req.Comment); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) surveyQuestions(w http.ResponseWriter, r *http.Request) {
	var out api.List[api.SurveyQuestion]
	for _, it := range cases.SurveyItems {
		out = append(out, api.SurveyQuestion{ID: it, Text: cases.SurveyItemText[it]})
	}
	writeJSON(w, http.StatusOK, out)
}

// runExport answers with the export file itself; the report travels in
// X-Parley-Export-* headers. The file is built in memory (a program's
// export is megabytes) so its hash is known before the first byte is sent.
func (a *API) runExport(w http.ResponseWriter, r *http.Request) {
	var req api.ExportRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.authorize(r, policy.EvaluationExport); err != nil {
		a.writeError(w, r, err)
		return
	}
	// Whole months only, as opened_period is a month: two exports whose
	// ranges differ by a day left one case's row in the difference, its
	// comments word for word.
	from, err := time.Parse(time.DateOnly, req.From)
	if err != nil || from.Day() != 1 {
		a.writeError(w, r, fault.Invalid("from", "the first day of a month (YYYY-MM-01): an export covers whole months"))
		return
	}
	to, err := time.Parse(time.DateOnly, req.To)
	if err != nil || to.Day() != 1 || !from.Before(to) {
		a.writeError(w, r, fault.Invalid("to", "the first day of a month after the first one (YYYY-MM-01): an export covers whole months"))
		return
	}
	// A range reaching into months not yet begun is refused: its rows
	// are not final, and a second export once the month is over would
	// differ from it by the cases opened since. Tomorrow's month counts as
	// begun (UTC), so a user whose time zone is ahead is not refused.
	tomorrow := time.Now().UTC().AddDate(0, 0, 1)
	if latest := time.Date(tomorrow.Year(), tomorrow.Month()+1, 1, 0, 0, 0, 0, time.UTC); to.After(latest) {
		a.writeError(w, r, fault.Invalid("to", fmt.Sprintf("no later than %s, the first day of the month after this one: an export cannot cover months that have not begun", latest.Format(time.DateOnly))))
		return
	}
	if req.Format != "" && req.Format != "csv" && req.Format != "jsonl" {
		a.writeError(w, r, fault.Invalid("format", "csv or jsonl"))
		return
	}
	if req.K != 0 && (req.K < 2 || req.K > 1000) {
		a.writeError(w, r, fault.Invalid("k", "between 2 and 1000"))
		return
	}
	opts := evaluation.Options{From: from, To: to, K: req.K, Format: req.Format}
	if req.AgeRecipient != "" {
		rcp, err := age.ParseX25519Recipient(strings.TrimSpace(req.AgeRecipient))
		if err != nil {
			a.writeError(w, r, fault.Invalid("ageRecipient", "an age X25519 recipient (age1…)"))
			return
		}
		opts.Recipient = rcp
	}
	var buf bytes.Buffer
	var src evaluation.Source = a.cases
	if a.schedule != nil {
		src = evaluationSource{a.cases, a.schedule}
	}
	rep, err := evaluation.Run(r.Context(), src, &buf, opts)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	if _, err := a.audit.Append(r.Context(), audit.Event{Type: "evaluation.export", Actor: actor.ID, Hashes: []string{rep.SHA256},
		// What decided the export's strength is recorded with it: k as
		// the export ran (the default when none was asked), the fewest
		// responses a released survey mean needs, and the
		// quasi-identifiers its rows were grouped on (split across
		// attributes so a longer list never outgrows the log's limit).
		Attrs: exportAuditAttrs(map[string]string{"from": req.From, "to": req.To, "rows": fmt.Sprint(rep.Rows), "format": rep.Format,
			"encrypted": fmt.Sprint(rep.Encrypted), "suppressed": fmt.Sprint(rep.Suppressed),
			"k": fmt.Sprint(rep.K), "minSurveyResponses": fmt.Sprint(evaluation.MinSurveyResponses)}, rep.QuasiIdentifiers),
		Time: time.Now().UTC()}); err != nil {
		a.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", map[bool]string{true: "application/octet-stream", false: "text/csv; charset=utf-8"}[rep.Encrypted || rep.Format == "jsonl"])
	h.Set(api.ExportRowsHeader, fmt.Sprint(rep.Rows))
	h.Set(api.ExportSuppressedHeader, fmt.Sprint(rep.Suppressed))
	h.Set(api.ExportGeneralizedHeader, fmt.Sprint(sum(rep.Generalized)))
	h.Set(api.ExportCommentsDroppedHeader, fmt.Sprint(rep.CommentsDropped))
	h.Set(api.ExportKHeader, fmt.Sprint(rep.K))
	h.Set(api.ExportSHA256Header, rep.SHA256)
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (a *API) exportDictionary(w http.ResponseWriter, r *http.Request) {
	k, err := queryInt(r, "k", 5)
	if err != nil || k < 2 || k > 1000 {
		a.writeError(w, r, fault.Invalid("k", "between 2 and 1000"))
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Write([]byte(evaluation.Dictionary(int(k), format)))
}

// exportAuditAttrs adds the quasi-identifiers to attrs, comma-separated,
// as "quasiIdentifiers" and, when they do not fit one attribute
// (audit.MaxAttrValue bytes), "quasiIdentifiers2", "quasiIdentifiers3"
// and so on: each holds whole names, and joining them in that order with
// commas gives the list.
func exportAuditAttrs(attrs map[string]string, qis []string) map[string]string {
	key := func(n int) string {
		if n == 1 {
			return "quasiIdentifiers"
		}
		return fmt.Sprintf("quasiIdentifiers%d", n)
	}
	n, cur := 1, ""
	for _, q := range qis {
		if cur != "" && len(cur)+1+len(q) > audit.MaxAttrValue {
			attrs[key(n)] = cur
			n, cur = n+1, ""
		}
		if cur != "" {
			cur += ","
		}
		cur += q
	}
	attrs[key(n)] = cur
	return attrs
}
