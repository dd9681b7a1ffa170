package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
)

// SessionCookie is the browser's session cookie on a plain-http
// deployment (tests, `make run`): HttpOnly (no script reads it) and
// SameSite=Strict (no other site's page sends it).
const SessionCookie = "parley_session"

// SecureSessionCookie is its name on an https deployment (public URL
// https). A browser accepts a __Host- cookie only with Secure, Path=/ and
// no Domain, set by the host itself: a page on a sibling subdomain can
// neither set nor overwrite it (it could toss a plain parley_session
// cookie scoped to the parent domain, and so sign the browser in to an
// account of its choosing). Browsers take __Host- cookies only over https,
// so a plain-http deployment keeps SessionCookie.
const SecureSessionCookie = "__Host-parley_session"

func actorFrom(ctx context.Context) (account.Account, bool) {
	a, ok := ctx.Value(actorKey).(account.Account)
	return a, ok
}

// sessionFrom is the session requireSession resolved (how it was opened:
// account.Session.ByMediatorLink).
func sessionFrom(ctx context.Context) account.Session {
	s, _ := ctx.Value(sessionKey).(account.Session)
	return s
}

type tokenSource int

const (
	fromNone tokenSource = iota
	fromBearer
	fromCookie
)

func (a *API) sessionToken(r *http.Request) (string, tokenSource) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), fromBearer
		}
	}
	if c, err := r.Cookie(a.sessionCookie); err == nil {
		return c.Value, fromCookie
	}
	return "", fromNone
}

// requireSession resolves the session and rejects requests without one. A
// write carried by the cookie must also come from our own origin: SameSite
// already stops other sites' pages, and the Origin check also stops a
// same-site neighbour (another app on a sibling subdomain).
func (a *API) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, src := a.sessionToken(r)
		if src == fromNone {
			a.refuseSession(w, r, fmt.Errorf("no session: %w", fault.ErrUnauthenticated))
			return
		}
		if src == fromCookie && !safeMethod(r.Method) && !a.sameOrigin(r) {
			a.writeError(w, r, fmt.Errorf("cross-origin write refused: %w", fault.ErrForbidden))
			return
		}
		acct, sess, err := a.accounts.Authenticate(r.Context(), token)
		if err != nil {
			a.refuseSession(w, r, err)
			return
		}
		if err := passwordChangeGate(r, acct); err != nil {
			a.writeError(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), actorKey, acct)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, sessionKey, sess)))
	})
}

// refuseSession answers a request whose session is missing or could not
// be resolved. A browser's handshake to a case's socket without a valid
// session is closed at once with api.CloseSessionEnded (browserSocket):
// a page whose session ended while its socket was down (a phone asleep, a
// dropped network) then says that the person was signed out, instead of
// trying to reconnect for minutes. Clients that send no Origin (the Go
// client, the CLI) read the 401 as before; a foreign Origin gets it too.
func (a *API) refuseSession(w http.ResponseWriter, r *http.Request, err error) {
	if isLogout(r) && errors.Is(err, fault.ErrUnauthenticated) && a.sameOrigin(r) {
		// A sign-out from our own page whose session has already ended (in
		// another tab, expired, disabled) clears the dead cookie. One whose
		// session could not be read (the store did not answer) keeps it:
		// the session may live on, and the page's next try needs it.
		a.endOldSession(r)
		a.clearSessionCookie(w)
	}
	if !errors.Is(err, fault.ErrUnauthenticated) || !isCaseSocket(r.URL.Path) || !a.browserSocket(r) {
		a.writeError(w, r, err)
		return
	}
	a.closeHandshake(w, r, api.CloseSessionEnded, "session ended; sign in again")
}

// isLogout says whether r is a sign-out, DELETE /api/v1/session.
func isLogout(r *http.Request) bool {
	return r.Method == http.MethodDelete && r.URL.Path == "/api/v1/session"
}

// browserSocket says whether r is a browser's WebSocket handshake from our
// own origin: a GET asking for an upgrade, with its key and our Origin.
// A browser cannot read the status of a refused handshake, so such a
// handshake is refused with a close code instead (closeHandshake).
func (a *API) browserSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r) && r.Header.Get("Sec-WebSocket-Key") != "" &&
		r.Header.Get("Origin") != "" && a.sameOrigin(r)
}

// closeHandshake upgrades r and closes the connection at once with code:
// nothing else is sent. It waits (at most a second) for the browser's
// answering close, reading past the frames it may send first: closing at
// once would answer those with a reset, which can discard the close
// before the page reads it.
func (a *API) closeHandshake(w http.ResponseWriter, r *http.Request, code int, reason string) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer ws.Close()
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
	ws.SetReadLimit(api.MaxFrame)
	ws.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}

// isCaseSocket says whether path is a case's WebSocket,
// /api/v1/cases/{caseID}/ws.
func isCaseSocket(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/v1/cases/")
	id, ok2 := strings.CutSuffix(rest, "/ws")
	return ok && ok2 && id != "" && !strings.Contains(id, "/")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// foreignOrigin says whether r names an origin (Origin or, failing that,
// Referer) that is not ours (sameOrigin). A request that names none (the
// Go client, the CLI) is not foreign.
func (a *API) foreignOrigin(r *http.Request) bool {
	if r.Header.Get("Origin") == "" && r.Header.Get("Referer") == "" {
		return false
	}
	return !a.sameOrigin(r)
}

// refuseForeignSignIn refuses (403) a request that would open a session
// and set its cookie from another origin's page, and reports whether it
// did. Sign-in and redemption are outside requireSession, whose Origin
// check stops a same-site neighbour (a page on a sibling subdomain) from
// writing with the cookie; without this one such a page could sign the
// browser in to an account of its choosing (login CSRF) and replace the
// person's own session cookie.
func (a *API) refuseForeignSignIn(w http.ResponseWriter, r *http.Request) bool {
	if !a.foreignOrigin(r) {
		return false
	}
	writeProblem(w, r, problem{Type: api.ProblemForbidden, Title: "Sign in on Parley's own page", Status: http.StatusForbidden,
		Detail: "This sign-in came from another website's page, so it was refused. Open Parley's own address and sign in there."})
	return true
}

// browserRequest says whether r carries our own Origin: a script of our
// own page sent it, and the browser keeps its session in the HttpOnly
// cookie, so the answer need not (and does not) hold the token.
func (a *API) browserRequest(r *http.Request) bool {
	return r.Header.Get("Origin") != "" && a.sameOrigin(r)
}

// answerToken is the session token a sign-in, redemption or password
// change answers in its body: none to a request carrying our own Origin
// (browserRequest), whose session travels in the HttpOnly cookie alone,
// so no script on the page (an injected one included) can read it; the
// token to the Go client and the CLI, which send no Origin and carry the
// token as a bearer.
func (a *API) answerToken(r *http.Request, token string) string {
	if a.browserRequest(r) {
		return ""
	}
	return token
}

// sameOrigin accepts a request whose Origin (or, failing that, Referer)
// matches the public URL, or the scheme, host and port the request itself
// arrived on. Scheme and port count: an https:// page is another origin
// than the http:// server, and so is another port on the same host.
func (a *API) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref := r.Header.Get("Referer"); ref != "" {
			if u, err := url.Parse(ref); err == nil {
				origin = u.Scheme + "://" + u.Host
			}
		}
	}
	got, ok := canonicalOrigin(origin)
	if !ok {
		return false
	}
	if a.publicOrigin != "" {
		if want, ok := canonicalOrigin(a.publicOrigin); ok && got == want {
			return true
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if a.trustForwarded && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	self, ok := canonicalOrigin(scheme + "://" + r.Host)
	return ok && got == self
}

// canonicalOrigin returns "scheme://host:port" in lower case with the
// scheme's default port made explicit, or false when s is not an http(s)
// origin.
func canonicalOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme == "http" && port == "":
		port = "80"
	case scheme == "https" && port == "":
		port = "443"
	case scheme != "http" && scheme != "https":
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), true
}

// setSessionCookie sets the session cookie to last until the session's
// absolute end: the server ends an idle session earlier (the cookie then
// carries a token it refuses), so the cookie need not be rewritten each
// time the session slides.
// On an https deployment it also expires a parley_session cookie left by
// a release before the __Host- name (SecureSessionCookie), which is no
// longer read.
func (a *API) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: a.sessionCookie, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secureCookies,
	})
	if a.sessionCookie != SessionCookie {
		a.expireCookie(w, SessionCookie)
	}
}

// clearSessionCookie expires the session cookie and, on an https
// deployment, a parley_session cookie left by an earlier release.
func (a *API) clearSessionCookie(w http.ResponseWriter) {
	a.expireCookie(w, a.sessionCookie)
	if a.sessionCookie != SessionCookie {
		a.expireCookie(w, SessionCookie)
	}
}

// endOldSession ends, on the server, the session of a parley_session
// cookie left by a release before the __Host- name on an https
// deployment (sign-in, redemption, a password change and sign-out call
// it: each expires that cookie). Nothing reads that cookie
// any more, but its session would otherwise live until its idle end or
// cap, and its token still opens it as a bearer token (a copied browser
// profile; a rollback to the earlier release). A token that opens
// nothing is no error; a store that does not answer is logged, and the
// sign-in or sign-out goes on (the old session then ends at its own end).
func (a *API) endOldSession(r *http.Request) {
	if a.sessionCookie == SessionCookie {
		return
	}
	// Every such cookie the browser sent, a few at most: a sibling
	// subdomain may have set one with a longer path, sent first.
	for i, c := range r.CookiesNamed(SessionCookie) {
		if i == 4 {
			break
		}
		if c.Value == "" {
			continue
		}
		if err := a.accounts.Logout(r.Context(), c.Value); err != nil {
			a.log.WarnContext(r.Context(), "an earlier release's session cookie: its session was not ended", slog.String("error", err.Error()))
			continue
		}
		if a.messaging != nil {
			if err := a.messaging.Announce(r.Context(), a.accounts.SessionTopic(c.Value), []byte("ended")); err != nil {
				a.log.WarnContext(r.Context(), "announcing a sign-out", slog.String("error", err.Error()))
			}
		}
	}
}

func (a *API) expireCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secureCookies,
	})
}

// clientAddr is the peer address for rate limiting. Behind a load balancer
// set --trust-proxy-header so the first X-Forwarded-For hop is used.
func (a *API) clientAddr(r *http.Request) string {
	if a.trustForwarded {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}
