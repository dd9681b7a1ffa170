package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/retention"
)

// Config is a node's configuration. cmd/parley fills it from flags and
// PARLEY_* environment variables.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string
	// DataDir holds the embedded object store (and, by default, the master
	// key file), and the node's messaging journal (DataDir/journal, whose
	// lock one process holds: a serving node, or a command's node, which
	// writes too; see LockDataDir). Used when S3.Endpoint is empty.
	DataDir string
	// Command: the node is opened for one CLI command. In embedded mode it
	// holds the data directory's lock until Close (LockDataDir), so it
	// does not open while `parley serve` runs on the directory, nor serve
	// while it is open; in scale mode it may run beside the serving nodes.
	// It keeps no messaging journal (it sends no messages), runs no mail
	// sender (what it enqueues is sent by the serving nodes) and recovers
	// no other node's messaging journal (messaging.Options.Passive).
	Command bool
	// S3 selects scale mode when Endpoint is set.
	S3 objstore.S3Config
	// RedisURL, when set, shares rate limits (and, with the rooms issue,
	// fan-out and presence) between nodes.
	RedisURL string
	// MasterKeyFile is the root key. In embedded mode it defaults to
	// DataDir/master.key and is created on first run; in scale mode it must
	// exist (every node needs the same key).
	MasterKeyFile string
	// PublicURL is where users reach the deployment (invite links).
	PublicURL string
	// AuditName names the audit log in its signed checkpoints.
	AuditName string
	// TrustForwardedFor: take the client address from X-Forwarded-For.
	TrustForwardedFor bool
	Log               *slog.Logger

	// MaxDocumentSize limits one uploaded document version, in bytes
	// (0: the vault's default, 2 GiB).
	MaxDocumentSize int64
	// WebSocketQueue is how many frames may wait for one slow WebSocket
	// client before it is closed with 4008 (0: web.DefaultSendQueue).
	WebSocketQueue int
	// WebSocketsPerSession and WebSocketsPerAccount bound the case
	// WebSockets one session (a browser or device) and one account may
	// hold open on a node; past them the handshake is refused (0:
	// web.DefaultSocketsPerSession, 8; web.DefaultSocketsPerAccount, 16).
	WebSocketsPerSession, WebSocketsPerAccount int
	// BodyTimeout bounds how long a JSON request body may take to arrive
	// (0: web.DefaultBodyTimeout, 30 s); uploads and WebSockets are not
	// bounded by it.
	BodyTimeout time.Duration
	// UploadIdleTimeout ends a document upload whose body sends less
	// than 64 KiB in this long of waiting, or averages less than 1 MiB per
	// this long after the first (0: web.DefaultUploadIdleTimeout, 60 s).
	UploadIdleTimeout time.Duration
	// ReassignmentNotice is how long a mediator the program assigns to an
	// orphaned case waits, after the second person's approval, before
	// reading anything (0: cases.DefaultReassignmentNotice, 72 h).
	ReassignmentNotice time.Duration
	// SessionIdle ends a sign-in session unused this long; each use
	// starts the window again (0: 7 days). SessionMaxAge ends it this long
	// after sign-in however much it is used (0: 30 days).
	SessionIdle   time.Duration
	SessionMaxAge time.Duration
	// Clock, if set, is the clock of accounts (sessions) and cases
	// (invites, re-entry links); tests move it to expire them (nil:
	// time.Now).
	Clock func() time.Time
	// WrapStore, if set, wraps the object store the node uses (tests make
	// chosen writes fail with it; nil: the store as opened).
	WrapStore func(objstore.Store) objstore.Store
	// DefaultTerms is the program's default terms for every case (empty:
	// cases.BuiltinTerms); --terms-file.
	DefaultTerms string

	// SMTPURL is the mail server (smtp:// with STARTTLS, smtps:// with
	// TLS, user:pass@ for authentication). Empty: a development outbox —
	// mail is kept and shown to the case's mediators, never sent.
	SMTPURL string
	// MailFrom is the sender of every message and the ORGANIZER of every
	// invitation (default sessions@ the public URL's host).
	MailFrom string
	// Reminders are how long before a session reminders go out (nil: 48
	// and 2 hours).
	Reminders []time.Duration
	// DueNoticeDays is how far ahead records staff's daily mail notice of
	// what falls due looks (retention.Notices; records already due are
	// always counted), 1 to retention.MaxDueDays; 0: no notice is sent,
	// though the node's notice passes still collect what earlier notices
	// left (retention.Notices.Off) (`parley serve --due-notice-days`,
	// default 14).
	DueNoticeDays int
	// MailPoll is how often the sender loop looks for due mail (0: 5 s).
	MailPoll time.Duration
	// MailClock is the clock of the outbox and the schedule (sessions,
	// reminders, check-ins); tests move it to make mail due (nil: time.Now).
	MailClock func() time.Time
}

// ScaleMode reports whether the node uses S3 rather than a local directory.
func (c Config) ScaleMode() bool { return c.S3.Endpoint != "" }

func (c *Config) fill() error {
	if c.ScaleMode() {
		if c.S3.Bucket == "" {
			return errors.New("--s3-bucket is required with --s3-endpoint")
		}
		if c.MasterKeyFile == "" {
			return errors.New("--master-key-file is required with --s3-endpoint (every node needs the same key; make one with `parley admin gen-master-key`)")
		}
	} else {
		if c.DataDir == "" {
			return errors.New("--data is required in embedded mode")
		}
		if c.MasterKeyFile == "" {
			c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
		}
	}
	if c.ReassignmentNotice < 0 {
		return errors.New("--reassignment-notice must not be negative")
	}
	if c.SessionIdle < 0 || c.SessionMaxAge < 0 {
		return errors.New("--session-idle and --session-max-age must not be negative")
	}
	if c.SessionIdle > 0 && c.SessionMaxAge > 0 && c.SessionIdle > c.SessionMaxAge {
		return errors.New("--session-idle must not be longer than --session-max-age")
	}
	if c.DueNoticeDays < 0 || c.DueNoticeDays > retention.MaxDueDays {
		return fmt.Errorf("--due-notice-days: from 0 (no notice) to %d days ahead, not %d", retention.MaxDueDays, c.DueNoticeDays)
	}
	if c.AuditName == "" {
		c.AuditName = "parley/audit"
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.MailFrom == "" {
		host := "localhost"
		if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.MailFrom = "sessions@" + host
	}
	return nil
}
