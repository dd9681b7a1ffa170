package mail

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// State is where a message is in its life.
type State string

// The states. Pending and Sending are live; the others are final except
// that a mediator may ask to resend a Failed or Uncertain message (which
// makes a new message).
const (
	Pending   State = "pending"   // waiting for its time or its next attempt
	Sending   State = "sending"   // claimed by a node that is talking to the server
	Sent      State = "sent"      // the SMTP server accepted it
	Held      State = "held"      // development outbox: not sent, shown in the browser
	Failed    State = "failed"    // refused for good, or out of attempts
	Uncertain State = "uncertain" // the sender stopped mid-send: may not have been delivered
	Cancelled State = "cancelled" // no longer wanted (a reminder of a moved session; stale when due)
)

// Kind says what a message is for.
type Kind string

// The kinds of mail.
const (
	KindInvitation   Kind = "invitation"
	KindUpdate       Kind = "update"
	KindCancellation Kind = "cancellation"
	KindReminder     Kind = "reminder"
	KindSurvey       Kind = "survey"
	KindFollowUp     Kind = "follow-up"
	KindJoin         Kind = "join" // an invitation link to join a case
	// KindDueNotice: records staff's daily notice of what falls due for
	// disposal (package retention). It belongs to no case: its messages
	// are kept under the outbox name NoticeOutbox.
	KindDueNotice Kind = "due-notice"
	// KindSignIn: an answer to "Email me a link to sign in" (a sign-in
	// link, or word that the address is shared), and KindEmailConfirm: a
	// link confirming a participant's address for sign-in links. Their
	// bodies are never shown in a case's mail list, development included
	// (SecretBody): the links are the participant's own way in. As any
	// message's, the body stays in the sealed outbox record until the
	// message is final (finish), and in development, where mail is held
	// and not sent, it stays there: only someone reading the store
	// itself, with its records key, sees it.
	KindSignIn       Kind = "sign-in"
	KindEmailConfirm Kind = "email-confirmation"
)

// FollowUpIDPrefix begins the id of every follow-up check-in's message
// (package schedule: a resend's id extends its original's). Package
// retention disposes of those messages with the case's follow-ups (the
// survey-responses class), not with the rest of its outbox
// (invites-sessions): a check-in's mail waits for its day, up to two
// years after closure.
const FollowUpIDPrefix = "fu-"

// CarriesLink reports whether a kind's body holds a bearer link: a join or
// re-entry token, a survey or a check-in token. Such a body is kept only
// until the message is final (see Message.BodyCleared).
func (k Kind) CarriesLink() bool {
	return k == KindJoin || k == KindSurvey || k == KindFollowUp || k == KindSignIn || k == KindEmailConfirm
}

// SecretBody reports whether a message of this kind is for its recipient
// only: its body is never shown in a case's mail list (development
// included), since it carries a participant's own sign-in or
// confirmation link.
func (k Kind) SecretBody() bool { return k == KindSignIn || k == KindEmailConfirm }

// Limits on what a message may hold.
const (
	MaxSubjectLen    = 200
	MaxTextLen       = 8000
	MaxAttachmentLen = 64 << 10
	maxIDLen         = 160
)

// Attachment is a file sent with a message (the .ics of an invitation).
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
}

// Message is one outgoing mail and its delivery record.
type Message struct {
	ID         string      `json:"id"`
	CaseID     string      `json:"caseId"`
	Kind       Kind        `json:"kind"`
	To         string      `json:"to"`
	ToAccount  string      `json:"toAccount,omitempty"`
	Subject    string      `json:"subject"`
	Text       string      `json:"text"`
	Attachment *Attachment `json:"attachment,omitempty"`
	// Ref names what the message is about (a session id), so a caller can
	// cancel the pending ones that a change made obsolete.
	Ref       string    `json:"ref,omitempty"`
	NotBefore time.Time `json:"notBefore"`
	Created   time.Time `json:"created"`

	State    State `json:"state"`
	Attempts int   `json:"attempts"`
	// ChecksFailed counts the send-time checks (Config.Current) in a row
	// that could not tell whether the message is still wanted. It is kept
	// apart from Attempts, which counts only the times the message was
	// claimed to be sent, and is reset by a check that answers.
	ChecksFailed int        `json:"checksFailed,omitempty"`
	NextAttempt  time.Time  `json:"nextAttempt"`
	ClaimedBy    string     `json:"claimedBy,omitempty"`
	Claimed      *time.Time `json:"claimed,omitempty"`
	Done         *time.Time `json:"done,omitempty"`
	LastError    string     `json:"lastError,omitempty"`
	ResendOf     string     `json:"resendOf,omitempty"`
	// MessageID is the local part of the Message-ID header the message is
	// sent with: 128 random bits chosen when it is queued (Enqueue) and
	// kept by its retries (so a copy sent twice after an uncertain attempt
	// is recognisably one message), naming nothing: a mail server is
	// outside the confidentiality boundary, and the outbox id names the
	// case, the session or the account. A resend is a new message with a
	// new one (a mail provider drops a copy whose Message-ID it has seen).
	MessageID string `json:"messageId,omitempty"`
	// BodyCleared: the message is final and its body (Text, the
	// attachment's data) was cleared from the record; what is left is
	// who, what subject, when and how it ended. See finish.
	BodyCleared bool `json:"bodyCleared,omitempty"`
}

// finish is called wherever a message becomes final, inside the update
// that records it: the body is cleared, since nothing reads a final
// message's body and a link in it is a bearer token, which Parley keeps
// at rest only as a keyed hash. Two keep it:
//   - Held (the development outbox: no transport, nothing leaves the
//     machine; `make run` shows the body, with its link, to the developer);
//   - Failed or Uncertain without a link (Kind.CarriesLink), which a
//     mediator may resend: the resend is a new message with this body.
//
// Records staff's notice of what falls due (KindDueNotice) keeps neither:
// no one reads or resends it (it belongs to no case's mail list, and the
// next day's notice says what is still due), so its case references and
// counts are cleared however it ended.
//
// The record's older stored versions, which still hold the body, are
// deleted after this update is written (retire), never the newest.
func finish(m *Message) {
	switch {
	case m.Kind == KindDueNotice:
	case m.State == Held:
		return
	case (m.State == Failed || m.State == Uncertain) && !m.Kind.CarriesLink():
		return
	}
	m.Text, m.BodyCleared = "", true
	if m.Attachment != nil {
		m.Attachment.Data = nil
	}
}

// Transport hands one message to a mail server.
type Transport interface {
	// Send delivers m. An error wrapped with ErrNotDelivered (retry later)
	// or ErrRefused (do not retry) says the message certainly did not go
	// out; any other error is ambiguous and the message is not retried.
	Send(ctx context.Context, m *Message) error
}

var (
	// ErrNotDelivered: certainly not delivered, worth another attempt.
	ErrNotDelivered = errors.New("not delivered")
	// ErrRefused: certainly not delivered and never will be (the server
	// refused the recipient or the message for good).
	ErrRefused = errors.New("refused by the mail server")
	// ErrUnreachable, wrapped with ErrNotDelivered: no connection to the
	// mail server could be made.
	ErrUnreachable = errors.New("the mail server could not be reached")
)

// The reasons a message's LastError gives for a failed send: short, in
// plain words, for the mediators who read the case's mail (never the
// transport's error, which names hosts and addresses; the server log has
// that). retry says whether Parley will try again.
func sendReason(err error, retry bool) string {
	const again = " Parley will try again."
	const stopped = " Parley stopped trying. Resend the message once mail works again."
	switch {
	case errors.Is(err, ErrRefused):
		return "The mail server refused the message (check the address); it was not sent."
	case errors.Is(err, ErrUnreachable) && retry:
		return "The mail server could not be reached;" + again
	case errors.Is(err, ErrUnreachable):
		return "The mail server could not be reached;" + stopped
	case errors.Is(err, ErrNotDelivered) && retry:
		return "The mail server did not take the message for now;" + again
	case errors.Is(err, ErrNotDelivered):
		return "The mail server did not take the message;" + stopped
	}
	return "The connection failed while sending; the message may not have been delivered."
}

// Config tunes an Outbox.
type Config struct {
	Meta *metastore.Store
	// Transport sends; nil means a development outbox: messages are kept
	// as Held and shown in the browser, nothing leaves the machine.
	Transport Transport
	// Node names this node in claims (for people reading the record).
	Node string
	// Lease is how long a claim lasts before its message is declared
	// uncertain (default 2 minutes). It must exceed the transport's own
	// timeout, so a live sender always records its outcome first.
	Lease time.Duration
	// Backoff is the first retry delay, doubled on each attempt up to
	// MaxBackoff (defaults 30 s and 1 h), with ±20 % jitter.
	Backoff, MaxBackoff time.Duration
	// MaxAttempts bounds the attempts (default 8).
	MaxAttempts int
	// Poll is how often the sender loop looks for due messages (default 5 s).
	Poll time.Duration
	// Now is the clock (tests drive reminders with their own).
	Now func() time.Time
	Log *slog.Logger
	// OnSendStart, if set, is called after a message is claimed and before
	// it is handed to the transport (the crash tests stop there).
	OnSendStart func(m *Message)
	// OnSent, if set, is called after the transport returned and before
	// the outcome is recorded (the crash tests stop there too).
	OnSent func(m *Message, err error)
	// Current, if set, is asked about each message after it is claimed
	// and before it is handed to the transport. False means the message is
	// no longer wanted (a reminder or update of a session that has since
	// moved again or been cancelled): it is recorded as cancelled and not
	// sent. An error leaves it pending, no send attempt counted, and asks
	// again after a growing delay, as for a failed send (Backoff doubled up
	// to MaxBackoff); after MaxAttempts failed checks in a row the message
	// is recorded as failed ("could not confirm it was still wanted …; not
	// sent"), which a mediator may resend. A check that answers resets the
	// count.
	Current func(ctx context.Context, m *Message) (bool, error)
}

// Outbox stores and sends messages.
type Outbox struct {
	cfg  Config
	wake chan struct{}

	// failing: the final messages whose retire failed in a pass, and
	// when to try again (retryRetire); at most maxFailing of them.
	mu      sync.Mutex
	failing map[string]retireFailure
	// orphans: the due markers whose message this node found missing,
	// each with the newest stored version it listed and when (by this
	// node's clock) it first listed that one (dropOrphan); at most
	// maxFailing of them.
	orphans map[string]orphanSeen
}

type orphanSeen struct {
	version string // the version id and ETag of the newest stored version (a delete marker's too)
	at      time.Time
}

type retireFailure struct {
	n    int
	next time.Time
}

// A final message whose retire keeps failing (its versions cannot be
// deleted: a bucket's default retention, no DeleteObjectVersion
// permission) is tried again after a growing delay, and after
// retireTries failures its due marker is removed (retryRetire).
// The failures are kept in memory, per node, for at most maxFailing
// messages (others are tried at every pass).
const (
	retireTries = 4
	maxFailing  = 1000
)

// New makes an outbox.
func New(cfg Config) *Outbox {
	if cfg.Lease == 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 30 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Node == "" {
		cfg.Node = ids.New("n")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Outbox{cfg: cfg, wake: make(chan struct{}, 1), failing: map[string]retireFailure{}, orphans: map[string]orphanSeen{}}
}

// Development reports whether this is a development outbox (no transport).
func (o *Outbox) Development() bool { return o.cfg.Transport == nil }

// NoticeOutbox is the name, in place of a case id, under which messages
// that belong to no case are kept (outbox/cases/retention-notices/…):
// records staff's notices of what falls due. It is no case id (those are
// "c_…"), so no case's mail list shows them, and disposing of a case
// never reaches them: package retention's notice passes delete them,
// every stored version, once final and a week old (their due markers go,
// every version, when they are final: dropDue).
const NoticeOutbox = "retention-notices"

func msgKey(caseID, id string) string { return "outbox/cases/" + caseID + "/" + id }
func dueKey(caseID, id string) string { return "outbox/due/" + caseID + "/" + id }

type dueMarker struct {
	NotBefore time.Time `json:"notBefore"`
	Created   time.Time `json:"created"`
}

// orphanAge is how long a due marker without its message must have been
// seen, unchanged, by the node tidying it before it is taken for the
// leftover of an interrupted Enqueue and removed (dropOrphan).
const orphanAge = 10 * time.Minute

// CheckHeader refuses a value that would reach a mail header with a line
// break or another control character in it (header injection), or that is
// not valid UTF-8.
func CheckHeader(field, v string) error {
	if !utf8.ValidString(v) {
		return fault.Invalid(field, "not valid text")
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 }) {
		return fault.Invalid(field, "may not contain line breaks or control characters")
	}
	return nil
}

// CheckAddress accepts one bare mail address (no display name).
func CheckAddress(field, addr string) error {
	if err := CheckHeader(field, addr); err != nil {
		return err
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || a.Name != "" || len(addr) > 254 {
		return fault.Invalid(field, "not a single mail address")
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Enqueue stores m for sending at or after m.NotBefore. Enqueuing an id
// that is already in the outbox does nothing (the id is the idempotency
// key), so a caller that retries after an error cannot make a second copy.
func (o *Outbox) Enqueue(ctx context.Context, m Message) error {
	if !validID(m.ID) {
		return fault.Invalid("id", "letters, digits, '-', '_' and '.', at most 160")
	}
	if !validID(m.CaseID) {
		return fault.Invalid("caseId", "not a case id")
	}
	if err := CheckAddress("to", m.To); err != nil {
		return err
	}
	if err := CheckHeader("subject", m.Subject); err != nil {
		return err
	}
	if m.Subject == "" || utf8.RuneCountInString(m.Subject) > MaxSubjectLen {
		return fault.Invalid("subject", fmt.Sprintf("between 1 and %d characters", MaxSubjectLen))
	}
	if !utf8.ValidString(m.Text) || len(m.Text) > MaxTextLen {
		return fault.Invalid("text", fmt.Sprintf("at most %d bytes of text", MaxTextLen))
	}
	if a := m.Attachment; a != nil {
		if err := CheckHeader("attachment.name", a.Name); err != nil {
			return err
		}
		if err := CheckHeader("attachment.contentType", a.ContentType); err != nil {
			return err
		}
		if len(a.Data) > MaxAttachmentLen {
			return fault.Invalid("attachment", fmt.Sprintf("at most %d bytes", MaxAttachmentLen))
		}
	}
	if !validMessageID(m.MessageID) {
		m.MessageID = newMessageID()
	}
	now := o.cfg.Now().UTC()
	m.State, m.Attempts, m.ChecksFailed, m.Created = Pending, 0, 0, now
	m.ClaimedBy, m.Claimed, m.Done, m.LastError, m.BodyCleared = "", nil, nil, "", false
	if m.NotBefore.IsZero() {
		m.NotBefore = now
	}
	m.NextAttempt = m.NotBefore
	// The marker goes first: a marker without its message is skipped (and
	// tidied), while a message without a marker would never be sent. It is
	// a fresh version even when a marker is there already (one left by an
	// earlier try that stopped before its message): a sender tidying that
	// marker as an orphan's waits until it has seen the same newest
	// version for orphanAge and deletes only what it listed (dropOrphan),
	// so this version either restarts that wait or is written after the
	// listing and left live. Either way the message stored next has a
	// live marker.
	mk := dueMarker{NotBefore: m.NotBefore, Created: now}
	if _, err := o.cfg.Meta.Create(ctx, dueKey(m.CaseID, m.ID), mk); errors.Is(err, metastore.ErrExists) {
		err = o.markDue(ctx, m.CaseID, m.ID, mk)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := o.cfg.Meta.Create(ctx, msgKey(m.CaseID, m.ID), m); err != nil && !errors.Is(err, metastore.ErrExists) {
		return err
	}
	o.Wake()
	return nil
}

// markDue writes a message's due marker, a new version (made at mk.Created)
// whether or not there is one. A marker there already keeps its
// NotBefore if that is earlier: a marker saying earlier than the message
// is due costs only a read of the message, one saying later would hold
// it back.
func (o *Outbox) markDue(ctx context.Context, caseID, id string, mk dueMarker) error {
	_, err := metastore.Update(ctx, o.cfg.Meta, dueKey(caseID, id), func(old *dueMarker) error {
		nb := mk.NotBefore
		if old.NotBefore.Before(nb) {
			nb = old.NotBefore
		}
		*old = dueMarker{NotBefore: nb, Created: mk.Created}
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		_, err = o.cfg.Meta.Create(ctx, dueKey(caseID, id), mk)
	}
	if errors.Is(err, metastore.ErrExists) {
		return nil // a fresh version written meanwhile (an Enqueue, or dropOrphan giving a live message its marker back)
	}
	return err
}

// Wake makes the sender loop look for due messages now.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Get reads one message.
func (o *Outbox) Get(ctx context.Context, caseID, id string) (Message, error) {
	if !validID(caseID) || !validID(id) {
		return Message{}, fmt.Errorf("message: %w", fault.ErrNotFound)
	}
	var m Message
	if _, err := o.cfg.Meta.Get(ctx, msgKey(caseID, id), &m); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return Message{}, fmt.Errorf("message: %w", fault.ErrNotFound)
		}
		return Message{}, err
	}
	return m, nil
}

// List returns a case's messages, oldest first. The caller decides access.
func (o *Outbox) List(ctx context.Context, caseID string) ([]Message, error) {
	var out []Message
	err := o.cfg.Meta.List(ctx, "outbox/cases/"+caseID+"/", func(key string) error {
		var m Message
		if _, err := o.cfg.Meta.Get(ctx, key, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	slices.SortStableFunc(out, func(a, b Message) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

var errNotPending = errors.New("message is not pending")

// CancelRef cancels the case's still-pending messages about ref for which
// keep returns false (a moved session's reminders). A message already
// claimed by a sender is left to it.
func (o *Outbox) CancelRef(ctx context.Context, caseID, ref string, keep func(*Message) bool) error {
	return o.CancelRefs(ctx, caseID, map[string]bool{ref: true}, keep)
}

// CancelRefs is CancelRef for every ref in refs at once: the case's
// messages are read once, whatever the number of refs (closing a case
// cancels all its sessions' reminders in one pass).
func (o *Outbox) CancelRefs(ctx context.Context, caseID string, refs map[string]bool, keep func(*Message) bool) error {
	if len(refs) == 0 {
		return nil
	}
	msgs, err := o.List(ctx, caseID)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if !refs[m.Ref] || m.State != Pending || keep(&m) {
			continue
		}
		rec, err := metastore.Update(ctx, o.cfg.Meta, msgKey(caseID, m.ID), func(r *Message) error {
			if r.State != Pending {
				return errNotPending
			}
			now := o.cfg.Now().UTC()
			r.State, r.Done = Cancelled, &now
			finish(r)
			return nil
		})
		if err != nil && !errors.Is(err, errNotPending) {
			return err
		}
		if err == nil {
			o.retire(ctx, &rec) // on failure the sender does it (errFinal)
		}
	}
	return nil
}

// Resend makes a new message with the content of a failed or uncertain
// one (a mediator's decision: the original may have arrived).
func (o *Outbox) Resend(ctx context.Context, caseID, id string) (Message, error) {
	return o.ResendAs(ctx, caseID, id, ResendID(id))
}

// ResendAs is Resend with the new message's id chosen by the caller
// (ResendID), so that it can be named before the message exists (in an
// audit entry appended first).
func (o *Outbox) ResendAs(ctx context.Context, caseID, id, newID string) (Message, error) {
	m, err := o.Get(ctx, caseID, id)
	if err != nil {
		return Message{}, err
	}
	if m.State != Failed && m.State != Uncertain {
		return Message{}, fmt.Errorf("only a failed or uncertain message can be resent (this one is %s): %w", m.State, fault.ErrConflict)
	}
	if m.BodyCleared && m.Kind == KindDueNotice {
		return Message{}, fmt.Errorf("a notice of records due is not kept once it failed; the next day's notice lists what is still due: %w", fault.ErrConflict)
	}
	if m.BodyCleared {
		return Message{}, fmt.Errorf("the link this message carried is not kept once it failed (links are stored only as keyed hashes); send the person a new link instead (a new invitation, or `parley case reentry`): %w", fault.ErrConflict)
	}
	n := m
	n.ID = newID
	n.ResendOf = m.ID
	n.MessageID = "" // a new message: Enqueue chooses it a new Message-ID
	n.NotBefore = time.Time{}
	if err := o.Enqueue(ctx, n); err != nil {
		return Message{}, err
	}
	return o.Get(ctx, caseID, n.ID)
}

// ResendID is a fresh id for a resend of message id.
func ResendID(id string) string {
	base := id
	if i := strings.Index(id, ".r-"); i >= 0 {
		base = id[:i]
	}
	return base + ".r-" + strings.TrimPrefix(ids.New("r"), "r")[:8]
}

// Run is the sender loop: it sends due messages until ctx ends. Its
// caller owns it (server.Node starts one per node and stops it on Close).
// Once a minute it also makes a pass of the sweep of older record
// versions (sweepOlder), resuming where the last one stopped.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(o.cfg.Poll)
	defer t.Stop()
	// The sweep on a goroutine of its own, which Run waits for: a pass
	// (a listing and up to sweepKeys version listings, seconds on S3)
	// must not hold up due mail, sign-in links included.
	var sweep sync.WaitGroup
	defer sweep.Wait()
	sweep.Go(func() { o.runSweep(ctx) })
	for {
		if _, err := o.RunOnce(ctx); err != nil && ctx.Err() == nil {
			o.cfg.Log.WarnContext(ctx, "outbox", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.wake:
		}
	}
}

// runSweep makes a pass of sweepOlder a minute (the first a minute after
// the start), resuming where the last stopped, until ctx ends.
func (o *Outbox) runSweep(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var sweptAfter string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, err := o.sweepOlder(ctx, "outbox/cases/", sweptAfter, sweepKeys)
		if err != nil && ctx.Err() == nil {
			o.cfg.Log.WarnContext(ctx, "outbox", slog.String("error", err.Error()))
		}
		sweptAfter = next // a failed listing: the same place again; a failed record: the next time round
	}
}

// The sweep of older record versions: a pass a minute per node, over at
// most sweepKeys message records.
const (
	sweepEvery = time.Minute
	sweepKeys  = 100
)

var errSweepFull = errors.New("sweep pass full")

// sweepOlder makes one pass of the background sweep over the message
// records under prefix that sort after the key after: at most limit of
// them, in key order. A record whose newest version is final with its
// body cleared has its older versions deleted (dropOlder: the oldest
// first, never the newest). retire does that when a message becomes
// final; the sweep is for those made final by a release that did not
// (their due markers gone, no pass of the sender visits them again). It
// returns the last key it visited, where the next pass resumes, or "" when
// it reached the end (the next pass begins again at the start).
func (o *Outbox) sweepOlder(ctx context.Context, prefix, after string, limit int) (string, error) {
	var keys []string
	err := objstore.ListAfter(ctx, o.cfg.Meta.Objects(), prefix, after, func(i objstore.Info) error {
		keys = append(keys, i.Key)
		if len(keys) >= limit {
			return errSweepFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSweepFull) {
		return after, err
	}
	next := ""
	if errors.Is(err, errSweepFull) {
		next = keys[len(keys)-1]
	}
	var errs []error
	for _, key := range keys {
		vs, err := o.cfg.Meta.Objects().Versions(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) || err == nil && (len(vs) < 2 || vs[0].DeleteMarker) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var m Message
		if _, err := o.cfg.Meta.GetVersion(ctx, key, vs[0].VersionID, &m); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		if !m.BodyCleared {
			continue
		}
		if err := o.dropOlder(ctx, key); err != nil {
			errs = append(errs, fmt.Errorf("older versions of %s: %w", key, err))
		}
	}
	return next, errors.Join(errs...)
}

// RunOnce makes one pass over the due messages: sends those whose time has
// come, and declares uncertain those whose claim outlived its lease. It
// returns how many it finished (sent, held, failed, uncertain, or
// cancelled because Current said they were no longer wanted).
func (o *Outbox) RunOnce(ctx context.Context) (int, error) {
	var keys []string
	if err := o.cfg.Meta.List(ctx, "outbox/due/", func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return 0, err
	}
	// Nodes walk the list from different places, so two nodes rarely
	// contend for the same message first.
	if len(keys) > 1 {
		off := rand.IntN(len(keys))
		keys = append(keys[off:], keys[:off]...)
	}
	done := 0
	for _, key := range keys {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		rest := strings.TrimPrefix(key, "outbox/due/")
		caseID, id, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		// The small marker says when the message is due at the earliest,
		// so one not yet due costs no read of the message itself.
		var mk dueMarker
		if _, err := o.cfg.Meta.Get(ctx, key, &mk); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				o.cfg.Log.WarnContext(ctx, "outbox marker", slog.String("id", id), slog.String("error", err.Error()))
			}
			continue
		}
		if o.cfg.Now().Before(mk.NotBefore) {
			continue
		}
		finished, err := o.process(ctx, caseID, id)
		if err != nil {
			o.cfg.Log.WarnContext(ctx, "outbox message", slog.String("id", id), slog.String("error", err.Error()))
			continue
		}
		if finished {
			done++
		}
	}
	return done, nil
}

var errSkip = errors.New("skip")

// process handles one due message; it reports whether the message reached
// a final state in this call.
func (o *Outbox) process(ctx context.Context, caseID, id string) (bool, error) {
	key := msgKey(caseID, id)
	var claimed Message
	var expire bool
	_, err := metastore.Update(ctx, o.cfg.Meta, key, func(m *Message) error {
		now := o.cfg.Now().UTC()
		expire = false
		claimed = *m
		switch m.State {
		case Pending:
			if now.Before(m.NextAttempt) {
				return errSkip
			}
			m.State, m.ClaimedBy, m.Claimed = Sending, o.cfg.Node, &now
			m.Attempts++
		case Sending:
			if m.Claimed != nil && now.Sub(*m.Claimed) < o.cfg.Lease {
				return errSkip // another sender is at it
			}
			// The sender stopped between claim and outcome: it may have
			// delivered. At most once: never again on our own.
			m.State, m.Done = Uncertain, &now
			m.LastError = "the sending node stopped before recording the outcome; the message may not have been delivered"
			finish(m)
			expire = true
		default:
			return errFinal // claimed: the final record, for retire
		}
		claimed = *m
		return nil
	})
	switch {
	case errors.Is(err, errSkip):
		return false, nil
	case errors.Is(err, errFinal):
		// Final, and its marker still there: the node that made it final
		// stopped before retire was done, or it was cancelled (CancelRef
		// leaves a failed retire to the sender), or retire failed
		// (retryRetire spaces out the tries).
		return false, o.retryRetire(ctx, &claimed)
	case errors.Is(err, metastore.ErrNotFound):
		// A marker without its message: an Enqueue between its writes
		// (leave it), or one that stopped there long ago and was never
		// retried (tidy it). dropOrphan tells them apart.
		return false, o.dropOrphan(ctx, caseID, id)
	case err != nil:
		return false, err
	}
	if expire {
		return true, o.retire(ctx, &claimed)
	}
	if o.cfg.Current != nil {
		if ok, err := o.cfg.Current(ctx, &claimed); err != nil || !ok {
			return o.unclaim(ctx, &claimed, err)
		}
	}
	if o.cfg.OnSendStart != nil {
		o.cfg.OnSendStart(&claimed)
	}
	var sendErr error
	final := Held
	if o.cfg.Transport != nil {
		sendErr = o.cfg.Transport.Send(ctx, &claimed)
		final = Sent
	}
	if o.cfg.OnSent != nil {
		o.cfg.OnSent(&claimed, sendErr)
	}
	if sendErr != nil {
		// The transport's own words (the SMTP step, reply code and
		// enhanced status, or a dial error naming the server) for the
		// operator; the record keeps only sendReason's. Never the
		// recipient's address beside the case id: the SMTP transport's
		// errors name none, and withoutAddress takes it out of any other's.
		o.cfg.Log.WarnContext(ctx, "outbox send failed", slog.String("id", claimed.ID), slog.String("case", claimed.CaseID),
			slog.Int("attempt", claimed.Attempts), slog.String("error", withoutAddress(sendErr.Error(), claimed.To)))
	}
	// Record the outcome. Use a context that outlives a cancelled caller:
	// a delivered message left as Sending would later read as uncertain.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	finished := false
	var next time.Time
	rec, err := metastore.Update(rctx, o.cfg.Meta, key, func(m *Message) error {
		if m.State != Sending || m.ClaimedBy != o.cfg.Node || m.Attempts != claimed.Attempts {
			return errFinal // declared uncertain meanwhile; leave it so
		}
		now := o.cfg.Now().UTC()
		m.ClaimedBy, m.Claimed = "", nil
		m.ChecksFailed = 0 // the check before this send answered
		finished, next = false, time.Time{}
		switch {
		case sendErr == nil:
			m.State, m.Done, m.LastError = final, &now, ""
			finished = true
		case errors.Is(sendErr, ErrRefused):
			m.State, m.Done, m.LastError = Failed, &now, sendReason(sendErr, false)
			finished = true
		case errors.Is(sendErr, ErrNotDelivered) && m.Attempts < o.cfg.MaxAttempts:
			m.State, m.LastError = Pending, sendReason(sendErr, true)
			m.NextAttempt = now.Add(o.backoff(m.Attempts))
			next = m.NextAttempt
		case errors.Is(sendErr, ErrNotDelivered):
			m.State, m.Done, m.LastError = Failed, &now, sendReason(sendErr, false)
			finished = true
		default:
			m.State, m.Done = Uncertain, &now
			m.LastError = sendReason(sendErr, false)
			finished = true
		}
		if finished {
			finish(m)
		}
		return nil
	})
	if errors.Is(err, errFinal) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record outcome of %s: %w", id, err)
	}
	if finished {
		return true, o.retire(rctx, &rec)
	}
	return false, o.later(rctx, caseID, id, next)
}

// retire does what is left to do once a message is final, after the
// write that made it so. A record whose body was cleared (finish) has
// older stored versions that still hold it, the link included: they are
// deleted, the oldest first, never the newest (dropOlder). Then its due
// marker goes (dropDue). A stop in between leaves the live marker, so the
// next pass finds the message final and retires it again (errFinal).
func (o *Outbox) retire(ctx context.Context, m *Message) error {
	if m.BodyCleared {
		if err := o.dropOlder(ctx, msgKey(m.CaseID, m.ID)); err != nil {
			return err
		}
	}
	return o.dropDue(ctx, m.CaseID, m.ID)
}

// retryRetire retires a final message found with its marker still live,
// unless its last tries failed and its next is not yet due. After
// retireTries failures in a row the marker is removed, so no pass comes
// back to it, and this is logged once. The record's older versions, if
// they are what could not be deleted, are left to the sweep (sweepOlder,
// which needs no marker): the marker's own versions are deleted as
// retire would, by version id, those listed only (dropDue), so none is
// left behind a delete marker and a version written since stays live
// (the next pass retires it again). Only if those deletes are refused as
// well (a bucket's default retention) is the marker hidden with a plain
// delete — not when the store did not answer (ErrUnavailable, or ctx
// ended): then the marker stays for a later pass: kept live, it would be read, with its record, at every pass
// for good, and it holds only when the message was due.
func (o *Outbox) retryRetire(ctx context.Context, m *Message) error {
	k := m.CaseID + "/" + m.ID
	now := o.cfg.Now()
	o.mu.Lock()
	f, known := o.failing[k]
	o.mu.Unlock()
	if known && now.Before(f.next) {
		return nil
	}
	err := o.retire(ctx, m)
	if err == nil {
		if known {
			o.mu.Lock()
			delete(o.failing, k)
			o.mu.Unlock()
		}
		return nil
	}
	f.n++
	if f.n < retireTries {
		f.next = now.Add(o.backoff(f.n + 3)) // Backoff·8 (4 min), ·16, ·32, at most MaxBackoff
		o.mu.Lock()
		if !known && len(o.failing) >= maxFailing {
			o.dropStaleFailures(now)
		}
		if known || len(o.failing) < maxFailing {
			o.failing[k] = f
		}
		o.mu.Unlock()
		return err
	}
	o.mu.Lock()
	delete(o.failing, k)
	o.mu.Unlock()
	if derr := o.dropDue(ctx, m.CaseID, m.ID); derr != nil {
		if errors.Is(derr, objstore.ErrUnavailable) || ctx.Err() != nil {
			// Not a refusal: the store did not answer. The marker stays
			// as it is (live, with every version) for a later pass,
			// which counts its tries afresh.
			return errors.Join(err, derr)
		}
		if perr := o.cfg.Meta.Delete(ctx, dueKey(m.CaseID, m.ID)); perr != nil && !errors.Is(perr, metastore.ErrNotFound) {
			return errors.Join(err, derr, perr)
		}
	}
	o.cfg.Log.WarnContext(ctx, "outbox final message: its stored versions could not be deleted; its due marker was removed",
		slog.String("id", m.ID), slog.String("case", m.CaseID), slog.Int("tries", f.n), slog.String("error", err.Error()))
	return nil
}

// dropOlder deletes every stored version of a final message's record but
// the newest. What the record says is its newest version's, and deleting
// only older ones never changes which is newest: a stop part way never
// makes an older version, one not yet sent with its text, current again,
// and a reader or a claimer, which reads the newest, sees the final
// record throughout (one that read an older version before it was made
// final loses its conditional write, reads again and finds it final).
// Nothing writes a final message's record again.
func (o *Outbox) dropOlder(ctx context.Context, key string) error {
	store := o.cfg.Meta.Objects()
	vs, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var older []objstore.Info
	for i := len(vs) - 1; i > 0; i-- {
		older = append(older, vs[i].Info)
	}
	if len(older) == 0 {
		return nil
	}
	return errors.Join(store.DeleteVersions(ctx, older)...)
}

// dropDue deletes a message's due marker, every stored version of it (in
// a versioned store a plain delete would only hide them behind a delete
// marker, and they would stay as long as the outbox), once the message is
// final (retire). The older versions go first and the newest, the live
// marker, last, in calls of their own: a stop in between leaves the live
// marker, which the next pass finds over a final message and drops again
// (errFinal). Nor could an older version made current do harm: a marker
// only says where to look, and a message is sent only by claiming its
// record from Pending, which a final message never is again. A version
// written after the listing (a retry moving the marker on while the
// message was cancelled) is left live and dropped the same way.
func (o *Outbox) dropDue(ctx context.Context, caseID, id string) error {
	vs, err := o.dueVersions(ctx, caseID, id)
	if err != nil {
		return err
	}
	return o.dropVersions(ctx, vs)
}

// dropOrphan tidies the due marker of a message that is missing long
// after the marker was made, as dropDue does, but an Enqueue of the same
// id may be under way (a caller's retry, or records staff's notice, whose
// id is the day's). An Enqueue writes a fresh marker version before it
// creates the message, whether or not a marker is there.
//
// How long is judged by this node's own clock alone, as time passed
// between two of its own looks, never by comparing its clock with a time
// another node wrote (the marker's Created) or the store's: nodes' clocks
// may disagree by more than orphanAge, and a fast one would take a marker
// written a moment ago for an old one. So the marker's versions are
// listed, and the newest (its version id and ETag: any later write makes
// another) is remembered with this node's time the first time it is seen
// (orphans). Only once this node has seen that same newest version for
// orphanAge, the message missing each time, is the marker tidied: any
// Enqueue's fresh version was then written either before the first look,
// orphanAge ago (an Enqueue stopped between its writes), or after the
// listing. The message is looked for again, and only if it is still
// missing are the versions listed deleted, never a later one, which is
// left live. So an Enqueue's message always has a live marker, in every
// interleaving and whenever the Enqueue stops, whatever the nodes'
// clocks say. Should the message be there after the delete all the same,
// a live one gets a marker back (a fresh version). None of this makes a
// message sent twice: a marker never sends by itself. A node that
// restarts, or that remembers maxFailing orphans already, starts its
// wait again; another node may tidy the marker meanwhile.
func (o *Outbox) dropOrphan(ctx context.Context, caseID, id string) error {
	vs, err := o.dueVersions(ctx, caseID, id)
	if err != nil || len(vs) == 0 {
		return err
	}
	k, newest, now := caseID+"/"+id, vs[0].VersionID+" "+vs[0].ETag, o.cfg.Now()
	o.mu.Lock()
	seen, known := o.orphans[k]
	if !known || seen.version != newest {
		if !known && len(o.orphans) >= maxFailing {
			o.dropStaleOrphans(now)
		}
		if known || len(o.orphans) < maxFailing {
			o.orphans[k] = orphanSeen{version: newest, at: now}
		}
	}
	o.mu.Unlock()
	if !known || seen.version != newest || now.Sub(seen.at) < orphanAge {
		return nil
	}
	if _, err := o.cfg.Meta.Stat(ctx, msgKey(caseID, id)); !errors.Is(err, metastore.ErrNotFound) {
		if err == nil {
			o.forgetOrphan(k)
		}
		return err // there now (nil): the next pass sees to it
	}
	if err := o.dropVersions(ctx, vs); err != nil {
		return err
	}
	o.forgetOrphan(k)
	var m Message
	_, err = o.cfg.Meta.Get(ctx, msgKey(caseID, id), &m)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return nil
	case err != nil:
		return err
	case m.State != Pending && m.State != Sending:
		return nil
	}
	_, err = o.cfg.Meta.Create(ctx, dueKey(caseID, id), dueMarker{NotBefore: m.NextAttempt, Created: o.cfg.Now().UTC()})
	if errors.Is(err, metastore.ErrExists) {
		return nil
	}
	return err
}

func (o *Outbox) forgetOrphan(k string) {
	o.mu.Lock()
	delete(o.orphans, k)
	o.mu.Unlock()
}

// dropStaleOrphans forgets, when orphans is full, the markers first seen
// more than twice orphanAge ago: one still an orphan's would have been
// tidied at a pass since (or its delete keeps failing, and its wait
// starts again), so their messages came or their markers went. o.mu is
// held.
func (o *Outbox) dropStaleOrphans(now time.Time) {
	for k, s := range o.orphans {
		if now.Sub(s.at) > 2*orphanAge {
			delete(o.orphans, k)
		}
	}
}

// dueVersions lists a message's due marker's stored versions, newest
// first (none when there are none).
func (o *Outbox) dueVersions(ctx context.Context, caseID, id string) ([]objstore.Version, error) {
	vs, err := o.cfg.Meta.Objects().Versions(ctx, dueKey(caseID, id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	return vs, err
}

// dropVersions deletes a marker's versions vs (newest first, as listed):
// the older ones first, the newest last, in calls of their own.
func (o *Outbox) dropVersions(ctx context.Context, vs []objstore.Version) error {
	if len(vs) == 0 {
		return nil
	}
	store := o.cfg.Meta.Objects()
	older := make([]objstore.Info, 0, len(vs)-1)
	for _, v := range vs[1:] {
		older = append(older, v.Info)
	}
	if len(older) > 0 {
		if err := errors.Join(store.DeleteVersions(ctx, older)...); err != nil {
			return err
		}
	}
	return errors.Join(store.DeleteVersions(ctx, []objstore.Info{vs[0].Info})...)
}

// later moves a message's due marker on to the next attempt, written
// after the message's own record, so the marker never says later than the
// message is due; a marker left earlier (a crash between the two) only
// costs a read of the message. A marker gone meanwhile (the message was
// cancelled) stays gone.
func (o *Outbox) later(ctx context.Context, caseID, id string, next time.Time) error {
	_, err := metastore.Update(ctx, o.cfg.Meta, dueKey(caseID, id), func(mk *dueMarker) error {
		if !mk.NotBefore.Before(next) {
			return errSkip
		}
		mk.NotBefore = next
		return nil
	})
	if errors.Is(err, errSkip) || errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	return err
}

// unclaim gives up a claim before anything was sent, the attempt not
// counted: the message is cancelled when Current said it is no longer
// wanted. When Current could not tell (checkErr), the failed check is
// counted: the message is pending again after the backoff for that many
// failed checks, or, at MaxAttempts of them, failed.
func (o *Outbox) unclaim(ctx context.Context, claimed *Message, checkErr error) (bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var next time.Time
	gaveUp := false
	rec, err := metastore.Update(rctx, o.cfg.Meta, msgKey(claimed.CaseID, claimed.ID), func(m *Message) error {
		if m.State != Sending || m.ClaimedBy != o.cfg.Node || m.Attempts != claimed.Attempts {
			return errFinal
		}
		now := o.cfg.Now().UTC()
		m.ClaimedBy, m.Claimed = "", nil
		m.Attempts--
		next, gaveUp = time.Time{}, false
		if checkErr != nil {
			m.ChecksFailed++
			if m.ChecksFailed >= o.cfg.MaxAttempts {
				m.State, m.Done = Failed, &now
				m.LastError = "could not confirm it was still wanted when its time came; not sent"
				finish(m)
				gaveUp = true
				return nil
			}
			m.State, m.NextAttempt = Pending, now.Add(o.backoff(m.ChecksFailed))
			next = m.NextAttempt
			return nil
		}
		m.State, m.Done = Cancelled, &now
		m.LastError = "no longer current when its time came (the session moved again or was cancelled, its recipient left the case, or someone else in the case has the same address); not sent"
		finish(m)
		return nil
	})
	switch {
	case errors.Is(err, errFinal):
		return false, checkErr
	case err != nil:
		return false, errors.Join(checkErr, fmt.Errorf("release claim of %s: %w", claimed.ID, err))
	case gaveUp:
		o.cfg.Log.WarnContext(ctx, "outbox message failed: its check kept failing", slog.String("id", claimed.ID),
			slog.Int("checks", o.cfg.MaxAttempts), slog.String("error", checkErr.Error()))
	case checkErr != nil:
		return false, errors.Join(fmt.Errorf("check %s: %w", claimed.ID, checkErr), o.later(rctx, claimed.CaseID, claimed.ID, next))
	}
	return true, o.retire(rctx, &rec)
}

var errFinal = errors.New("message is final")

// withoutAddress is s with every occurrence of addr, in any letter case,
// replaced by "<recipient>".
func withoutAddress(s, addr string) string {
	if addr == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(addr) <= len(s) && strings.EqualFold(s[i:i+len(addr)], addr) {
			b.WriteString("<recipient>")
			i += len(addr)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// backoff is the delay before attempt n+1: Backoff·2^(n-1), at most
// MaxBackoff, ±20 %.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.cfg.Backoff
	for i := 1; i < n && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

// dropStaleFailures forgets, when failing is full, the failures whose
// retry time is more than MaxBackoff past: nothing came back for them
// (another node retired or removed the message, or its case went), and
// kept, they would fill the map for good and leave new failures
// untracked (retried every poll again). o.mu is held.
func (o *Outbox) dropStaleFailures(now time.Time) {
	for k, f := range o.failing {
		if now.Sub(f.next) > o.cfg.MaxBackoff {
			delete(o.failing, k)
		}
	}
}

var messageIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newMessageID is a fresh Message-ID local part: 128 random bits.
func newMessageID() string {
	b := make([]byte, 16)
	crand.Read(b)
	return messageIDEncoding.EncodeToString(b)
}

// validMessageID reports whether id is a local part newMessageID makes.
func validMessageID(id string) bool {
	b, err := messageIDEncoding.DecodeString(id)
	return err == nil && len(b) == 16
}

// SignInOutbox is the outbox name, in place of a case id, under which the
// answers to "Email me a link to sign in" that name no participant (the
// word to a shared address, schedule.MailSignInShared) are filed for a
// case: "sign-in.<case id>". It is no case id, so the case's mail list
// does not show them to its mediators, and retention disposes of it with
// the case (retention's invites-sessions class).
func SignInOutbox(caseID string) string { return "sign-in." + caseID }
