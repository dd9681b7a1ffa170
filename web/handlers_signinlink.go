package web

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
)

// signInLinkQueue is how many requests for a sign-in link wait for the
// worker; past it a request is answered as any other and dropped (logged,
// without its address): the limits per address keep honest use far below.
const signInLinkQueue = 256

// signInLinkWork bounds one request's lookup, link and mail.
const signInLinkWork = 30 * time.Second

// signInLinkDrain is how long the worker goes on, once the node's sockets
// close (shutdown), making and mailing the links already asked for (each
// was answered 202); what is still queued then is dropped and counted in
// a WARN.
const signInLinkDrain = 5 * time.Second

// errShuttingDown answers a request for a sign-in link once the node is
// shutting down, when the worker no longer takes any.
var errShuttingDown = &fault.BusyError{RetryAfter: 5 * time.Second,
	Detail: "The server is restarting. Ask for the link again in a few seconds."}

// requestSignInLink answers "Email me a link to sign in" (docs/security.md,
// "The emailed sign-in link"). Every well-formed request within the limits
// gets the same 202 and the same words, before anything about accounts is
// read: the lookup, the link and its mail happen on the worker
// (signInLinkWorker), so neither the answer nor its timing says whether an
// account has the address.
func (a *API) requestSignInLink(w http.ResponseWriter, r *http.Request) {
	var req api.SignInLinkRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	email := strings.TrimSpace(req.Email)
	if err := account.ValidateEmail("email", email); err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.sockets.Err() != nil { // before the address's count is spent
		a.writeError(w, r, errShuttingDown)
		return
	}
	if err := a.accounts.AllowSignInLink(r.Context(), email, a.clientAddr(r)); err != nil {
		if re, ok := fault.AsRateLimited(err); ok {
			w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(re.RetryAfter.Seconds()))))
			writeProblem(w, r, problem{Type: api.ProblemRateLimited, Title: "Too many links asked for", Status: http.StatusTooManyRequests,
				Detail: "Too many sign-in links were asked for this address, or from your network, in a short time. Wait " + minutesWords(re.RetryAfter) + ", then ask again."})
			return
		}
		a.writeError(w, r, err)
		return
	}
	// Queued only while the worker takes requests: once the sockets are
	// closed it drains what is queued and stops, and a request it would
	// not see is answered 503 rather than 202 and forgotten.
	a.signInMu.Lock()
	a.signInLinkStart.Do(func() { a.signInRunning = a.goSocket(a.signInLinkWorker) })
	open := a.signInRunning && a.sockets.Err() == nil
	if open {
		select {
		case a.signInLinks <- email:
		default:
			a.log.WarnContext(r.Context(), "sign-in link queue full; a request was dropped")
		}
	}
	a.signInMu.Unlock()
	if !open {
		a.writeError(w, r, errShuttingDown)
		return
	}
	writeJSON(w, http.StatusAccepted, api.SignInLinkResponse{Message: api.SignInLinkSent})
}

// signInLinkWorker makes and mails the links asked for, one at a time, in
// the order asked. When the node's sockets close (shutdown) it goes on
// with those already queued for up to signInLinkDrain (each was answered
// 202), then drops the rest with a WARN that counts them, and returns.
func (a *API) signInLinkWorker() {
	// Once, before the first request, on a store this process owns
	// (embedded mode; Deps.SeatIndexBackfill): the seats stored before the
	// index of seats by address existed are indexed
	// (cases.BackfillSeatIndex), and only then does a request read the
	// index. In scale mode the operator does it (`parley admin
	// seat-index`) once every node runs this release: a node of the
	// release before, still running in a rolling upgrade, makes seats
	// without entries, which the index would miss. Until the marker is
	// written, requests read every record, as before.
	if a.seatIndexBackfill {
		if err := a.cases.BackfillSeatIndex(a.sockets); err != nil {
			a.log.WarnContext(a.sockets, "sign-in link seat index backfill", slog.String("error", err.Error()))
		}
	}
	// grace ends signInLinkDrain after the sockets close.
	grace, endGrace := context.WithCancel(context.Background())
	defer endGrace()
	stop := context.AfterFunc(a.sockets, func() { time.AfterFunc(signInLinkDrain, endGrace) })
	defer stop()
	for {
		var email string
		select {
		case email = <-a.signInLinks:
		case <-a.sockets.Done():
			// The handler queues nothing once the sockets are closed
			// (signInMu), so an empty queue stays empty.
			a.signInMu.Lock()
			left := len(a.signInLinks)
			a.signInMu.Unlock()
			if left == 0 {
				return
			}
			email = <-a.signInLinks // only this goroutine takes from it
		}
		if grace.Err() != nil {
			a.dropSignInLinks(1)
			return
		}
		ctx, cancel := context.WithTimeout(grace, signInLinkWork)
		err := a.sendSignInLink(ctx, email)
		cancel()
		switch {
		case err != nil && grace.Err() != nil:
			a.dropSignInLinks(1)
			return
		case err != nil:
			a.log.WarnContext(ctx, "sign-in link", slog.String("error", err.Error()))
		}
	}
}

// dropSignInLinks empties the queue at the end of the shutdown's grace and
// logs how many requests, answered 202, got no link or mail: these and
// more.
func (a *API) dropSignInLinks(more int) {
	a.signInMu.Lock()
	n := more
	for len(a.signInLinks) > 0 {
		<-a.signInLinks
		n++
	}
	a.signInMu.Unlock()
	a.log.Warn("sign-in link requests dropped at shutdown", slog.Int("count", n), slog.Duration("grace", signInLinkDrain))
}

// sendSignInLink makes the link for the participant who confirmed this
// email, if there is exactly one with an open case
// (cases.IssueSignInLink), and queues its mail to that address; to an
// address more than one seat has (cases.SignInShared), it mails word to
// ask their mediator instead, filed where no case's mail list shows it.
func (a *API) sendSignInLink(ctx context.Context, email string) error {
	if a.schedule == nil {
		return nil
	}
	re, ans, err := a.cases.IssueSignInLink(ctx, email)
	if err != nil {
		return err
	}
	switch ans {
	case cases.SignInLinkMade:
		_, err = a.schedule.MailSignInLink(ctx, re.CaseID, re.Email, a.InviteLink(re.Token), re.Expires)
	case cases.SignInShared:
		_, err = a.schedule.MailSignInShared(ctx, re.CaseID, re.Email)
	}
	return err
}

// EmailConfirmationLink is the link in the mail confirming a
// participant's address: the app, signed in, uses the token.
func (a *API) EmailConfirmationLink(token string) string {
	return a.publicURL + "/app#confirm-email=" + token
}

// requestEmailConfirmation mails a signed-in participant a link
// confirming the address on file for sign-in links
// (cases.RequestEmailConfirmation), to that address only, at most
// account.EmailConfirmationsPerAddress per 15 minutes
// (account.AllowEmailConfirmation), so nobody floods an address with it.
func (a *API) requestEmailConfirmation(w http.ResponseWriter, r *http.Request) {
	var req api.EmailConfirmationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	if refuseByMediatorLink(w, r) {
		return
	}
	if actor.Email != "" {
		if err := a.accounts.AllowEmailConfirmation(r.Context(), actor.Email); err != nil {
			if re, ok := fault.AsRateLimited(err); ok {
				w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(re.RetryAfter.Seconds()))))
				writeProblem(w, r, problem{Type: api.ProblemRateLimited, Title: "Too many links asked for", Status: http.StatusTooManyRequests,
					Detail: "Too many links were sent to this address in a short time. Wait " + minutesWords(re.RetryAfter) + ", then ask again."})
				return
			}
			a.writeError(w, r, err)
			return
		}
	}
	c, err := a.cases.RequestEmailConfirmation(r.Context(), actor, req.CaseID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.schedule != nil {
		if _, err := a.schedule.MailEmailConfirmation(r.Context(), c.CaseID, c.Email, a.EmailConfirmationLink(c.Token), c.Expires); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, api.EmailConfirmationResponse{Email: c.Email,
		Message: "We have sent a link to " + c.Email + ". Open it in this browser within 24 hours to confirm the address is yours."})
}

// confirmEmail uses a confirmation link, signed in as the account that
// asked for it (cases.ConfirmEmail), and answers the account as it is
// now.
func (a *API) confirmEmail(w http.ResponseWriter, r *http.Request) {
	var req api.ConfirmEmailRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	if refuseByMediatorLink(w, r) {
		return
	}
	acct, err := a.cases.ConfirmEmail(r.Context(), req.Token, actor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, acct.View())
}

// refuseByMediatorLink refuses (403) asking for or using an address
// confirmation in a session opened by a re-entry link a mediator made
// (account.Session.ByMediatorLink): that session may be the mediator's,
// and the address on file is what the mediator typed, so a confirmed
// address there would give the mediator emailed sign-in links, an
// unmarked session and the account's first device (keydir
// RegisterInSession). It reports whether it refused.
func refuseByMediatorLink(w http.ResponseWriter, r *http.Request) bool {
	if !sessionFrom(r.Context()).ByMediatorLink {
		return false
	}
	writeProblem(w, r, problem{Type: api.ProblemForbidden, Title: "You are not allowed to do this", Status: http.StatusForbidden,
		Detail: "this sign-in came from a link your mediator made, so it cannot confirm your email address: confirm it on the phone or computer where you joined the mediation"})
	return true
}

// minutesWords is a wait in whole minutes, in words ("1 minute",
// "14 minutes").
func minutesWords(d time.Duration) string {
	m := int(math.Ceil(d.Minutes()))
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
