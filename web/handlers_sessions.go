package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/schedule"
)

func (a *API) sessionRoutes(r chi.Router) {
	r.Get("/sessions", a.listSessions)
	r.Post("/sessions", a.addSession)
	r.Post("/sessions/{sessionID}/move", a.moveSession)
	r.Post("/sessions/{sessionID}/cancel", a.cancelSession)
	r.Get("/mail", a.caseMail)
	r.Post("/mail/{messageID}/resend", a.resendMail)
	r.Get("/followups", a.getFollowUps)
	r.Post("/followups", a.setFollowUps)
}

// sessionView is a session as the actor may see it: the reasons for moves
// and cancellations only for those who manage the case's sessions.
func sessionView(s *schedule.Session, manager bool) api.Session {
	v := api.Session{ID: s.ID, CaseID: s.CaseID, Start: s.Start, End: s.End(), TimeZone: s.TimeZone, Minutes: s.Minutes,
		Rooms: s.Rooms, Expected: s.Expected, Status: string(s.Status), Sequence: s.Sequence}
	if manager {
		for _, c := range s.History {
			v.Changes = append(v.Changes, api.SessionChange{Kind: c.Kind, At: c.At, By: c.By, From: c.From, Reason: c.Reason})
		}
	}
	return v
}

func (a *API) managesSessions(r *http.Request, caseID string) bool {
	actor, _ := actorFrom(r.Context())
	c, err := a.cases.Load(r.Context(), caseID)
	return err == nil && a.policy.Decide(actor.Principal(), policy.SessionManage, c.Facts()).Allowed
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	list, err := a.schedule.List(r.Context(), actor, caseID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	manager := a.managesSessions(r, caseID)
	out := make([]api.Session, 0, len(list))
	for i := range list {
		out = append(out, sessionView(&list[i], manager))
	}
	writeJSON(w, http.StatusOK, api.List[api.Session](out))
}

// sessionResult answers a change: the session, and (when the session was
// saved but its mail could not all be queued, or some expected people
// were not mailed because their address is shared with someone not
// expected: schedule.NotMailedError) a warning naming that, and them.
func (a *API) sessionResult(w http.ResponseWriter, r *http.Request, status int, s *schedule.Session, err error) {
	if s == nil {
		a.writeError(w, r, err)
		return
	}
	v := sessionView(s, true)
	var notMailed *schedule.NotMailedError
	if errors.As(err, &notMailed) {
		v.MailWarning = notMailed.NotMailedText()
		err = notMailed.Err
	}
	if err != nil {
		a.log.WarnContext(r.Context(), "session mail", "error", err.Error())
		v.MailWarning = strings.TrimSpace(v.MailWarning + " The session is saved, but some of its mail could not be queued. Check the mail list and resend.")
	}
	writeJSON(w, status, v)
}

func (a *API) addSession(w http.ResponseWriter, r *http.Request) {
	var req api.NewSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	s, err := a.schedule.Add(r.Context(), actor, chi.URLParam(r, "caseID"), schedule.NewSession{
		Start: req.Start, TimeZone: req.TimeZone, Minutes: req.Minutes, Rooms: req.Rooms, Expected: req.Expected})
	if s != nil {
		w.Header().Set("Location", "/api/v1/cases/"+s.CaseID+"/sessions")
	}
	a.sessionResult(w, r, http.StatusCreated, s, err)
}

func (a *API) moveSession(w http.ResponseWriter, r *http.Request) {
	var req api.MoveSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	s, err := a.schedule.Move(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "sessionID"),
		req.Start, req.TimeZone, req.Minutes, req.Reason)
	a.sessionResult(w, r, http.StatusOK, s, err)
}

func (a *API) cancelSession(w http.ResponseWriter, r *http.Request) {
	var req api.CancelSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	s, err := a.schedule.Cancel(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "sessionID"), req.Reason)
	a.sessionResult(w, r, http.StatusOK, s, err)
}

func mailView(m *mail.Message, development bool) api.MailMessage {
	v := api.MailMessage{ID: m.ID, Kind: string(m.Kind), To: m.To, ToAccount: m.ToAccount, Subject: m.Subject,
		State: string(m.State), Attempts: m.Attempts, NotBefore: m.NotBefore, NextAttempt: m.NextAttempt,
		Created: m.Created, Done: m.Done, LastError: m.LastError, ResendOf: m.ResendOf, Development: development}
	if development && !m.Kind.SecretBody() {
		v.Text = m.Text
	}
	if m.Attachment != nil {
		v.Attachment = m.Attachment.Name
	}
	return v
}

func (a *API) caseMail(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	list, err := a.schedule.Mail(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	dev := a.schedule.Development()
	out := make([]api.MailMessage, 0, len(list))
	for i := range list {
		out = append(out, mailView(&list[i], dev))
	}
	writeJSON(w, http.StatusOK, api.List[api.MailMessage](out))
}

func (a *API) resendMail(w http.ResponseWriter, r *http.Request) {
	var req api.EmptyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	m, err := a.schedule.Resend(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "messageID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, mailView(&m, a.schedule.Development()))
}

func followUpView(p *schedule.FollowUpPlan) api.FollowUpResponse {
	out := api.FollowUpResponse{Checkpoints: []api.FollowUpCheckpoint{}}
	if p != nil {
		for _, c := range p.Checkpoints {
			out.Checkpoints = append(out.Checkpoints, api.FollowUpCheckpoint{Days: c.Days, Due: c.Due, Issued: c.Issued, NotMailed: c.NotMailed})
		}
	}
	return out
}

// linkMailWarning is the mediator's warning after single-use links were
// made and mailed (check-ins, surveys), from err: whose were not emailed
// because their address is shared in the case (schedule.LinksNotMailedError,
// in plain words), and queueFailed when some mail could not be queued;
// "" when all went. It returns that queueing error too, for the caller
// to log.
func linkMailWarning(err error, queueFailed string) (string, error) {
	var warning string
	var notMailed *schedule.LinksNotMailedError
	if errors.As(err, &notMailed) {
		warning = notMailed.NotMailedText()
		err = notMailed.Err
	}
	if err != nil {
		warning = strings.TrimSpace(warning + " " + queueFailed)
	}
	return warning, err
}

func (a *API) setFollowUps(w http.ResponseWriter, r *http.Request) {
	var req api.FollowUpRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	plan, links, err := a.schedule.SetFollowUps(r.Context(), actor, chi.URLParam(r, "caseID"), req.Days)
	if plan == nil {
		a.writeError(w, r, err)
		return
	}
	out := followUpView(plan)
	out.MailWarning, err = linkMailWarning(err, "The follow-ups are set, but some of their mail could not be queued. Give the links below by hand.")
	if err != nil {
		a.log.WarnContext(r.Context(), "follow-up mail", "error", err.Error())
	}
	// A link Parley emailed is not given to the mediator, only said to be
	// mailed, so that only its person can answer it: a mediator holding
	// every link could answer "honoured" in a party's name (the answer
	// names nobody), and the party's own link would then say it was used.
	for _, l := range links {
		if l.Mailed {
			out.Links = append(out.Links, api.CheckInLink{Name: l.Name, Days: l.Days, Mailed: true})
			continue
		}
		out.Links = append(out.Links, api.CheckInLink{Name: l.Name, Days: l.Days, Link: a.schedule.CheckInURL() + "#" + l.Token})
	}
	writeJSON(w, http.StatusCreated, out)
}

func (a *API) getFollowUps(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	list, err := a.schedule.FollowUpStatus(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := api.FollowUpResponse{Checkpoints: []api.FollowUpCheckpoint{}}
	for _, c := range list {
		out.Checkpoints = append(out.Checkpoints, api.FollowUpCheckpoint{Days: c.Days, Due: c.Due, Issued: c.Issued,
			Mailed: c.Mailed, MailFailed: c.MailFailed, NotMailed: c.NotMailed, Answered: c.Answered})
	}
	writeJSON(w, http.StatusOK, out)
}

// submitCheckIn needs no session: the single-use token is the capability,
// and nothing links the answer to the person.
func (a *API) submitCheckIn(w http.ResponseWriter, r *http.Request) {
	var req api.CheckInRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.schedule.SubmitCheckIn(r.Context(), req.Token, req.Answer, req.Comment); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// evaluationSource adds the agreement check-ins to the cases for the
// evaluation export.
type evaluationSource struct {
	*cases.Service
	schedule *schedule.Service
}

func (e evaluationSource) FollowUpCounts(ctx context.Context, caseID string) (int, int, int, error) {
	return e.schedule.FollowUpCounts(ctx, caseID)
}

func (a *API) caseloadView(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	v, err := a.caseload.View(r.Context(), actor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
