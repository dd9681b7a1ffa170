package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/caseload"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/schedule"
	"github.com/parley-mediation/parley/vault"
)

//go:embed openapi.yaml
var openAPI []byte

//go:embed static
var staticFiles embed.FS

// Deps is what the HTTP layer needs from the rest of the node.
type Deps struct {
	Accounts *account.Service
	Cases    *cases.Service
	Audit    *audit.Log
	// AuditVerifierKey is the audit log's public verifier key (vkey text).
	AuditVerifierKey string
	Policy           *policy.Engine
	// Messaging and Caucus serve the rooms (WebSocket and history).
	Messaging *messaging.Service
	Caucus    *caucus.Service
	// Vault serves the case documents.
	Vault *vault.Service
	// Retention serves the schedule, holds, plans and certificates.
	Retention *retention.Service
	// KeyDir serves end-to-end encryption's key directory, membership
	// statements and carries (handlers_e2ee.go).
	KeyDir *keydir.Service
	// Schedule serves a case's sessions and its outbox
	// (handlers_sessions.go).
	Schedule *schedule.Service
	// Caseload builds the caseload view.
	Caseload *caseload.Service
	// Floor serves room controls: timers, the floor, raised hands
	// (handlers_floor.go).
	Floor *floor.Service
	// Ready reports whether the node's backing services (object store,
	// Redis) answer; /readyz fails while it returns an error.
	Ready func(ctx context.Context) error
	Log   *slog.Logger
	// PublicURL is where users reach this deployment (invite links point
	// there). https:// makes cookies Secure.
	PublicURL string
	// TrustForwardedFor uses X-Forwarded-For as the client address (only
	// behind a load balancer that sets it).
	TrustForwardedFor bool
	// WebSocketQueue is each WebSocket's send queue, in frames (0: the
	// messaging default); a client that lets it overflow is closed with 4008.
	WebSocketQueue int
	// SocketsPerSession and SocketsPerAccount bound the case WebSockets
	// one session and one account may hold open on this node (0:
	// DefaultSocketsPerSession, DefaultSocketsPerAccount; socketgate.go).
	SocketsPerSession, SocketsPerAccount int
	// BodyTimeout bounds how long a request's JSON body (or a PDF sent to
	// be verified) may take to arrive once its headers have (0:
	// DefaultBodyTimeout). Uploads are bounded instead by how long their
	// body may send little (UploadIdleTimeout) and by how many run at
	// once (uploadgate.go); WebSockets stay open-ended.
	BodyTimeout time.Duration
	// UploadIdleTimeout ends an upload whose body sends less than 64 KiB
	// in this long of waiting, or averages less than 1 MiB per this long
	// after the first (0: DefaultUploadIdleTimeout, 60 s; uploadgate.go).
	UploadIdleTimeout time.Duration
	// Agreements serves the cases' settlement agreements
	// (handlers_agreement.go).
	Agreements *agreement.Service
	// SeatIndexBackfill has the sign-in link worker index the seats
	// stored before the index of seats by address existed, and write the
	// marker that makes requests read it (cases.BackfillSeatIndex), when
	// it starts. Only for a store one process owns (embedded mode): in
	// scale mode a node of an earlier release, still running in a rolling
	// upgrade, makes seats without entries, so the operator writes it
	// (`parley admin seat-index`) once every node runs this release.
	SeatIndexBackfill bool
}

// API is the HTTP face of one Parley node.
type API struct {
	accounts       *account.Service
	cases          *cases.Service
	audit          *audit.Log
	policy         *policy.Engine
	ready          func(ctx context.Context) error
	log            *slog.Logger
	metrics        *httpMetrics
	registry       *prometheus.Registry
	publicURL      string
	publicOrigin   string
	secureCookies  bool
	sessionCookie  string // SessionCookie, or SecureSessionCookie on https
	trustForwarded bool
	auditKeyText   string
	messaging      *messaging.Service
	caucus         *caucus.Service
	keydir         *keydir.Service
	vault          *vault.Service
	retention      *retention.Service
	sockets        context.Context
	closeSockets   context.CancelFunc
	socketMu       sync.Mutex     // orders starting a socket against CloseSockets
	socketWG       sync.WaitGroup // the sockets' goroutines (goSocket)
	fences         *fenceWatch    // the open sockets' cases, checked for a disposal fence
	wsQueue        int
	schedule       *schedule.Service
	caseload       *caseload.Service
	agreements     *agreement.Service
	floor          *floor.Service
	bodyTimeout    time.Duration
	uploadIdle     time.Duration
	uploads        uploadGate
	socketGate     socketGate // the open case sockets of each session and account (socketgate.go)
	// signInLinks queues the addresses asked for an emailed sign-in link
	// (handlers_signinlink.go) to one worker, started at the first
	// request on a goroutine CloseSockets waits for: the request is
	// answered before any account is looked up. signInMu orders queueing
	// against the worker's last look at shutdown; signInRunning is
	// whether the worker was started.
	signInLinks     chan string
	signInLinkStart sync.Once
	signInMu        sync.Mutex
	signInRunning   bool
	// seatIndexBackfill: Deps.SeatIndexBackfill.
	seatIndexBackfill bool
}

// New builds the API. Each API has its own metrics registry, so several
// nodes can live in one test process.
func New(d Deps) *API {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &API{
		accounts: d.Accounts, cases: d.Cases, audit: d.Audit, policy: d.Policy,
		ready: d.Ready, log: d.Log, registry: reg, metrics: newHTTPMetrics(reg),
		publicURL: strings.TrimRight(d.PublicURL, "/"), trustForwarded: d.TrustForwardedFor,
		auditKeyText: d.AuditVerifierKey,
		messaging:    d.Messaging, caucus: d.Caucus, keydir: d.KeyDir, vault: d.Vault,
		agreements: d.Agreements, floor: d.Floor, seatIndexBackfill: d.SeatIndexBackfill,
		wsQueue: d.WebSocketQueue, bodyTimeout: d.BodyTimeout, uploadIdle: d.UploadIdleTimeout, retention: d.Retention, schedule: d.Schedule, caseload: d.Caseload,
	}
	if u, err := url.Parse(a.publicURL); err == nil && u.Host != "" {
		a.publicOrigin = u.Scheme + "://" + u.Host
		a.secureCookies = u.Scheme == "https"
	}
	a.sessionCookie = SessionCookie
	if a.secureCookies {
		a.sessionCookie = SecureSessionCookie
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.signInLinks = make(chan string, signInLinkQueue)
	a.sockets, a.closeSockets = context.WithCancel(context.Background())
	a.socketGate.perSession, a.socketGate.perAccount = DefaultSocketsPerSession, DefaultSocketsPerAccount
	if d.SocketsPerSession > 0 {
		a.socketGate.perSession = d.SocketsPerSession
	}
	if d.SocketsPerAccount > 0 {
		a.socketGate.perAccount = d.SocketsPerAccount
	}
	a.socketGate.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_websockets_refused_total", Help: "Case WebSocket handshakes refused because the session or the account already held as many open on this node as it may, by limit (session, account).",
	}, []string{"limit"})
	reg.MustRegister(a.socketGate.refused)
	a.fences = newCaseFenceWatch(a.sockets, fenceCheck, a.log, a.cases)
	return a
}

// MetricsHandler serves the node's Prometheus metrics. It is not on the
// main router: per-route counters would let anyone who can reach the
// service time other people's uploads, carries and recusals, so metrics
// get a listener of their own (`parley serve --metrics-addr`), reachable
// by the scraper only.
func (a *API) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})
}

// Registry is the node's metrics registry, for other packages' collectors.
func (a *API) Registry() *prometheus.Registry { return a.registry }

// InviteLink is the URL a participant opens. The token travels in the
// fragment, which browsers never send to a server or put in a Referer, so it
// cannot end up in any access log.
func (a *API) InviteLink(token string) string { return a.publicURL + "/join#" + token }

// Handler returns the router.
func (a *API) Handler() http.Handler { return a.routes() }

func (a *API) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(withRequestID, securityHeaders, a.strictTransport, a.observe, a.withBodyTimeout)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem{Type: api.ProblemNotFound, Title: "Not found", Status: http.StatusNotFound})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem{Type: api.ProblemMethodNotAllowed, Title: "Method not allowed", Status: http.StatusMethodNotAllowed})
	})

	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Get("/", a.page("static/index.html"))
	r.Get("/app", a.appPage)
	r.Get("/join", a.appPage)
	r.Get("/survey", a.page("static/survey.html"))
	r.Get("/checkin", a.page("static/checkin.html"))
	r.Get("/static/{file}", a.staticFile)
	r.Get("/static/dist/{file}", a.bundleFile)

	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			w.Write(openAPI)
		})
		r.Post("/session", a.login)
		r.Post("/session/link", a.requestSignInLink)
		r.Post("/invites/redeem", a.redeemInvite)
		r.Post("/surveys/responses", a.submitSurvey)
		r.Get("/surveys/questions", a.surveyQuestions)
		r.Post("/checkins", a.submitCheckIn)
		r.Get("/audit/key", a.auditKey)

		r.Group(func(r chi.Router) {
			r.Use(a.requireSession)
			r.Delete("/session", a.logout)
			r.Get("/me", a.me)
			r.Post("/me/email-confirmation", a.requestEmailConfirmation)
			r.Post("/me/email-confirmation/use", a.confirmEmail)
			r.Get("/accounts", a.listAccounts)
			r.Post("/accounts", a.createAccount)
			r.Post("/accounts/{accountID}/revoke-sessions", a.revokeSessions)
			a.staffRoutes(r)
			r.Get("/audit/entries", a.auditEntries)
			r.Get("/audit/checkpoint", a.auditCheckpoint)
			a.keydirRoutes(r)
			r.Post("/exports", a.runExport)
			r.Get("/exports/dictionary", a.exportDictionary)
			a.retentionRoutes(r)
			r.Get("/proposals", a.pendingProposals)
			r.Get("/cases", a.listCases)
			r.Get("/caseload", a.caseloadView)
			r.Post("/cases", a.createCase)
			r.Route("/cases/{caseID}", func(r chi.Router) {
				r.Get("/", a.getCase)
				r.Get("/summary", a.caseSummary)
				r.Post("/stage", a.setStage)
				r.Post("/objectives", a.addObjective)
				r.Post("/disclosures", a.disclose)
				r.Post("/disclosures/{disclosureID}/ack", a.acknowledge)
				r.Post("/recusals", a.recuse)
				r.Post("/mediators", a.addMediator)
				r.Post("/recusal-proposals", a.proposeRecusal)
				r.Post("/assignment-proposals", a.proposeAssignment)
				r.Get("/proposals", a.caseProposals)
				r.Post("/proposals/{proposalID}/approve", a.approveProposal)
				r.Post("/proposals/{proposalID}/decline", a.declineProposal)
				r.Post("/invites", a.createInvite)
				r.Post("/participants/{accountID}/reentry", a.createReentry)
				r.Delete("/participants/{accountID}", a.removeParticipant)
				r.Get("/invites", a.pendingInvites)
				r.Delete("/invites/{inviteID}", a.withdrawInvite)
				r.Post("/outcome", a.recordOutcome)
				r.Get("/rooms", a.listRooms)
				r.With(a.roomNamed).Get("/rooms/{room}/messages", a.roomHistory)
				r.Get("/ws", a.roomSocket)
				a.e2eeRoutes(r)
				a.consentRoutes(r)
				a.vaultRoutes(r)
				a.caseHoldRoutes(r)
				a.sessionRoutes(r)
				a.definedRoomRoutes(r)
				a.agreementRoutes(r)
				a.floorRoutes(r)
			})
			r.Get("/agreement-templates", a.agreementTemplates)
			r.Post("/agreement-verify", a.agreementVerify)
		})
	})
	return r
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Status{Status: "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		if err := a.ready(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "not ready", slog.String("error", err.Error()))
			writeProblem(w, r, problem{Type: api.ProblemNotReady, Title: "A backing service is unreachable", Status: http.StatusServiceUnavailable})
			return
		}
	}
	writeJSON(w, http.StatusOK, api.Status{Status: "ready"})
}

func (a *API) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := staticFiles.ReadFile(name)
		if err != nil {
			writeProblem(w, r, problem{Type: api.ProblemNotFound, Title: "Not found", Status: http.StatusNotFound})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	}
}

var staticTypes = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

// bundleName is the browser client's bundle, built by `make web` (esbuild,
// from web/client) into static/dist and embedded with the rest. A binary
// built from a fresh clone without it still compiles (static/dist holds a
// committed README) and serves a page saying how to build it.
const bundleName = "static/dist/app.js"

// HasBrowserClient reports whether the browser client's bundle was built
// into this binary.
func HasBrowserClient() bool {
	_, err := fs.Stat(staticFiles, bundleName)
	return err == nil
}

// appPage serves the browser client (/app, and /join for invite links, whose
// token stays in the fragment and never reaches the server).
func (a *API) appPage(w http.ResponseWriter, r *http.Request) {
	if !HasBrowserClient() {
		a.page("static/nobundle.html")(w, r)
		return
	}
	a.page("static/app.html")(w, r)
}

func (a *API) bundleFile(w http.ResponseWriter, r *http.Request) {
	a.serveStatic(w, r, "static/dist/", chi.URLParam(r, "file"))
}

func (a *API) staticFile(w http.ResponseWriter, r *http.Request) {
	a.serveStatic(w, r, "static/", chi.URLParam(r, "file"))
}

func (a *API) serveStatic(w http.ResponseWriter, r *http.Request, dir, name string) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || staticTypes[name[dot:]] == "" || strings.ContainsAny(name, "/\\") {
		writeProblem(w, r, problem{Type: api.ProblemNotFound, Title: "Not found", Status: http.StatusNotFound})
		return
	}
	b, err := staticFiles.ReadFile(dir + name)
	if err != nil {
		writeProblem(w, r, problem{Type: api.ProblemNotFound, Title: "Not found", Status: http.StatusNotFound})
		return
	}
	w.Header().Set("Content-Type", staticTypes[name[dot:]])
	w.Write(b)
}
