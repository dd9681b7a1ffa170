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
	"github.com/parley-mediation/parley/internal/fault"
)

// signInLinkQueue is how many requests for a sign-in link wait for the
// worker; past it a request is answered as any other and dropped (logged,
// without its address): the limits per address keep honest use far below.
const signInLinkQueue = 256

// signInLinkWork bounds one request's lookup, link and mail.
const signInLinkWork = 30 * time.Second

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
	a.signInLinkStart.Do(func() { a.goSocket(a.signInLinkWorker) })
	select {
	case a.signInLinks <- email:
	default:
		a.log.WarnContext(r.Context(), "sign-in link queue full; a request was dropped")
	}
	writeJSON(w, http.StatusAccepted, api.SignInLinkResponse{Message: api.SignInLinkSent})
}

// signInLinkWorker makes and mails the links asked for, one at a time, in
// the order asked, until the node's sockets close (shutdown).
func (a *API) signInLinkWorker() {
	for {
		select {
		case <-a.sockets.Done():
			return
		case email := <-a.signInLinks:
			ctx, cancel := context.WithTimeout(a.sockets, signInLinkWork)
			if err := a.sendSignInLink(ctx, email); err != nil {
				a.log.WarnContext(ctx, "sign-in link", slog.String("error", err.Error()))
			}
			cancel()
		}
	}
}

// sendSignInLink makes the link for the participant with this email, if
// there is one with an open case (cases.IssueSignInLink), and queues its
// mail to the address on their account.
func (a *API) sendSignInLink(ctx context.Context, email string) error {
	if a.schedule == nil {
		return nil
	}
	re, ok, err := a.cases.IssueSignInLink(ctx, email)
	if err != nil || !ok {
		return err
	}
	_, err = a.schedule.MailSignInLink(ctx, re.CaseID, re.Email, a.InviteLink(re.Token), re.Expires)
	return err
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
