package cases

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// OutcomeResult is how a mediation ended.
type OutcomeResult = api.OutcomeResult

// Outcome results.
const (
	FullAgreement    = api.FullAgreement
	PartialAgreement = api.PartialAgreement
	NoAgreement      = api.NoAgreement
	Withdrawn        = api.Withdrawn
)

// Outcome is what the mediator records at closure.
type Outcome = api.Outcome

// SurveyItems are the 5-point Likert items of the feedback survey, in the
// style of the RSI/ABA model mediation surveys.
var SurveyItems = []string{"scheduled_promptly", "mediator_neutral", "able_to_be_heard", "process_fair", "overall_satisfied", "would_recommend"}

// SurveyItemText is each item's question.
var SurveyItemText = map[string]string{
	"scheduled_promptly": "The mediation was scheduled promptly.",
	"mediator_neutral":   "The mediator was neutral and did not take sides.",
	"able_to_be_heard":   "I was able to say what I needed to say and be heard.",
	"process_fair":       "The process was fair.",
	"overall_satisfied":  "Overall, I am satisfied with the mediation.",
	"would_recommend":    "I would recommend mediation to others in my situation.",
}

// MaxCommentLen bounds the optional free-text survey comment.
const MaxCommentLen = 2000

// SurveyTTL is how long a survey link stays valid.
const SurveyTTL = 60 * 24 * time.Hour

// surveyToken is the single-use capability to answer once. It names the
// case, never the person: the link is handed to each party, but nothing
// stored ties an answer to who gave it.
type surveyToken struct {
	CaseID  string    `json:"caseId"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
}

// SurveyResponse is one anonymous answer. It carries no participant id, no
// token and only the day it was given.
type SurveyResponse struct {
	CaseID  string         `json:"caseId"`
	Day     string         `json:"day"` // YYYY-MM-DD
	Scores  map[string]int `json:"scores"`
	Comment string         `json:"comment,omitempty"`
}

// SurveyLink is a survey token issued for one participant (shown once).
type SurveyLink struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

func (s *Service) surveyTokenKey(token string) string {
	return "surveys/tokens/" + s.meta.IndexKey("survey", token)
}

func surveyResponsePrefix(caseID string) string { return "surveys/responses/" + caseID + "/" }

// RecordOutcome records how the case ended and issues one single-use
// survey token per party and counsel. The case must be in closure.
func (s *Service) RecordOutcome(ctx context.Context, actor account.Account, id string, result OutcomeResult, sessions int, hours float64) (*Case, []SurveyLink, error) {
	switch result {
	case FullAgreement, PartialAgreement, NoAgreement, Withdrawn:
	default:
		return nil, nil, fault.Invalid("result", "one of full-agreement, partial-agreement, no-agreement, withdrawn")
	}
	if sessions < 0 || sessions > 1000 {
		return nil, nil, fault.Invalid("sessions", "between 0 and 1000")
	}
	if hours < 0 || hours > 10000 || math.IsNaN(hours) {
		return nil, nil, fault.Invalid("hours", "between 0 and 10000")
	}
	// The survey tokens are stored before the outcome, inside the change:
	// an outcome recorded always has its links made and answered, and a
	// change that fails (a token write, the case write) records nothing,
	// so recording it again works. Tokens of a failed attempt are
	// referenced by nothing, shown to no one, and expire (SurveyTTL);
	// a retried write of the case reuses those it made.
	tokens := map[string]string{} // participant account → token
	expires := s.now().Add(SurveyTTL)
	c, err := s.mutateConfirmed(ctx, actor, id, policy.CaseUpdate, "record this case's outcome", func(c *Case, ev *audit.Event) error {
		if c.Stage != StageClosure {
			return fmt.Errorf("the outcome is recorded once the case is closed; it is at the stage “%s”: %w", c.Stage.Title(), fault.ErrConflict)
		}
		if c.Outcome != nil {
			return fmt.Errorf("outcome already recorded: %w", fault.ErrConflict)
		}
		for _, p := range c.Participants {
			if p.Role == RoleObserver || tokens[p.AccountID] != "" {
				continue
			}
			token := ids.Token()
			if _, err := s.meta.Create(ctx, s.surveyTokenKey(token), surveyToken{CaseID: c.ID, Expires: expires}); err != nil {
				return err
			}
			tokens[p.AccountID] = token
		}
		c.Outcome = &Outcome{Result: result, Sessions: sessions, Hours: hours, Recorded: s.now().UTC(), By: actor.ID}
		ev.Type = "case.outcome"
		ev.Attrs = map[string]string{"result": string(result)}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var links []SurveyLink
	for _, p := range c.Participants {
		if p.Role == RoleObserver {
			continue
		}
		links = append(links, SurveyLink{Name: p.Name, Token: tokens[p.AccountID]})
	}
	return c, links, nil
}

// ErrSurveyGone: the survey link was used, expired or never existed.
var ErrSurveyGone = fmt.Errorf("survey link is expired, already used, or not valid: %w", fault.ErrGone)

// SubmitSurvey stores one anonymous response for the token's case. Its
// audit entry is appended once the token checks out and before anything
// is written (an answer the log cannot take is not taken; the link still
// works). The token is then spent first, so a link answers at most once, even with two
// submissions at once. When the answer then cannot be stored, and surely
// was not, the token is given back, so sending again works; only a crash
// between the two writes (or a store that stops answering there) loses
// that one answer rather than allowing two.
func (s *Service) SubmitSurvey(ctx context.Context, token string, scores map[string]int, comment string) error {
	if len(token) != 43 {
		return ErrSurveyGone
	}
	if len(scores) != len(SurveyItems) {
		return fault.Invalid("scores", "answer every item: "+strings.Join(SurveyItems, ", "))
	}
	for _, item := range SurveyItems {
		v, ok := scores[item]
		if !ok || v < 1 || v > 5 {
			return fault.Invalid("scores."+item, "a whole number from 1 (strongly disagree) to 5 (strongly agree)")
		}
	}
	comment = strings.TrimSpace(comment)
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > MaxCommentLen {
		return fault.Invalid("comment", fmt.Sprintf("at most %d characters of text", MaxCommentLen))
	}
	usable := func(t *surveyToken) error {
		if t.Used || !s.now().Before(t.Expires) {
			return ErrSurveyGone
		}
		return nil
	}
	// The link is checked, then the answer audited, then the link spent
	// and the answer stored (audit first: an answer the log cannot hold is
	// not taken, and the link still works for the retry).
	var cur surveyToken
	if _, err := s.meta.Get(ctx, s.surveyTokenKey(token), &cur); errors.Is(err, metastore.ErrNotFound) {
		return ErrSurveyGone
	} else if err != nil {
		return err
	}
	if err := usable(&cur); err != nil {
		return err
	}
	// A case retention is disposing of (or has disposed of) takes no
	// answer: no later plan would reach it.
	if seen, err := s.CheckFence(ctx, cur.CaseID, FenceSeen{}); err != nil {
		return err
	} else if seen.Fenced {
		return ErrSurveyGone
	}
	ev := audit.Paired(audit.Event{Type: "survey.response", Case: cur.CaseID})
	if err := s.record(ctx, ev); err != nil {
		return fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	var refused error
	tok, err := metastore.Update(ctx, s.meta, s.surveyTokenKey(token), func(t *surveyToken) error {
		if refused = usable(t); refused != nil {
			return refused
		}
		t.Used = true
		return nil
	})
	if err == nil {
		resp := SurveyResponse{CaseID: tok.CaseID, Day: s.now().UTC().Format(time.DateOnly), Scores: scores, Comment: comment}
		respKey := surveyResponsePrefix(tok.CaseID) + ids.New("r")
		err = metastore.CreateOrUndo(ctx, s.meta, respKey, resp, func(ctx context.Context) error {
			_, err := metastore.Update(ctx, s.meta, s.surveyTokenKey(token), func(t *surveyToken) error {
				t.Used = false
				return nil
			})
			return err
		})
		// Looked at again once the answer is visible (or its write was
		// cut short: it may land still), as an upload is: retention
		// fences first and lists after, so either its listing finds the
		// answer or this look finds the fence and takes it back.
		if unknown := errors.Is(err, metastore.ErrOutcomeUnknown); err == nil || unknown {
			if lerr, kept := s.surveyTakeBackIfGone(ctx, tok.CaseID, respKey, s.surveyTokenKey(token), unknown); lerr != nil && (!unknown || errors.Is(lerr, ErrSurveyGone)) {
				audit.Settle(ctx, s.record, s.logger(), "cases", ev, ev.Type, fault.Class(lerr), func(context.Context) (bool, error) { return false, kept })
				return errors.Join(lerr, kept)
			}
		}
	}
	if err != nil {
		// Follow the entry (audit.Settle): nothing taken if the link was
		// refused or given back; unknown if it stays spent.
		var landed func(context.Context) (bool, error)
		if refused == nil {
			landed = func(ctx context.Context) (bool, error) {
				var t surveyToken
				if _, err := s.meta.Get(ctx, s.surveyTokenKey(token), &t); err != nil {
					return false, err
				}
				if t.Used {
					return false, errAnswerNotConfirmed
				}
				return false, nil
			}
		}
		audit.Settle(ctx, s.record, s.logger(), "cases", ev, ev.Type, fault.Class(err), landed)
		if errors.Is(err, metastore.ErrNotFound) {
			return ErrSurveyGone
		}
		return err
	}
	return nil
}

// lateSurveyWait is how long a survey answer whose write was cut short is
// given to land before its case is looked at again.
var lateSurveyWait = time.Second

// surveyTakeBackIfGone looks at case caseID again once a survey answer
// (at key, its link's record at tokenKey) is visible or its write was cut
// short (unknown). A case fenced for disposal or gone gets every stored
// version of the answer deleted (unknown: again after lateSurveyWait) and
// ErrSurveyGone; a look that fails (not when unknown) takes the answer
// back too and returns the failure. Either way the link is given back
// (a conditional update that writes nothing once retention deleted the
// record), so a fence later lifted costs no link. kept is why the answer
// could not be taken back (logged).
func (s *Service) surveyTakeBackIfGone(ctx context.Context, caseID, key, tokenKey string, unknown bool) (err, kept error) {
	seen, err := s.CheckFence(ctx, caseID, FenceSeen{})
	switch {
	case err == nil && !seen.Fenced:
		return nil, nil
	case err == nil:
		err = ErrSurveyGone
	case unknown:
		return err, nil // not known to be going: Settle reads back
	}
	ctx = context.WithoutCancel(ctx)
	obj := s.meta.Objects()
	var errs []error
	deleteAnswer := func() {
		if derr := objstore.DeleteEveryVersion(ctx, obj, key); derr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, derr))
		}
	}
	deleteAnswer()
	if unknown {
		t := time.NewTimer(lateSurveyWait)
		<-t.C
		deleteAnswer()
	}
	if len(errs) == 0 {
		if _, uerr := metastore.Update(ctx, s.meta, tokenKey, func(t *surveyToken) error {
			t.Used = false
			return nil
		}); uerr != nil && !errors.Is(uerr, metastore.ErrNotFound) {
			errs = append(errs, fmt.Errorf("giving the link back: %w", uerr))
		}
	}
	if kept = errors.Join(errs...); kept != nil {
		s.logger().ErrorContext(ctx, "cases: a survey answer written to a case being disposed of could not be taken back",
			"case", caseID, "error", kept.Error())
	}
	return err, kept
}

// errAnswerNotConfirmed: a survey link was found spent after its answer's
// write failed; whether the answer was stored is not known.
var errAnswerNotConfirmed = errors.New("the link is spent but its answer was not confirmed stored")

// SurveyResponses returns a case's responses (for the evaluation export,
// which decides access itself).
func (s *Service) SurveyResponses(ctx context.Context, caseID string) ([]SurveyResponse, error) {
	var out []SurveyResponse
	err := s.meta.List(ctx, surveyResponsePrefix(caseID), func(key string) error {
		var r SurveyResponse
		if _, err := s.meta.Get(ctx, key, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// All calls fn with every case, for whole-program jobs (the evaluation
// export, retention) that make their own policy decision first.
func (s *Service) All(ctx context.Context, fn func(*Case) error) error {
	return s.meta.List(ctx, "cases/", func(key string) error {
		if !strings.HasSuffix(key, "/case") {
			return nil
		}
		var c Case
		if _, err := s.meta.Get(ctx, key, &c); err != nil {
			return err
		}
		return fn(&c)
	})
}

// Imported is one case and its survey responses for Import.
type Imported struct {
	Case      *Case
	Responses []SurveyResponse
}

// Import writes whole case records and their survey responses as given,
// for data migration from another system and for seeding tests and
// benchmarks. The import is audited as one batch of "case.imported" events.
func (s *Service) Import(ctx context.Context, items []Imported) error {
	events := make([]audit.Event, 0, len(items))
	for _, it := range items {
		c := it.Case
		if !ids.Valid("c", c.ID) {
			return fault.Invalid("id", "not a case id")
		}
		if _, err := s.meta.Create(ctx, caseKey(c.ID), c); err != nil {
			return err
		}
		for _, r := range it.Responses {
			r.CaseID = c.ID
			if _, err := s.meta.Create(ctx, surveyResponsePrefix(c.ID)+ids.New("r"), r); err != nil {
				return err
			}
		}
		events = append(events, audit.Event{Type: "case.imported", Case: c.ID, Time: s.now().UTC()})
	}
	_, err := s.audit.AppendBatch(ctx, events)
	return err
}
