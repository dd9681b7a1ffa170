package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

func init() {
	register("serve", "serve [--addr 127.0.0.1:8080] [--data DIR | --s3-endpoint HOST:PORT --s3-bucket B --s3-access-key K --s3-secret-key-file F --master-key-file F] [--redis-url URL] [--public-url URL] [--metrics-addr 127.0.0.1:9464|off] [--smtp-url URL --mail-from ADDR] [--reminders 48h,2h] [--due-notice-days 14] [--demo]", serve)
}

// nodeFlags declares the flags that select and open a node's storage; verbs
// that work on the store directly (admin, audit) share them with serve.
func nodeFlags(fs *flag.FlagSet) *server.Config {
	cfg := &server.Config{}
	fs.StringVar(&cfg.DataDir, "data", "parley-data", "embedded mode: directory for the local object store and master key")
	fs.StringVar(&cfg.S3.Endpoint, "s3-endpoint", "", "scale mode: S3/MinIO endpoint host:port")
	fs.StringVar(&cfg.S3.Bucket, "s3-bucket", "parley", "S3 bucket (made with object locking if missing)")
	fs.StringVar(&cfg.S3.AccessKey, "s3-access-key", "", "S3 access key")
	fs.StringVar(&cfg.S3.SecretKey, "s3-secret-key", "", "S3 secret key (prefer --s3-secret-key-file)")
	fs.StringVar(&cfg.S3.Region, "s3-region", "", "S3 region")
	fs.BoolVar(&cfg.S3.Insecure, "s3-insecure", false, "talk to S3 over plain HTTP (loopback and tests only)")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "scale mode: Redis URL (redis://host:port/0)")
	fs.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "master key file (embedded default: DATA/master.key, created 0600)")
	fs.StringVar(&cfg.AuditName, "audit-name", "parley/audit", "name of the audit log in its signed checkpoints")
	fs.Func("s3-secret-key-file", "file holding the S3 secret key", func(path string) error {
		b, err := readInput(path, maxSecretFile, "the S3 secret key")
		if err != nil {
			return err
		}
		cfg.S3.SecretKey = strings.TrimSpace(string(b))
		return nil
	})
	return cfg
}

func serve(ctx context.Context, args []string) error {
	fs := newFlags("serve")
	cfg := nodeFlags(fs)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "URL users reach this deployment at (default http://ADDR)")
	fs.BoolVar(&cfg.TrustForwardedFor, "trust-forwarded-for", false, "take client addresses from X-Forwarded-For (behind a load balancer only)")
	fs.Int64Var(&cfg.MaxDocumentSize, "max-document-size", 2<<30, "largest document version accepted, in bytes")
	fs.IntVar(&cfg.WebSocketQueue, "ws-send-queue", web.DefaultSendQueue, "frames that may wait for one slow WebSocket client before it is closed with 4008")
	fs.IntVar(&cfg.WebSocketsPerSession, "ws-per-session", web.DefaultSocketsPerSession, "case WebSockets one sign-in (a browser or device) may hold open on this node; past it the handshake is refused (429, or close 4029 to a browser)")
	fs.IntVar(&cfg.WebSocketsPerAccount, "ws-per-account", web.DefaultSocketsPerAccount, "case WebSockets one account (all its sign-ins) may hold open on this node; past it the handshake is refused")
	fs.DurationVar(&cfg.ReassignmentNotice, "reassignment-notice", cases.DefaultReassignmentNotice, "how long a mediator the program assigns to an orphaned case waits, after a second person approves, before reading it (every participant is told meanwhile)")
	fs.DurationVar(&cfg.SessionIdle, "session-idle", 7*24*time.Hour, "a sign-in session unused for this long ends (each use starts the window again)")
	fs.DurationVar(&cfg.SessionMaxAge, "session-max-age", 30*24*time.Hour, "a sign-in session ends this long after sign-in, however much it is used")
	fs.Func("terms-file", "a text file with the program's default terms for every case (agreement to mediate, confidentiality, ground rules; at most 20000 characters); mediators may edit a case's copy. Default: the built-in text", func(path string) error {
		b, err := readInput(path, maxTermsFile, "the terms")
		if err != nil {
			return err
		}
		cfg.DefaultTerms = strings.TrimSpace(string(b))
		if cfg.DefaultTerms == "" || len([]rune(cfg.DefaultTerms)) > cases.MaxTermsLen {
			return fmt.Errorf("%s: between 1 and %d characters of text", path, cases.MaxTermsLen)
		}
		return nil
	})
	fs.StringVar(&cfg.SMTPURL, "smtp-url", "", "mail server: smtp://[user:pass@]host[:587] (STARTTLS) or smtps://…[:465] (TLS); prefer PARLEY_SMTP_URL for the password. Empty: mail is kept in a development outbox shown to mediators, never sent")
	fs.StringVar(&cfg.MailFrom, "mail-from", "", "sender address of the server's mail (default sessions@ the public URL's host)")
	fs.Func("reminders", "how long before a session reminders are mailed, e.g. 48h,2h (default 48h,2h; \"none\" for none)", func(v string) error {
		cfg.Reminders = []time.Duration{}
		if v == "none" {
			return nil
		}
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d < time.Minute || d > 30*24*time.Hour {
				return fmt.Errorf("%q: a duration between 1m and 720h, such as 48h", part)
			}
			cfg.Reminders = append(cfg.Reminders, d)
		}
		return nil
	})
	fs.IntVar(&cfg.DueNoticeDays, "due-notice-days", retention.DefaultNoticeDays, fmt.Sprintf("records staff are mailed, at most once a day, what falls due for disposal in this many days (and what is already due): case references, classes and counts; 1 to %d, 0 for no notice", retention.MaxDueDays))
	demo := fs.Bool("demo", false, "seed a demo case and print its sign-in and invite links")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	debugAddr := fs.String("debug-addr", "", "serve Go's pprof profiles on this (loopback) address")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "serve Prometheus metrics at /metrics on this address, apart from the users' listener; \"off\" to disable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usagef("--log-level: %v", err)
	}
	if *debugAddr != "" {
		addr, ok := loopbackAddr(*debugAddr)
		if !ok {
			return usagef("--debug-addr %s: the profiles and /debug/parley/ have no authentication, so they are served on a loopback address only (such as 127.0.0.1:6060; reach it through an SSH tunnel or kubectl port-forward)", *debugAddr)
		}
		*debugAddr = addr
	}
	cfg.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	node, err := server.Open(ctx, *cfg)
	if err != nil {
		return err
	}
	defer node.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if *debugAddr != "" {
		go servePprof(*debugAddr)
	}
	if *metricsAddr != "" && *metricsAddr != "off" {
		// Metrics are not worth refusing service for: a listener that
		// cannot bind is logged and the node serves without it.
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			cfg.Log.Error("metrics listener", slog.String("addr", *metricsAddr), slog.String("error", err.Error()))
		} else {
			mctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- node.ServeMetrics(mctx, mln) }()
			defer func() {
				stop()
				if err := <-done; err != nil {
					cfg.Log.Error("metrics listener", slog.String("error", err.Error()))
				}
			}()
			fmt.Fprintf(os.Stderr, "parley: metrics on http://%s/metrics\n", mln.Addr())
		}
	}
	mode := "embedded (data in " + cfg.DataDir + ")"
	if cfg.S3.Endpoint != "" {
		mode = "scale (S3 " + cfg.S3.Endpoint + "/" + cfg.S3.Bucket + ")"
	}
	fmt.Fprintf(os.Stderr, "parley: serving on http://%s — %s\n", ln.Addr(), mode)
	if *demo {
		if err := seedDemo(ctx, node, os.Stdout); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	err = node.Serve(ctx, ln)
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return err
}

// servePprof exposes runtime profiles for diagnosing a node. Bind it to
// loopback: profiles reveal internals (never message content, which the
// server does not have).
func servePprof(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Stage tracing of the messaging path (see messaging.TraceStages):
	// ?trace=on starts it afresh, ?trace=off stops it; the answer is the
	// per-stage latency table so far.
	mux.HandleFunc("/debug/parley/stages", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("trace") {
		case "on":
			messaging.TraceStages(true)
		case "off":
			defer messaging.TraceStages(false)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		messaging.WriteStages(w)
	})
	// The node's memory after a forced collection (bench fanout's idle
	// memory figure reads it before and after adding connections).
	mux.HandleFunc("/debug/parley/memory", serveNodeMemory)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.ListenAndServe()
}

// loopbackAddr reports whether addr (host:port) listens on this machine
// only, and the address to listen on: a loopback IP as given, or
// localhost as 127.0.0.1 (the name is not looked up: a hosts file could
// map it to an address other machines reach). ":6060" and 0.0.0.0 listen
// on every interface and are not.
func loopbackAddr(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	if strings.EqualFold(host, "localhost") {
		return net.JoinHostPort("127.0.0.1", port), true
	}
	ip := net.ParseIP(host)
	return addr, ip != nil && ip.IsLoopback()
}
