package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Follow-up on agreements: at closure with a full or partial agreement the
// mediator sets check-ins (e.g. 30 and 90 days after closure). Each party
// and lawyer gets a single-use check-in link per check-in — by mail when
// they have an address, and shown once to the mediator — and answers
// honoured / partly / not, with an optional comment. Answers are stored
// like survey responses: with the case and the check-in, never with who
// gave them.

// Check-in answers.
const (
	Honoured = "honoured"
	Partly   = "partly"
	NotKept  = "not"
)

// Limits on follow-ups.
const (
	MaxFollowUps      = 4
	MaxFollowUpDays   = 730
	FollowUpLinkTTL   = 60 * 24 * time.Hour // after the check-in is due
	MaxCheckInComment = cases.MaxCommentLen
)

// FollowUpPlan is a case's check-ins.
type FollowUpPlan struct {
	CaseID      string       `json:"caseId"`
	Set         time.Time    `json:"set"`
	By          string       `json:"by"`
	Checkpoints []Checkpoint `json:"checkpoints"`
	// Op is the op id of the plan's followup.set entry (audit.OpAttr): a
	// plan read back after its write answered an error is this request's
	// only if it names its op.
	Op string `json:"op,omitempty"`
}

// Checkpoint is one check-in: due Days after closure, with Issued links,
// NotMailed of which were not queued for mail because their address is
// also on file for another seat of the case (SetFollowUps).
type Checkpoint struct {
	Days      int       `json:"days"`
	Due       time.Time `json:"due"`
	Issued    int       `json:"issued"`
	NotMailed int       `json:"notMailed,omitempty"`
}

// CheckInResponse is one anonymous answer.
type CheckInResponse struct {
	CaseID  string `json:"caseId"`
	Days    int    `json:"days"`
	Answer  string `json:"answer"`
	Comment string `json:"comment,omitempty"`
	Day     string `json:"day"` // YYYY-MM-DD
}

// CheckInLink is one participant's link. Mailed: its mail was queued, so
// the link is not to be shown to the mediator (the web answer gives none):
// only its person can answer it. A link not mailed (no address, an
// address shared in the case, its mail not queued) is shown once to the
// mediator, to give by hand.
type CheckInLink struct {
	Name   string `json:"name"`
	Days   int    `json:"days"`
	Token  string `json:"token"`
	Mailed bool   `json:"mailed,omitempty"`
}

type checkInToken struct {
	CaseID  string    `json:"caseId"`
	Days    int       `json:"days"`
	Opens   time.Time `json:"opens"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
}

func planKey(caseID string) string { return "followups/plans/" + caseID }
func (s *Service) checkInTokenKey(token string) string {
	return "followups/tokens/" + s.cfg.Meta.IndexKey("checkin", token)
}
func checkInPrefix(caseID string) string { return "followups/responses/" + caseID + "/" }

// CheckInURL is the page a check-in link opens (the token follows '#').
func (s *Service) CheckInURL() string {
	return strings.TrimSuffix(s.cfg.JoinURL, "/app") + "/checkin"
}

// ErrCheckInGone: the link was used, expired or never existed.
var ErrCheckInGone = fmt.Errorf("check-in link is expired, already used, or not valid: %w", fault.ErrGone)

// SetFollowUps sets a closed case's check-ins, once. It either sets them
// — plan, links, audit entry, and then their mail queued — or fails with
// no plan and no mail, so calling it again works (an error with a plan is
// about mail alone: a LinksNotMailedError, or mail not queued). The one
// exception is a plan write whose outcome cannot be known (cut short, so
// it may still land, or neither it nor its read-back answered): the
// request fails, its tokens are kept and followup.set.unknown is logged;
// if that plan did land, its check-ins stand with links nobody was shown
// and no mail queued, and setting them again is refused as already set.
func (s *Service) SetFollowUps(ctx context.Context, actor account.Account, caseID string, days []int) (*FollowUpPlan, []CheckInLink, error) {
	c, err := s.loadCase(ctx, actor, caseID, policy.SessionManage)
	if err != nil {
		return nil, nil, err
	}
	if c.Closed == nil || c.Outcome == nil || (c.Outcome.Result != cases.FullAgreement && c.Outcome.Result != cases.PartialAgreement) {
		return nil, nil, fmt.Errorf("follow-ups are set at closure, after recording a full or partial agreement: %w", fault.ErrConflict)
	}
	// A case retention is disposing of takes no follow-ups: their links,
	// plan and mail name the case, and its disposal may already have
	// listed where they go (checked again once the plan is written).
	if err := cases.RefuseAdditions(c); err != nil {
		return nil, nil, err
	}
	if len(days) == 0 || len(days) > MaxFollowUps {
		return nil, nil, fault.Invalid("days", fmt.Sprintf("between 1 and %d check-ins", MaxFollowUps))
	}
	for i, d := range days {
		if d < 1 || d > MaxFollowUpDays || (i > 0 && d <= days[i-1]) {
			return nil, nil, fault.Invalid(fmt.Sprintf("days[%d]", i), fmt.Sprintf("whole days after closure, 1 to %d, increasing", MaxFollowUpDays))
		}
	}
	now := s.cfg.Now().UTC()
	var who []cases.Participant
	for _, p := range c.Participants {
		if p.Role != cases.RoleObserver {
			who = append(who, p)
		}
	}
	// Each one's address, "" when their link is not mailed: none on file,
	// or one another seat of the case has (cases.SharedWith: whoever reads
	// that mailbox could answer their check-in in their name; they are
	// named to the mediator, who has every link).
	seats, err := s.cfg.Cases.Seats(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	addrs := make([]string, len(who))
	var notMailed []string
	for i, p := range who {
		acct, err := s.cfg.Accounts.Get(ctx, p.AccountID)
		if err != nil || acct.Email == "" {
			continue
		}
		if len(cases.SharedWith(seats, acct.Email, p.AccountID)) > 0 {
			notMailed = append(notMailed, p.Name)
			continue
		}
		addrs[i] = acct.Email
	}
	plan := &FollowUpPlan{CaseID: caseID, Set: now, By: actor.ID}
	for _, d := range days {
		plan.Checkpoints = append(plan.Checkpoints, Checkpoint{Days: d, Due: c.Closed.Add(time.Duration(d) * 24 * time.Hour), Issued: len(who), NotMailed: len(notMailed)})
	}
	// A plan is shown as set only once everything it counts is in place:
	// its links' tokens are stored first and its audit entry appended,
	// then the plan itself is written (create-only), and only then is any
	// mail queued. A failure before the plan's write leaves no plan and
	// queues no mail, so setting the check-ins again works and shows every
	// link (the tokens of the failed attempt are deleted, best effort; one
	// left behind is referenced by nothing, shown to no one, and expires).
	// Before, the plan was written first: a failed token write or audit
	// append left a plan counting links nobody had, mail already queued
	// went out, and the retry was refused as already set. A plan write
	// that answers an error is read back (planOutcome): this request's
	// plan found (its op) is set with its links; its tokens are deleted
	// only when another's plan is there or none is and the write cannot
	// still land.
	if existing, err := s.plan(ctx, caseID); err != nil {
		return nil, nil, err
	} else if existing != nil {
		return nil, nil, errFollowUpsSet
	}
	type issued struct {
		cp    Checkpoint
		i     int
		token string
	}
	var made []issued
	var tokenKeys []string
	undo := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, k := range tokenKeys {
			if err := s.cfg.Meta.Delete(ctx, k); err != nil && !errors.Is(err, metastore.ErrNotFound) {
				return // referenced by nothing: they expire
			}
		}
	}
	for _, cp := range plan.Checkpoints {
		for i := range who {
			token := ids.Token()
			key := s.checkInTokenKey(token)
			tokenKeys = append(tokenKeys, key)
			if _, err := s.cfg.Meta.Create(ctx, key, checkInToken{CaseID: caseID, Days: cp.Days,
				Opens: cp.Due.Add(-24 * time.Hour), Expires: cp.Due.Add(FollowUpLinkTTL)}); err != nil {
				undo()
				return nil, nil, err
			}
			made = append(made, issued{cp: cp, i: i, token: token})
		}
	}
	ev := audit.Paired(audit.Event{Type: "followup.set", Actor: actor.ID, Case: caseID, Time: now,
		Attrs: map[string]string{"days": strings.Trim(strings.Join(strings.Fields(fmt.Sprint(days)), ","), "[]")}})
	if err := appended(s.cfg.Audit.Append(ctx, ev)); err != nil {
		undo()
		return nil, nil, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	plan.Op = ev.Attrs[audit.OpAttr]
	if _, err := s.cfg.Meta.Create(ctx, planKey(caseID), plan); err != nil {
		switch s.planOutcome(ctx, ev, plan, err) {
		case planLanded: // stored despite the error: set, with its links
		case planOthers:
			// Another request set them meanwhile: this one's plan is not
			// written, nor its links shown.
			undo()
			return nil, nil, errFollowUpsSet
		case planAbsent:
			undo()
			if errors.Is(err, metastore.ErrExists) {
				return nil, nil, errFollowUpsSet
			}
			return nil, nil, err
		default: // unknown: the plan may stand, so its tokens stay
			return nil, nil, err
		}
	}
	// Looked at again once the plan stands, as an upload is: a fence that
	// landed meanwhile (or a look that fails) takes the plan and its links
	// back, every stored version, before any mail is queued.
	if seen, ferr := s.cfg.Cases.CheckFence(ctx, caseID, cases.FenceSeen{}); ferr != nil || seen.Fenced {
		cause := ferr
		if cause == nil {
			cause = cases.ErrNothingAdded
		}
		kept := s.deleteEveryVersion(ctx, caseID, append(tokenKeys, planKey(caseID)))
		s.settle(ctx, ev, cause, func(context.Context) (bool, error) { return kept != nil, kept })
		return nil, nil, cause
	}
	var links []CheckInLink
	var errs []error
	for _, m := range made {
		p := who[m.i]
		links = append(links, CheckInLink{Name: p.Name, Days: m.cp.Days, Token: m.token})
		if addrs[m.i] == "" || s.cfg.Outbox == nil {
			continue
		}
		err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
			ID: mailID("fu", caseID, fmt.Sprint(m.cp.Days), p.AccountID), CaseID: caseID, Kind: mail.KindFollowUp,
			To: addrs[m.i], ToAccount: p.AccountID, NotBefore: m.cp.Due,
			Subject: "How is your agreement working?",
			Text: fmt.Sprintf("It is %d days since your mediation ended. Has what was agreed been done?\n\nAnswer in one minute (honoured, partly or not): %s#%s\n\nYour answer is anonymous: it is stored without your name.%s",
				m.cp.Days, s.CheckInURL(), m.token, mailFooter),
		})
		// Queued to a mail server: the link is the person's alone. The
		// development outbox sends nothing, so its links are shown.
		links[len(links)-1].Mailed = err == nil && !s.Development()
		errs = append(errs, err)
	}
	var qerr error
	if err := errors.Join(errs...); err != nil {
		qerr = fmt.Errorf("the follow-ups are set, but some of their mail could not be queued: %w", err)
	}
	if len(notMailed) > 0 {
		return plan, links, &LinksNotMailedError{What: "check-in links", Names: notMailed, Err: qerr}
	}
	return plan, links, qerr
}

// How a plan write that answered an error stands (planOutcome).
const (
	planUnknown = iota // it may stand: its tokens stay
	planLanded         // this request's plan is stored
	planOthers         // another request's plan is stored
	planAbsent         // no plan is stored, and this one's write cannot still land
)

// planOutcome reads back a plan whose create failed with cause, and
// follows its entry ev as audit.Settle does: nothing when it landed,
// followup.set.failed when another request's plan is there or none is
// and this one's write cannot still land, followup.set.unknown
// otherwise. A plan is this request's when it names its op: a retried
// PUT whose first attempt landed answers "exists" for it. A write cut
// short (the caller gone, a timeout) may still land after any look, as
// metastore.CreateOrUndo holds: a plan not found then is unknown, not
// absent, so its tokens are kept.
func (s *Service) planOutcome(ctx context.Context, ev audit.Event, plan *FollowUpPlan, cause error) int {
	outcome := planUnknown
	var te interface{ Timeout() bool }
	cutShort := ctx.Err() != nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) || errors.As(cause, &te) && te.Timeout()
	s.settle(ctx, ev, cause, func(ctx context.Context) (bool, error) {
		var got FollowUpPlan
		_, err := s.cfg.Meta.Get(ctx, planKey(plan.CaseID), &got)
		switch {
		case errors.Is(err, metastore.ErrNotFound) && cutShort:
			return false, errors.New("not stored yet, and its write was cut short: it may still land")
		case errors.Is(err, metastore.ErrNotFound):
			outcome = planAbsent
			return false, nil
		case err != nil:
			return false, err
		case got.Op != "" && got.Op == plan.Op:
			outcome = planLanded
			return true, nil
		}
		outcome = planOthers
		return false, nil
	})
	return outcome
}

var errFollowUpsSet = fmt.Errorf("follow-ups are already set for this case: %w", fault.ErrConflict)

// FollowUps returns a case's plan (nil if none) to its mediators.
func (s *Service) FollowUps(ctx context.Context, actor account.Account, caseID string) (*FollowUpPlan, error) {
	if _, err := s.loadCase(ctx, actor, caseID, policy.SessionManage); err != nil {
		return nil, err
	}
	return s.plan(ctx, caseID)
}

// CheckpointStatus is how a check-in stands, in counts only: how many of
// its mails the server accepted (Mailed), how many failed for good
// (MailFailed), how many links were not emailed because their address is
// also on file for another seat of the case (NotMailed: the plan's count
// from SetFollowUps, and its mails withheld when their time came,
// Current), and how many links were answered. Nothing says who answered
// or what.
type CheckpointStatus struct {
	Checkpoint
	Mailed     int `json:"mailed"`
	MailFailed int `json:"mailFailed"`
	Answered   int `json:"answered"`
}

// FollowUpStatus returns a case's check-ins with their counts (nil if none
// are set) to its mediators.
func (s *Service) FollowUpStatus(ctx context.Context, actor account.Account, caseID string) ([]CheckpointStatus, error) {
	p, err := s.FollowUps(ctx, actor, caseID)
	if err != nil || p == nil {
		return nil, err
	}
	rs, err := s.CheckIns(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var msgs []mail.Message
	if s.cfg.Outbox != nil {
		if msgs, err = s.cfg.Outbox.List(ctx, caseID); err != nil {
			return nil, err
		}
	}
	out := make([]CheckpointStatus, 0, len(p.Checkpoints))
	for _, cp := range p.Checkpoints {
		st := CheckpointStatus{Checkpoint: cp}
		for _, r := range rs {
			if r.Days == cp.Days {
				st.Answered++
			}
		}
		prefix := mailID("fu", caseID, fmt.Sprint(cp.Days), "")
		for _, m := range msgs {
			if m.Kind != mail.KindFollowUp || !strings.HasPrefix(m.ID, prefix) {
				continue // a resend's id extends its original's
			}
			switch m.State {
			case mail.Sent:
				st.Mailed++
			case mail.Failed:
				st.MailFailed++
			case mail.Cancelled:
				st.NotMailed++ // only Current cancels a check-in's mail
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Service) plan(ctx context.Context, caseID string) (*FollowUpPlan, error) {
	var p FollowUpPlan
	if _, err := s.cfg.Meta.Get(ctx, planKey(caseID), &p); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return &p, nil
}

// SubmitCheckIn records one anonymous answer. Its audit entry is appended
// once the token checks out and before anything is written (an answer the
// log cannot take is not taken; the link still works). The token is then
// spent first, so
// a link answers at most once, even with two submissions at once. When the
// answer then cannot be stored, and surely was not, the token is given
// back, so sending again works; only a crash between the two writes loses
// that one answer rather than allowing two.
func (s *Service) SubmitCheckIn(ctx context.Context, token, answer, comment string) error {
	if len(token) != 43 {
		return ErrCheckInGone
	}
	if answer != Honoured && answer != Partly && answer != NotKept {
		return fault.Invalid("answer", "honoured, partly or not")
	}
	comment = strings.TrimSpace(comment)
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > MaxCheckInComment {
		return fault.Invalid("comment", fmt.Sprintf("at most %d characters of text", MaxCheckInComment))
	}
	now := s.cfg.Now()
	usable := func(t *checkInToken) error {
		if t.Used || !now.Before(t.Expires) {
			return ErrCheckInGone
		}
		if now.Before(t.Opens) {
			return fmt.Errorf("this check-in opens on %s: %w", t.Opens.Format("2 January 2006"), fault.ErrConflict)
		}
		return nil
	}
	// The link is checked, then the answer audited, then the link spent
	// and the answer stored (audit first: an answer the log cannot hold
	// is not taken, and the link still works for the retry).
	var cur checkInToken
	if _, err := s.cfg.Meta.Get(ctx, s.checkInTokenKey(token), &cur); errors.Is(err, metastore.ErrNotFound) {
		return ErrCheckInGone
	} else if err != nil {
		return err
	}
	if err := usable(&cur); err != nil {
		return err
	}
	// A case retention is disposing of (or has disposed of, or whose
	// follow-ups it destroyed) takes no answer: no later plan would reach
	// it, and it would stay for ever.
	if err := s.checkInCaseStands(ctx, cur.CaseID); err != nil {
		return err
	}
	// The entry names no case: records staff read the audit log. Its
	// time still falls in its case's check-in window, so where windows do
	// not overlap they can count a case's answers; the evaluation export
	// groups on that count (evaluation.QuasiIdentifiers,
	// "followup_answers").
	ev := audit.Paired(audit.Event{Type: "followup.response", Time: now.UTC()})
	if err := appended(s.cfg.Audit.Append(ctx, ev)); err != nil {
		return fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	var refused error
	tok, err := metastore.Update(ctx, s.cfg.Meta, s.checkInTokenKey(token), func(t *checkInToken) error {
		if refused = usable(t); refused != nil {
			return refused
		}
		t.Used = true
		return nil
	})
	if err == nil {
		resp := CheckInResponse{CaseID: tok.CaseID, Days: tok.Days, Answer: answer, Comment: comment, Day: now.UTC().Format(time.DateOnly)}
		respID := ids.New("r")
		err = metastore.CreateOrUndo(ctx, s.cfg.Meta, checkInPrefix(tok.CaseID)+respID, resp, func(ctx context.Context) error {
			_, err := metastore.Update(ctx, s.cfg.Meta, s.checkInTokenKey(token), func(t *checkInToken) error {
				t.Used = false
				return nil
			})
			return err
		})
		switch {
		case err == nil:
			// Looked at again once the answer is visible, as an upload
			// does (cases.RefuseAdditions): retention fences first and
			// lists after, so either its listing finds the answer or
			// this look finds the fence, and the answer is taken back.
			var kept error
			if err, kept = s.takeBackIfGone(ctx, tok.CaseID, checkInPrefix(tok.CaseID)+respID, s.checkInTokenKey(token), false); err != nil {
				s.settle(ctx, ev, err, func(context.Context) (bool, error) { return false, kept })
				return errors.Join(err, kept)
			}
		case errors.Is(err, metastore.ErrOutcomeUnknown):
			// A write cut short may land still, after the fence and
			// retention's listing: the case is looked at now and, fenced
			// or gone, the answer taken back now and once more a little
			// later. Not fenced, it is left to settle's read-back (a
			// later disposal's listing finds it).
			if lerr, kept := s.takeBackIfGone(ctx, tok.CaseID, checkInPrefix(tok.CaseID)+respID, s.checkInTokenKey(token), true); errors.Is(lerr, ErrCheckInGone) {
				s.settle(ctx, ev, lerr, func(context.Context) (bool, error) { return false, kept })
				return errors.Join(lerr, kept)
			}
		}
	}
	if err != nil {
		s.settle(ctx, ev, err, spentLanded(refused, func(ctx context.Context) (bool, error) {
			var t checkInToken
			_, err := s.cfg.Meta.Get(ctx, s.checkInTokenKey(token), &t)
			return t.Used, err
		}))
		if errors.Is(err, metastore.ErrNotFound) {
			return ErrCheckInGone
		}
		return err
	}
	return nil
}

// checkInCaseStands is ErrCheckInGone unless case caseID is stored and
// not fenced for disposal (cases.CheckFence), and its follow-up plan
// (followups/plans/<case>, which retention destroys with the
// survey-responses class) is stored.
func (s *Service) checkInCaseStands(ctx context.Context, caseID string) error {
	seen, err := s.cfg.Cases.CheckFence(ctx, caseID, cases.FenceSeen{})
	if err != nil {
		return err
	}
	if seen.Fenced {
		return ErrCheckInGone
	}
	if _, err := s.cfg.Meta.Stat(ctx, planKey(caseID)); errors.Is(err, metastore.ErrNotFound) {
		return ErrCheckInGone
	} else if err != nil {
		return err
	}
	return nil
}

// lateAnswerWait is how long a check-in answer whose write was cut short
// is given to land before its case is looked at again.
var lateAnswerWait = time.Second

// takeBackIfGone looks at case caseID again once a check-in answer (at
// key, its link's record at tokenKey) is visible, or once its write was
// cut short (unknown: it may land still). A case fenced for disposal,
// gone, or whose follow-ups are gone meanwhile gets every stored version
// of the answer deleted (unknown: again after lateAnswerWait) and
// ErrCheckInGone; a look that fails takes the answer back too (it may be
// of a case being disposed of) and returns the failure. Either way the
// link is given back (Used false, as a failed write does), so that it
// answers once the case is kept after all (a fence lifted, a disposal
// paused): a conditional update, which writes nothing once retention
// deleted the record, and retention lists the links again after each
// round. kept is why what was written could not all be taken back
// (logged: an operator deletes it).
func (s *Service) takeBackIfGone(ctx context.Context, caseID, key, tokenKey string, unknown bool) (err, kept error) {
	if err = s.checkInCaseStands(ctx, caseID); err == nil {
		return nil, nil
	}
	if unknown && !errors.Is(err, ErrCheckInGone) {
		return err, nil // not known to be going: settle reads back
	}
	ctx = context.WithoutCancel(ctx)
	obj := s.cfg.Meta.Objects()
	var errs []error
	deleteAnswer := func() {
		if derr := objstore.DeleteEveryVersion(ctx, obj, key); derr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, derr))
		}
	}
	deleteAnswer()
	if unknown {
		t := time.NewTimer(lateAnswerWait)
		<-t.C
		deleteAnswer()
	}
	if len(errs) == 0 {
		if _, uerr := metastore.Update(ctx, s.cfg.Meta, tokenKey, func(t *checkInToken) error {
			t.Used = false
			return nil
		}); uerr != nil && !errors.Is(uerr, metastore.ErrNotFound) {
			errs = append(errs, fmt.Errorf("giving the link back: %w", uerr))
		}
	}
	if kept = errors.Join(errs...); kept != nil {
		log := s.cfg.Log
		if log == nil {
			log = slog.Default()
		}
		log.ErrorContext(ctx, "schedule: a check-in answer written to a case being disposed of could not be taken back",
			"case", caseID, "error", kept.Error())
	}
	return err, kept
}

// deleteEveryVersion deletes every stored version of keys (what a write
// to a case fenced for disposal meanwhile had stored), and returns what it
// could not delete, also logged (an operator deletes it).
func (s *Service) deleteEveryVersion(ctx context.Context, caseID string, keys []string) error {
	ctx = context.WithoutCancel(ctx)
	obj := s.cfg.Meta.Objects()
	var errs []error
	for _, k := range keys {
		if err := objstore.DeleteEveryVersion(ctx, obj, k); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	kept := errors.Join(errs...)
	if kept != nil {
		log := s.cfg.Log
		if log == nil {
			log = slog.Default()
		}
		log.ErrorContext(ctx, "schedule: follow-ups written to a case being disposed of could not be taken back", "case", caseID, "error", kept.Error())
	}
	return kept
}

// errNotConfirmed: a single-use link was found spent after its answer's
// write failed; whether the answer was stored is not known.
var errNotConfirmed = errors.New("the link is spent but its answer was not confirmed stored")

// spentLanded is the read-back (for settle) of an answer to a single-use
// link whose writes failed: refused (the link was spent or expired by
// another meanwhile) means nothing was taken; otherwise a link given back
// (not spent) says the answer is not stored, and a spent one that the
// answer's outcome is unknown.
func spentLanded(refused error, used func(context.Context) (bool, error)) func(context.Context) (bool, error) {
	if refused != nil {
		return nil
	}
	return func(ctx context.Context) (bool, error) {
		spent, err := used(ctx)
		if err != nil {
			return false, err
		}
		if spent {
			return false, errNotConfirmed
		}
		return false, nil
	}
}

// CheckIns returns a case's answers (for the evaluation export and the
// caseload view, which decide access themselves).
func (s *Service) CheckIns(ctx context.Context, caseID string) ([]CheckInResponse, error) {
	var out []CheckInResponse
	err := s.cfg.Meta.List(ctx, checkInPrefix(caseID), func(key string) error {
		var r CheckInResponse
		if _, err := s.cfg.Meta.Get(ctx, key, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	slices.SortStableFunc(out, func(a, b CheckInResponse) int { return a.Days - b.Days })
	return out, err
}

// FollowUpCounts counts a case's check-in answers, for the evaluation
// export.
func (s *Service) FollowUpCounts(ctx context.Context, caseID string) (honoured, partly, not int, err error) {
	rs, err := s.CheckIns(ctx, caseID)
	for _, r := range rs {
		switch r.Answer {
		case Honoured:
			honoured++
		case Partly:
			partly++
		case NotKept:
			not++
		}
	}
	return honoured, partly, not, err
}

// Overdue lists the check-ins of a case that are due and have fewer
// answers than links issued (for the caseload view).
func (s *Service) Overdue(ctx context.Context, caseID string, now time.Time) ([]Checkpoint, error) {
	p, err := s.plan(ctx, caseID)
	if err != nil || p == nil {
		return nil, err
	}
	rs, err := s.CheckIns(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for _, cp := range p.Checkpoints {
		answered := 0
		for _, r := range rs {
			if r.Days == cp.Days {
				answered++
			}
		}
		if now.After(cp.Due) && answered < cp.Issued {
			out = append(out, cp)
		}
	}
	return out, nil
}

// MailSurveys mails each party and lawyer with an address their survey
// link after the outcome is recorded. links are RecordOutcome's, one per
// non-observer participant in roster order; surveyURL is the survey page.
// The message says nothing of the case. Someone whose address another seat
// of the case has (cases.SharedWith) is not mailed, and is named in a
// LinksNotMailedError: whoever reads that mailbox could answer their
// survey in their name. mailed[i] says links[i] was queued: the caller
// then shows the mediator no link for that person, so that only they can
// answer it (the mediator holding every link could answer in anyone's
// name, and the answer names nobody). The development outbox sends
// nothing: with it, no link counts as mailed.
func (s *Service) MailSurveys(ctx context.Context, c *cases.Case, links []cases.SurveyLink, surveyURL string) (mailed []bool, err error) {
	mailed = make([]bool, len(links))
	if s.cfg.Outbox == nil {
		return mailed, nil
	}
	seats, err := s.cfg.Cases.Seats(ctx, c)
	if err != nil {
		return mailed, err
	}
	var notMailed []string
	var errs []error
	i := 0
	for _, p := range c.Participants {
		if p.Role == cases.RoleObserver {
			continue
		}
		if i >= len(links) {
			break
		}
		link := links[i]
		i++
		acct, err := s.cfg.Accounts.Get(ctx, p.AccountID)
		if err != nil || acct.Email == "" {
			continue
		}
		if len(cases.SharedWith(seats, acct.Email, p.AccountID)) > 0 {
			notMailed = append(notMailed, p.Name)
			continue
		}
		err = s.cfg.Outbox.Enqueue(ctx, mail.Message{
			ID: mailID("survey", c.ID, p.AccountID), CaseID: c.ID, Kind: mail.KindSurvey, To: acct.Email, ToAccount: p.AccountID,
			Subject: "How was your mediation?",
			Text: fmt.Sprintf("Your mediation has ended. Would you tell the program how it went? Six short questions, anonymous: %s#%s%s",
				surveyURL, link.Token, mailFooter),
		})
		// The development outbox sends nothing, so its links are shown.
		mailed[i-1] = err == nil && !s.Development()
		errs = append(errs, err)
	}
	return mailed, notMailedErr("survey links", notMailed, errs)
}
