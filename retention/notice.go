package retention

// Records staff's daily mail notice of what falls due for disposal
// (docs/operations.md, "The daily notice of records due").

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// DefaultNoticeDays is how far ahead records staff's daily notice looks.
const DefaultNoticeDays = 14

// NoticeEvery is how often a node looks whether the day's notice is made.
const NoticeEvery = 10 * time.Minute

// NoticeRetry is how long a node waits after a failed pass before the
// next: a failed pass writes no day's record, so each pass searches every
// case again (and every stored version of the token-keyed records), which
// a store that keeps failing should not be asked to do every NoticeEvery.
const NoticeRetry = time.Hour

// NoticeKeepDays is how many days (UTC) the records a day's notice leaves
// are kept after that day.
const NoticeKeepDays = 7

// NoticeCollect is how many keys of past notices' records one pass looks
// at, at most.
const NoticeCollect = 100

// noticeTextBudget bounds the cases' part of a notice, in bytes, well
// within mail.MaxTextLen: the rest are counted, not listed.
const noticeTextBudget = 6000

// maxNoticeCases bounds the cases a notice gathers: no more than its text
// can list, since a case's part takes more than 32 bytes (its reference
// line and at least one class's: "Case 7\n  admin: 1 record already due\n\n"). The
// rest are counted only.
const maxNoticeCases = noticeTextBudget / 32

// Notices says how the daily notice of what falls due is sent.
type Notices struct {
	// Outbox queues the notices (nil: none is made).
	Outbox *mail.Outbox
	// Days is how far ahead the notice looks, 1 to MaxDueDays (0:
	// DefaultNoticeDays). Records already due and not disposed of are
	// always counted.
	Days int
	// Off: no notice is made (`--due-notice-days 0`, which a node passes
	// as Off, not as Days 0), but the passes still collect what notices
	// left while it was on (collectNotices), so turning the notice off
	// does not keep those records for good.
	Off bool
	// URL is where records staff act: the browser app's address, whose
	// records screen lists what falls due ("" : the notice says "the
	// records screen in Parley" without a link).
	URL string
	// Every is how often RunNotices looks (0: NoticeEvery).
	Every time.Duration
	// Retry is how long RunNotices waits after a failed pass (0:
	// NoticeRetry).
	Retry time.Duration
	// Collect is how many keys of past notices' records a pass looks at,
	// at most (0: NoticeCollect).
	Collect int
}

// noticeDay records that the day's notices were made (or that nothing
// was due), so that the other passes of the day, on any node, read one
// small record and stop. Without it they would make the same notices
// again, which the outbox would store once (noticeID): it saves work, it
// is not what keeps a notice from going out twice.
type noticeDay struct {
	Made       time.Time `json:"made"`
	Recipients int       `json:"recipients"`
	Cases      int       `json:"cases"`
}

func noticeDayKey(t time.Time) string { return noticeDayPrefix + t.UTC().Format(time.DateOnly) }

// noticeID is the outbox id of the day's notice to one account: the same
// on every node and every pass of the day (UTC), so the outbox, which
// stores an id once, queues at most one notice a day per recipient.
func noticeID(t time.Time, accountID string) string {
	return "due-" + t.UTC().Format("20060102") + "-" + accountID
}

// RunNotices makes the day's notice of what falls due (NoticeOnce) now
// and then every n.Every until ctx ends; after a pass that failed it
// waits n.Retry instead (at least n.Every), this node only. Its caller
// owns it (server.Node starts one per serving node, beside the mail
// sender, and stops it on Close, the notice on or Off: an Off pass only
// collects). Every node runs one: the day's record and the notices' ids
// make it one notice a day per recipient however many nodes there are.
func (s *Service) RunNotices(ctx context.Context, n Notices) {
	every := cmp.Or(n.Every, NoticeEvery)
	retry := max(cmp.Or(n.Retry, NoticeRetry), every)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		wait := every
		if _, err := s.NoticeOnce(ctx, n); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "retention: the notice of records due", "err", err, "retry", retry.String())
			wait = retry
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// NoticeOnce makes the day's notice of what falls due, unless this day's
// (UTC) was made already: it queues, for every account policy lets receive
// it (policy.RetentionDueNotice: records staff, enabled) that has a mail
// address, one message summarising by case reference what falls due in
// the next n.Days days and what is already due, class by class, held
// records counted apart. Nothing is queued when nothing is due. It
// returns how many messages it queued (the outbox keeps one per id: a
// pass that repeats an earlier one's queues nothing new). Then, the day's
// notice made now or before, it collects what past notices left
// (collectNotices), at most n.Collect keys. With n.Off it makes no notice
// and only collects.
func (s *Service) NoticeOnce(ctx context.Context, n Notices) (int, error) {
	if n.Outbox == nil && !n.Off {
		return 0, nil
	}
	now := s.now().UTC()
	queued := 0
	if !n.Off {
		days := cmp.Or(n.Days, DefaultNoticeDays)
		if days < 1 || days > MaxDueDays {
			return 0, fault.Invalid("days", fmt.Sprintf("from 1 to %d days ahead", MaxDueDays))
		}
		var err error
		if queued, err = s.makeNotice(ctx, n, days, now); err != nil {
			return queued, err
		}
	}
	if _, err := s.collectNotices(ctx, now, cmp.Or(n.Collect, NoticeCollect)); err != nil {
		return queued, fmt.Errorf("past notices' records could not be collected: %w", err)
	}
	return queued, nil
}

// makeNotice is NoticeOnce's making of the day's notice, unless it was
// made already.
func (s *Service) makeNotice(ctx context.Context, n Notices, days int, now time.Time) (int, error) {
	var made noticeDay
	if _, err := s.meta.Get(ctx, noticeDayKey(now), &made); err == nil {
		return 0, nil
	} else if !errors.Is(err, metastore.ErrNotFound) {
		return 0, err
	}
	to, err := s.noticeRecipients(ctx)
	if err != nil {
		return 0, err
	}
	made = noticeDay{Made: now, Recipients: len(to)}
	queued := 0
	if len(to) > 0 {
		until := now.Add(time.Duration(days) * 24 * time.Hour)
		var g noticeCases
		if err := s.eachDueCase(ctx, until, func(c *cases.Case, items []Item) {
			g.add(summarize(items, []*cases.Case{c}, now)...)
		}); err != nil {
			return 0, err
		}
		sum, total := g.gathered()
		made.Cases = total
		if total > 0 {
			subject, text := noticeText(sum, total, until, days, n.URL)
			var errs []error
			for _, a := range to {
				err := n.Outbox.Enqueue(ctx, mail.Message{ID: noticeID(now, a.ID), CaseID: mail.NoticeOutbox, Kind: mail.KindDueNotice,
					To: a.Email, ToAccount: a.ID, Subject: subject, Text: text})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				queued++
			}
			if err := errors.Join(errs...); err != nil {
				return queued, fmt.Errorf("%d of %d notices of records due could not be queued: %w", len(errs), len(to), err)
			}
		}
	}
	if _, err := s.meta.Create(ctx, noticeDayKey(now), made); err != nil && !errors.Is(err, metastore.ErrExists) {
		return queued, err
	}
	return queued, nil
}

// noticeRecipients lists the accounts policy lets receive the notice,
// with a mail address.
func (s *Service) noticeRecipients(ctx context.Context) ([]account.Account, error) {
	var out []account.Account
	err := s.accounts.Each(ctx, func(a account.Account) error {
		if a.Email != "" && s.policy.Decide(a.Principal(), policy.RetentionDueNotice, nil).Allowed {
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// What a day's notice leaves, under keys that sort by its day, and that
// collectNotices deletes, every stored version, once NoticeKeepDays have
// passed since: the day's record (noticeDayKey), each message's record
// once it is final (sent, held, refused, out of attempts, uncertain or
// cancelled: none is resent, see mail.finish) and, of a release whose
// outbox deleted a final message's due marker behind a delete marker
// only, that marker's versions (the outbox now deletes every version
// itself). A message still pending or being sent, and its live due
// marker, are never collected. The passes collect with the notice Off
// too.
const noticeDayPrefix = "retention/notices/"

var (
	noticeMsgPrefix = "outbox/cases/" + mail.NoticeOutbox + "/"
	noticeDuePrefix = "outbox/due/" + mail.NoticeOutbox + "/"
)

// collectNotices deletes every stored version of the records past notices
// left (see noticeDayPrefix) of the days before NoticeKeepDays before
// now's (UTC): the days' records first, then the messages, then the due
// markers, the oldest first, looking at no more than limit keys in all, so
// that a backlog (records of a release that kept them all) takes several
// passes. It returns how many keys it collected.
func (s *Service) collectNotices(ctx context.Context, now time.Time, limit int) (int, error) {
	cutoff := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -NoticeKeepDays)
	dayOf := func(rest string) (time.Time, bool) {
		t, err := time.Parse(time.DateOnly, rest)
		return t, err == nil
	}
	idDay := func(rest string) (time.Time, bool) { // due-<YYYYMMDD>-<account>
		d, ok := strings.CutPrefix(rest, "due-")
		if !ok || len(d) < 8 {
			return time.Time{}, false
		}
		t, err := time.Parse("20060102", d[:8])
		return t, err == nil
	}
	final := func(vs []objstore.Version) (bool, error) {
		if vs[0].DeleteMarker {
			return true, nil // deleted already: what older versions hold goes
		}
		var m mail.Message
		if _, err := s.meta.GetVersion(ctx, vs[0].Key, vs[0].VersionID, &m); err != nil {
			return false, err
		}
		return m.State != mail.Pending && m.State != mail.Sending, nil
	}
	// A marker under a delete marker was left by an earlier release's
	// outbox; a live one's message is not final, or the sender drops it.
	spent := func(vs []objstore.Version) (bool, error) { return vs[0].DeleteMarker, nil }
	collected := 0
	for _, p := range []struct {
		prefix string
		day    func(string) (time.Time, bool)
		goes   func([]objstore.Version) (bool, error)
	}{
		{noticeDayPrefix, dayOf, func([]objstore.Version) (bool, error) { return true, nil }},
		{noticeMsgPrefix, idDay, final},
		{noticeDuePrefix, idDay, spent},
	} {
		if limit <= 0 {
			break
		}
		keys, err := s.oldNoticeKeys(ctx, p.prefix, p.day, cutoff, limit)
		if err != nil {
			return collected, err
		}
		limit -= len(keys)
		var older, newest []objstore.Info
		for _, vs := range keys {
			ok, err := p.goes(vs)
			if err != nil {
				return collected, err
			}
			if !ok {
				continue
			}
			newest = append(newest, vs[0].Info)
			for _, v := range vs[1:] {
				older = append(older, v.Info)
			}
			collected++
		}
		// Older versions first, the newest last, in calls of their own: an
		// older version of a message, made current by a pass stopped in
		// between, would be one not yet sent, with its text.
		for _, part := range [][]objstore.Info{older, newest} {
			if err := errors.Join(s.store.DeleteVersions(ctx, part)...); err != nil {
				return collected, err
			}
		}
	}
	return collected, nil
}

// errListed stops oldNoticeKeys' listing.
var errListed = errors.New("listed")

// oldNoticeKeys lists the stored versions (newest first) of up to limit keys
// under prefix whose day (day of the key's rest) is before cutoff, oldest
// first: the keys sort by their day, so the listing stops at the first
// that is not, or at the key after the limit-th. A key whose day cannot be
// read is not one of them.
func (s *Service) oldNoticeKeys(ctx context.Context, prefix string, day func(string) (time.Time, bool), cutoff time.Time, limit int) ([][]objstore.Version, error) {
	var out [][]objstore.Version
	err := s.store.VersionsUnder(ctx, prefix, func(v objstore.Version) error {
		if n := len(out); n > 0 && out[n-1][0].Key == v.Key {
			out[n-1] = append(out[n-1], v)
			return nil
		}
		d, ok := day(strings.TrimPrefix(v.Key, prefix))
		switch {
		case !ok:
			return nil
		case !d.Before(cutoff) || len(out) == limit:
			return errListed
		}
		out = append(out, []objstore.Version{v})
		return nil
	})
	if errors.Is(err, errListed) {
		err = nil
	}
	return out, err
}

// NoticeCurrent tells the outbox, when a notice is about to be sent,
// whether its recipient may still receive it: the account is there, has
// the address the notice was queued for, and policy still lets it receive
// the notice (records staff, not disabled). Other messages are not
// retention's to judge.
func (s *Service) NoticeCurrent(ctx context.Context, m *mail.Message) (bool, error) {
	if m.Kind != mail.KindDueNotice {
		return true, nil
	}
	a, err := s.accounts.Get(ctx, m.ToAccount)
	if errors.Is(err, fault.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.Email != "" && a.Email == m.To && s.policy.Decide(a.Principal(), policy.RetentionDueNotice, nil).Allowed, nil
}

// dueClass counts one class's records of one case.
type dueClass struct {
	class   string
	overdue int       // due already, not held
	coming  int       // due within the window, not held
	first   time.Time // the first of coming
	held    int       // on legal hold, whenever due
}

// dueCase is one case's part of the notice: its words (the reference, or
// the day it was opened) and its classes.
type dueCase struct {
	words   string
	first   time.Time
	classes []*dueClass
}

// summarize groups items by case and class. A case is named by its
// reference, as the program wrote it (stored upper-case: meant to be its
// docket or file number, but letters and spaces are allowed, so it is
// the program's to keep names out of it), else by the day it was opened,
// as the records screen names it: never by its id or title.
func summarize(items []Item, all []*cases.Case, now time.Time) []*dueCase {
	opened := map[string]time.Time{}
	for _, c := range all {
		opened[c.ID] = c.Created
	}
	byCase := map[string]*dueCase{}
	var out []*dueCase
	for _, it := range items {
		dc := byCase[it.Case]
		if dc == nil {
			words := "Case " + it.Reference
			if it.Reference == "" {
				words = "Case opened " + opened[it.Case].UTC().Format("2 January 2006") + " (no reference)"
			}
			dc = &dueCase{words: words, first: it.DueAt}
			byCase[it.Case] = dc
			out = append(out, dc)
		}
		if it.DueAt.Before(dc.first) {
			dc.first = it.DueAt
		}
		i := slices.IndexFunc(dc.classes, func(c *dueClass) bool { return c.class == it.Class })
		if i < 0 {
			dc.classes = append(dc.classes, &dueClass{class: it.Class})
			i = len(dc.classes) - 1
		}
		cl := dc.classes[i]
		switch {
		case len(it.Held) > 0:
			cl.held++
		case !it.DueAt.After(now):
			cl.overdue++
		default:
			if cl.coming == 0 || it.DueAt.Before(cl.first) {
				cl.first = it.DueAt
			}
			cl.coming++
		}
	}
	for _, dc := range out {
		slices.SortFunc(dc.classes, func(a, b *dueClass) int { return strings.Compare(a.class, b.class) })
	}
	sortDueCases(out)
	return out
}

// noticeCases gathers a notice's cases as the search finds them (from
// several workers at once), keeping at most 2·maxNoticeCases of them at
// any time and, in the end, the maxNoticeCases first by date: what the
// notice can list. It counts them all. Its lock guards no I/O.
type noticeCases struct {
	mu    sync.Mutex
	kept  []*dueCase
	total int
}

func (g *noticeCases) add(dcs ...*dueCase) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total += len(dcs)
	g.kept = append(g.kept, dcs...)
	if len(g.kept) >= 2*maxNoticeCases {
		g.trim()
	}
}

// trim sorts the kept cases as the notice lists them and keeps the first
// maxNoticeCases. Called with g.mu held.
func (g *noticeCases) trim() {
	sortDueCases(g.kept)
	if len(g.kept) > maxNoticeCases {
		clear(g.kept[maxNoticeCases:])
		g.kept = g.kept[:maxNoticeCases]
	}
}

// gathered returns the cases the notice lists, in its order, and how many
// cases it counts in all.
func (g *noticeCases) gathered() ([]*dueCase, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.trim()
	return g.kept, g.total
}

func sortDueCases(l []*dueCase) {
	slices.SortFunc(l, func(a, b *dueCase) int { return cmp.Or(a.first.Compare(b.first), strings.Compare(a.words, b.words)) })
}

func records(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

func day(t time.Time) string { return t.UTC().Format("2 January 2006") }

// line is one class of a case in words: "evidence: 2 records already
// due, 1 record falling due (the first on 15 December 2026); 1 record on
// legal hold (kept)".
func (c *dueClass) line() string {
	var parts []string
	if c.overdue > 0 {
		parts = append(parts, records(c.overdue)+" already due")
	}
	if c.coming > 0 {
		parts = append(parts, fmt.Sprintf("%s falling due (the first on %s)", records(c.coming), day(c.first)))
	}
	s := strings.Join(parts, ", ")
	if c.held > 0 {
		if s != "" {
			s += "; "
		}
		s += records(c.held) + " on legal hold (kept)"
	}
	return "  " + c.class + ": " + s
}

// noticeText writes the notice of n cases, sum the first of them: the
// cases by reference with their counts, what happens next, where to act,
// and why the reader gets it. Of a case it carries the reference only, as
// the program wrote it; no title, side label, document name, hold reason
// or id.
func noticeText(sum []*dueCase, n int, until time.Time, days int, url string) (subject, text string) {
	cs := "1 case"
	if n != 1 {
		cs = fmt.Sprintf("%d cases", n)
	}
	subject = "Records due for disposal: " + cs
	var b strings.Builder
	fmt.Fprintf(&b, "Records of %s fall due for disposal by %s (the next %d days), counting those already due and not yet disposed of:\n\n", cs, day(until), days)
	listed := 0
	for _, dc := range sum {
		var block strings.Builder
		block.WriteString(dc.words + "\n")
		for _, c := range dc.classes {
			block.WriteString(c.line() + "\n")
		}
		if b.Len()+block.Len() > noticeTextBudget {
			break
		}
		b.WriteString(block.String() + "\n")
		listed++
	}
	if listed < n {
		fmt.Fprintf(&b, "And %d more: the records screen lists them all.\n\n", n-listed)
	}
	b.WriteString("Nothing is destroyed until one of you makes a disposal plan, a second person approves it and it is carried out. Records on legal hold are kept whatever their date.\n\n")
	where := "the records screen in Parley"
	if url != "" {
		where = "Parley at " + url
	}
	fmt.Fprintf(&b, "Where to act: sign in to %s and open \"Disposal of old records\". \"Records due soon\" there shows the detail; \"Make a plan\" starts a disposal.\n\n", where)
	b.WriteString("You get this because your Parley account is a records staff account. Parley mails every records staff account at most once a day, and only when something falls due. It gives each case's reference as your program recorded it, and nothing else about the case, with its record classes and counts, never what the records hold. It cannot be turned off for one account; the program's operator sets it for everyone.\n")
	return subject, b.String()
}
