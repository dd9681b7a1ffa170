package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/caseload"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/schedule"
	"github.com/parley-mediation/parley/vault"
	"github.com/parley-mediation/parley/web"
)

// Object keys and labels of the keys the master key wraps.
const (
	recordsKeyObject      = "keys/records"
	recordsKeyLabel       = "parley/records-key/v1"
	auditSigningKeyObject = "keys/audit-signing"
	auditSigningKeyLabel  = "parley/audit-signing-key/v1"
)

// Node is one assembled Parley node.
type Node struct {
	Config   Config
	Store    objstore.Store
	Meta     *metastore.Store
	Accounts *account.Service
	Cases    *cases.Service
	Audit    *audit.Log
	Policy   *policy.Engine
	API      *web.API
	Messages *messaging.Service
	Rooms    *caucus.Service
	Vault    *vault.Service
	// Retention runs schedules, holds and disposal.
	Retention *retention.Service
	KeyDir    *keydir.Service
	// Agreements keeps the cases' settlement agreements.
	Agreements *agreement.Service
	// Outbox is the mail outbox; its sender loop runs until Close (not
	// in a node opened with Config.Command, which only enqueues).
	Outbox *mail.Outbox
	// Schedule runs sessions, invitations and reminders.
	Schedule *schedule.Service
	// Floor runs room controls: timers, the floor, raised hands.
	Floor    *floor.Service
	stopMail context.CancelFunc
	mailDone chan struct{}
	// sweepDone closes when the cases' audit sweep (cases.RunSweep),
	// started and stopped with the mail sender (stopMail), has returned.
	sweepDone chan struct{}
	// noticeDone closes when records staff's daily notice of what falls
	// due (retention.RunNotices), started and stopped with the mail
	// sender, has returned (with Config.DueNoticeDays 0 too: its passes
	// then only collect what earlier notices left).
	noticeDone chan struct{}
	broker     messaging.Broker
	redis      *redis.Client
	vkey       string
	// journal is the messaging log, closed after Messages (it lets go of
	// the data directory's lock); releaseDir lets go of the lock a
	// command's node holds (LockDataDir). Both only in embedded mode.
	journal    *messaging.Log
	releaseDir func()
}

// AuditVerifierKey is the public key that verifies the audit log.
func (n *Node) AuditVerifierKey() string { return n.vkey }

// OpenStore opens the configured object store (for the server and for CLI
// verbs that work on the store directly, such as `parley audit verify`).
func OpenStore(ctx context.Context, cfg Config) (objstore.Store, error) {
	if cfg.ScaleMode() {
		return objstore.OpenS3(ctx, cfg.S3)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	return objstore.OpenDir(filepath.Join(cfg.DataDir, "objects"))
}

// ErrDataDirInUse: another process holds the embedded data directory's
// lock: a `parley serve`, or a command that writes to it.
var ErrDataDirInUse = errors.New("in use by another process")

// journalDir is where an embedded node keeps its messaging journal; its
// lock is the data directory's.
func journalDir(cfg Config) string { return filepath.Join(cfg.DataDir, "journal") }

// LockDataDir takes, for a CLI command that writes to the embedded data
// directory, the lock `parley serve` holds on DataDir/journal, to be held
// for the command's whole run (release lets it go). The directory store
// is one process's (objstore.Dir: its locks and caches are in memory), so
// a command writing beside a serving process would write what the server
// never reads and then overwrites. It fails at once, with
// ErrDataDirInUse, while serve (or another such command) holds it, and
// serve does not start while a command does (Open). In scale mode it
// takes nothing: S3's conditional writes are real and Redis is shared.
// A node opened with Config.Command takes it itself.
func LockDataDir(cfg Config) (release func(), err error) {
	if cfg.ScaleMode() {
		return func() {}, nil
	}
	if cfg.DataDir == "" {
		return nil, errors.New("--data is required in embedded mode")
	}
	release, err = messaging.HoldJournalDir(journalDir(cfg))
	if errors.Is(err, messaging.ErrJournalInUse) {
		return nil, fmt.Errorf("data directory %s is %w (parley serve, or another command writing to it)", cfg.DataDir, ErrDataDirInUse)
	}
	return release, err
}

// OpenStoreToRead opens the configured object store for a command that
// only reads it (`parley audit verify`, `parley audit key`), which may
// run beside `parley serve`: in embedded mode the directory must exist
// and nothing is made or swept in it (objstore.OpenDirToRead).
func OpenStoreToRead(ctx context.Context, cfg Config) (objstore.Store, error) {
	if cfg.ScaleMode() {
		return objstore.OpenS3(ctx, cfg.S3)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("--data is required in embedded mode")
	}
	return objstore.OpenDirToRead(filepath.Join(cfg.DataDir, "objects"))
}

// ReadAuditVerifierKey reads the audit log's verifier key with the master
// key, making nothing (no master key file, no key object): for `parley
// audit key` and `parley audit verify`, which may run beside `parley
// serve`.
func ReadAuditVerifierKey(ctx context.Context, cfg Config) (string, error) {
	if err := cfg.fill(); err != nil {
		return "", err
	}
	mk, err := kms.LoadMasterKey(cfg.MasterKeyFile, false)
	if err != nil {
		return "", err
	}
	store, err := OpenStoreToRead(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("object store: %w", err)
	}
	seed, err := kms.LoadKey(ctx, store, mk, auditSigningKeyObject, auditSigningKeyLabel)
	if errors.Is(err, objstore.ErrNotFound) {
		return "", fmt.Errorf("no audit signing key in this store (%s): is it the right data directory or bucket?", auditSigningKeyObject)
	}
	if err != nil {
		return "", err
	}
	signer, err := audit.NewSigner(cfg.AuditName, ed25519.NewKeyFromSeed(seed))
	clear(seed)
	if err != nil {
		return "", err
	}
	return signer.VerifierKey(), nil
}

// Open assembles a node. In embedded mode it first takes the data
// directory's lock: a serving node (its messaging journal, held until
// Close) or a command's (LockDataDir); either fails with ErrDataDirInUse
// while the other holds it, before it writes anything in the store
// (a serving node has only opened it: made its directories if missing
// and swept temp files a crash left over an hour before).
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	var releaseDir func()
	if cfg.Command && !cfg.ScaleMode() {
		if releaseDir, err = LockDataDir(cfg); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				releaseDir()
			}
		}()
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	if cfg.WrapStore != nil {
		store = cfg.WrapStore(store)
	}
	msgLog := messaging.NewLog(store)
	if !cfg.ScaleMode() && !cfg.Command {
		// One serving process owns the data directory: its journal is an
		// append-only file log there, one fdatasync per group commit, and
		// its lock keeps commands that write (LockDataDir) and other
		// serving processes off the directory.
		if msgLog, err = messaging.NewLocalLog(store, journalDir(cfg)); err != nil {
			if errors.Is(err, messaging.ErrJournalInUse) {
				return nil, fmt.Errorf("data directory %s is %w (another parley serve, or a parley admin command writing to it): start serve once that has finished", cfg.DataDir, ErrDataDirInUse)
			}
			return nil, err
		}
		defer func() {
			if err != nil {
				msgLog.Close()
			}
		}()
	}
	mk, err := kms.LoadMasterKey(cfg.MasterKeyFile, !cfg.ScaleMode())
	if err != nil {
		return nil, err
	}
	recordsKey, err := kms.LoadOrCreateKey(ctx, store, mk, recordsKeyObject, recordsKeyLabel)
	if err != nil {
		return nil, err
	}
	meta, err := metastore.New(store, recordsKey)
	if err != nil {
		return nil, err
	}
	seed, err := kms.LoadOrCreateKey(ctx, store, mk, auditSigningKeyObject, auditSigningKeyLabel)
	if err != nil {
		return nil, err
	}
	signer, err := audit.NewSigner(cfg.AuditName, ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	pol, err := policy.New()
	if err != nil {
		return nil, err
	}
	// The node key authenticates what nodes send each other: through
	// Redis (the broker) and the forward protocol on it (messaging).
	nodeKey, err := kms.LoadOrCreateKey(ctx, store, mk, kms.NodeKeyObject, kms.NodeKeyLabel)
	if err != nil {
		return nil, err
	}
	n := &Node{Config: cfg, Store: store, Meta: meta, Audit: log, Policy: pol, vkey: signer.VerifierKey()}
	var limiter ratelimit.Limiter = ratelimit.NewMemory()
	n.broker = messaging.NewMemory()
	var redisBroker *messaging.Redis
	if cfg.RedisURL != "" {
		opts, err := parseRedisURL(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		n.redis = redis.NewClient(opts)
		limiter = ratelimit.NewRedis(n.redis)
		if redisBroker, err = messaging.NewRedis(n.redis, nodeKey); err != nil {
			n.redis.Close()
			return nil, err
		}
		n.broker = redisBroker
	}
	n.Accounts = account.NewService(meta, limiter)
	if cfg.SessionIdle > 0 {
		n.Accounts.SessionTTL = cfg.SessionIdle
	}
	if cfg.SessionMaxAge > 0 {
		n.Accounts.SessionMaxAge = cfg.SessionMaxAge
	}
	n.Cases = cases.NewService(meta, n.Accounts, pol, log)
	n.Cases.Log = cfg.Log
	if cfg.Clock != nil {
		n.Accounts.SetClock(cfg.Clock)
		n.Cases.SetClock(cfg.Clock)
	}
	if cfg.ReassignmentNotice > 0 {
		n.Cases.ReassignmentNotice = cfg.ReassignmentNotice
	}
	n.Cases.DefaultTerms = cfg.DefaultTerms
	n.journal, n.releaseDir = msgLog, releaseDir
	n.Messages = messaging.NewService(msgLog, n.broker, messaging.Options{Logger: cfg.Log, NodeKey: nodeKey, Passive: cfg.Command})
	defer func() {
		if err != nil {
			n.Messages.Close()
		}
	}()
	n.Rooms = caucus.NewService(n.Cases, pol, n.Messages, n.broker, log)
	n.Cases.OnMembership = n.Rooms.MembershipChanged
	n.Cases.OnDisposal = n.Rooms.DisposalBegun
	if n.Vault, err = vault.New(vault.Config{Meta: meta, Cases: n.Cases, MasterKey: mk, Policy: pol, Audit: log, MaxSize: cfg.MaxDocumentSize, Log: cfg.Log, Limiter: limiter}); err != nil {
		return nil, err
	}
	if n.KeyDir, err = keydir.Open(ctx, keydir.Config{Store: store, Meta: meta, MasterKey: mk, Cases: n.Cases, Caucus: n.Rooms, Policy: pol, Audit: log, Log: cfg.Log}); err != nil {
		return nil, err
	}
	if n.Retention, err = retention.New(retention.Config{Meta: meta, Cases: n.Cases, Accounts: n.Accounts, Vault: n.Vault, Policy: pol, Audit: log, Signer: signer, Log: cfg.Log,
		Carries: n.KeyDir}); err != nil {
		return nil, err
	}
	n.Cases.Devices = n.KeyDir
	n.Cases.Membership = n.KeyDir
	if n.Agreements, err = agreement.New(agreement.Config{Meta: meta, Cases: n.Cases, Docs: agreement.VaultDocs{Vault: n.Vault},
		Devices: n.KeyDir, Log: n.KeyDir, Policy: pol, Audit: log}); err != nil {
		return nil, err
	}
	oc := mail.Config{Meta: meta, Log: cfg.Log, Poll: cfg.MailPoll, Now: cfg.MailClock}
	if cfg.SMTPURL != "" {
		if oc.Transport, err = mail.NewSMTP(mail.SMTPConfig{URL: cfg.SMTPURL, From: cfg.MailFrom}); err != nil {
			return nil, err
		}
	} else if err := mail.CheckAddress("--mail-from", cfg.MailFrom); err != nil {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	// The outbox asks the schedule, before sending a session's reminder or
	// update, whether it is still current; the sender loop starts below,
	// after n.Schedule is set.
	// Records staff's notice of what falls due is retention's to judge: its
	// recipient must still be records staff (retention.NoticeCurrent).
	oc.Current = func(ctx context.Context, m *mail.Message) (bool, error) {
		if m.Kind == mail.KindDueNotice {
			return n.Retention.NoticeCurrent(ctx, m)
		}
		return n.Schedule.Current(ctx, m)
	}
	n.Outbox = mail.New(oc)
	n.Schedule = schedule.New(schedule.Config{Meta: meta, Cases: n.Cases, Accounts: n.Accounts, Policy: pol, Audit: log,
		Outbox: n.Outbox, From: cfg.MailFrom, JoinURL: strings.TrimRight(cfg.PublicURL, "/") + "/app", Reminders: cfg.Reminders, Now: cfg.MailClock, Log: cfg.Log})
	// Closing a case cancels its sessions still to come, and tells
	// everyone invited.
	n.Cases.OnClosed = n.Schedule.CaseClosed
	n.Floor = floor.New(floor.Config{Meta: meta, Cases: n.Cases, Policy: pol, Audit: log, Broker: n.broker, Limiter: limiter, Now: cfg.Clock})
	n.API = web.New(web.Deps{
		Schedule: n.Schedule, Caseload: &caseload.Service{Cases: n.Cases, Schedule: n.Schedule, Policy: pol, Audit: log},
		Messaging: n.Messages, Caucus: n.Rooms, Vault: n.Vault, KeyDir: n.KeyDir, Retention: n.Retention,
		Accounts: n.Accounts, Cases: n.Cases, Audit: log, AuditVerifierKey: signer.VerifierKey(), Policy: pol,
		Ready: n.Ready, Log: cfg.Log, PublicURL: cfg.PublicURL, TrustForwardedFor: cfg.TrustForwardedFor,
		WebSocketQueue: cfg.WebSocketQueue, SocketsPerSession: cfg.WebSocketsPerSession, SocketsPerAccount: cfg.WebSocketsPerAccount, BodyTimeout: cfg.BodyTimeout, UploadIdleTimeout: cfg.UploadIdleTimeout, Agreements: n.Agreements, Floor: n.Floor,
		// Embedded mode's data directory belongs to one process: its
		// worker may index the seats and write the marker; in scale mode
		// the operator does (`parley admin seat-index`), once every node
		// runs this release.
		SeatIndexBackfill: !cfg.ScaleMode(),
	})
	if redisBroker != nil {
		n.API.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_broker_refused_total",
			Help: "Payloads read from Redis that did not carry this deployment's authentication, and were dropped.",
		}, func() float64 { return float64(redisBroker.Refused()) }))
	}
	if cfg.Command {
		// A CLI command's node sends no mail: it may have no transport (a
		// development outbox would record the deployment's due mail as
		// held), and the serving nodes' senders deliver what it enqueues.
		return n, nil
	}
	mailCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	n.stopMail, n.mailDone, n.sweepDone, n.noticeDone = stop, make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(n.mailDone)
		n.Outbox.Run(mailCtx)
	}()
	// The sweep appends the stale pending audit events of cases no change
	// touches (cases/outbox.go). A CLI command's node runs none.
	go func() {
		defer close(n.sweepDone)
		n.Cases.RunSweep(mailCtx)
	}()
	// Records staff's daily notice of what falls due: every serving node
	// runs one; the day's record and the messages' ids (retention/notice.go)
	// make it one message a day per recipient however many nodes run.
	// With --due-notice-days 0 it makes none (Off) and its passes only
	// collect what notices left while it was on.
	go func() {
		defer close(n.noticeDone)
		n.Retention.RunNotices(mailCtx, retention.Notices{Outbox: n.Outbox, Days: cfg.DueNoticeDays, Off: cfg.DueNoticeDays == 0,
			URL: strings.TrimRight(cfg.PublicURL, "/") + "/app"})
	}()
	return n, nil
}

// Ready reports whether the node's backing services answer.
func (n *Node) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := n.Store.Ping(ctx); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	if n.redis != nil {
		if err := n.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	return nil
}

// Handler is the node's HTTP handler.
func (n *Node) Handler() http.Handler { return n.API.Handler() }

// Close releases the node's connections.
func (n *Node) Close() error {
	if n.stopMail != nil {
		n.stopMail()
		<-n.mailDone
		<-n.sweepDone
		<-n.noticeDone
	}
	n.API.CloseSockets()
	// The counts of refusals not audited in full (audit.DenialLimit),
	// best effort: a node killed before this loses them.
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = n.Audit.Close(actx) // a count it cannot append is logged (WARN)
	cancel()
	n.Messages.Close()
	n.journal.Close()
	if n.releaseDir != nil {
		n.releaseDir()
	}
	n.broker.Close()
	if n.redis != nil {
		return n.redis.Close()
	}
	return nil
}

// ServeMetrics serves the node's Prometheus metrics (and nothing else) on
// ln until ctx is done.
func (n *Node) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.API.MetricsHandler())
	return serveUntil(ctx, ln, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
}

// Serve runs the HTTP server on ln until ctx is done, then shuts down
// gracefully (in-flight requests get up to 10 s).
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	srv.RegisterOnShutdown(n.API.CloseSockets)
	return serveUntil(ctx, ln, srv)
}

// serveUntil runs srv on ln until ctx is done, then shuts it down
// gracefully (in-flight requests get up to 10 s).
func serveUntil(ctx context.Context, ln net.Listener, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(web.ProblemListener(ln)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseRedisURL is redis.ParseURL with errors that never carry the URL's
// password: url.Parse's error quotes the whole URL (`parse
// "redis://:s3cr%t@redis:6379/0": invalid URL escape "%t"`), which would
// reach stderr and the logs. A URL that does not parse gets a sentence of
// our own; go-redis's other errors have the password, in either spelling,
// cut out.
func parseRedisURL(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err == nil {
		return opts, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, errors.New("--redis-url: not a valid URL: want redis://[user:password@]host:port[/db] or rediss://…, with any reserved character in the password percent-encoded (%25 for %)")
	}
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "REDACTED")
		}
		if _, enc, ok := strings.Cut(u.User.String(), ":"); ok && enc != "" {
			msg = strings.ReplaceAll(msg, enc, "REDACTED")
		}
	}
	return nil, fmt.Errorf("--redis-url: %s", msg)
}
