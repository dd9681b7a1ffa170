package audit

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// EventDenied is the type of a refusal's entry: who was refused what
// (attrs "action"), in which case, on which objects.
const EventDenied = "access.denied"

// EventDeniedSuppressed is the type of the entry that counts the refusals
// of one actor that were not audited in full (see [DenialLimit]): actor
// the refused account (or "" for refusals counted node-wide, attr
// "scope" "node"), attrs "count" (how many), "from" and "until" (the
// window, RFC 3339 UTC) and "scope" ("actor" or "node").
const EventDeniedSuppressed = "access.denied.suppressed"

// DenialLimit bounds how many refusals (access.denied entries) one actor
// adds to the log. Each actor (the entry's Actor: an account id, or ""
// for refusals made before anyone is known) has windows of Window,
// starting at its first refusal; the first PerWindow refusals of a window
// are audited in full, and the rest only counted. When the window has
// ended, the count is appended as one access.denied.suppressed entry (by
// the next append of this Log after the window's end, by a timer at its
// end, or by Close): a refusal is never lost from the count, only from
// the detail. Actors beyond MaxActors with an open window at once are
// counted together in one node-wide window (scope "node"), so the
// limiter's memory is bounded.
//
// The limit is per Log, so per node: n nodes each audit PerWindow of an
// actor's refusals a window.
type DenialLimit struct {
	PerWindow int           // refusals audited in full per actor and window; 0 turns the limit off
	Window    time.Duration // the window's length
	MaxActors int           // actors with an open window at once; past it, refusals are counted node-wide
}

// DefaultDenialLimit is the limit a Log starts with: 20 refusals a minute
// in full per actor, for 4,096 actors at once.
var DefaultDenialLimit = DenialLimit{PerWindow: 20, Window: time.Minute, MaxActors: 4096}

// denialWindow is one actor's (or the node-wide) current window.
type denialWindow struct {
	start      time.Time
	audited    int // refusals audited in full in this window
	suppressed int // refusals only counted
}

// denials is a Log's refusal limiter. Its map holds only windows not yet
// ended: sweep drops every ended one (handing out its count, if any).
type denials struct {
	mu      sync.Mutex
	limit   DenialLimit
	now     func() time.Time
	actors  map[string]*denialWindow
	node    *denialWindow // refusals of actors beyond MaxActors; nil when none
	nextDue time.Time     // no window ends before this; zero when none is open
	timer   *time.Timer   // armed for nextDue while a window has a suppressed count
	// closed: Close was called; no timer is armed after it (counts wait
	// for the next append or Close). running counts timer callbacks
	// armed and not yet done, for Close to wait for one already running.
	closed  bool
	running sync.WaitGroup
}

func newDenials() *denials {
	return &denials{limit: DefaultDenialLimit, now: time.Now, actors: map[string]*denialWindow{}}
}

// admit reports whether a refusal by actor is audited in full now.
func (d *denials) admit(actor string, now time.Time) bool {
	if d.limit.PerWindow <= 0 {
		return true
	}
	w := d.actors[actor]
	if w == nil {
		if len(d.actors) >= d.limit.MaxActors {
			if d.node == nil {
				d.node = &denialWindow{start: now}
				d.due(now.Add(d.limit.Window))
			}
			d.node.suppressed++
			return false
		}
		w = &denialWindow{start: now}
		d.actors[actor] = w
		d.due(now.Add(d.limit.Window))
	}
	if w.audited < d.limit.PerWindow {
		w.audited++
		return true
	}
	w.suppressed++
	return false
}

func (d *denials) due(end time.Time) {
	if d.nextDue.IsZero() || end.Before(d.nextDue) {
		d.nextDue = end
	}
}

// sweep drops the windows ended by now (every window if all) and returns
// the access.denied.suppressed entries for those that counted any.
func (d *denials) sweep(now time.Time, all bool) []Event {
	if !all && (d.nextDue.IsZero() || now.Before(d.nextDue)) {
		return nil
	}
	var out []Event
	d.nextDue = time.Time{}
	for actor, w := range d.actors {
		end := w.start.Add(d.limit.Window)
		if !all && now.Before(end) {
			d.due(end)
			continue
		}
		delete(d.actors, actor)
		if w.suppressed > 0 {
			out = append(out, suppressedEvent(actor, "actor", w, earlier(end, now), now))
		}
	}
	if d.node != nil {
		end := d.node.start.Add(d.limit.Window)
		if all || !now.Before(end) {
			out = append(out, suppressedEvent("", "node", d.node, earlier(end, now), now))
			d.node = nil
		} else {
			d.due(end)
		}
	}
	return out
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func suppressedEvent(actor, scope string, w *denialWindow, until, now time.Time) Event {
	return Event{Type: EventDeniedSuppressed, Actor: actor, Time: now, Attrs: map[string]string{
		"count": strconv.Itoa(w.suppressed),
		"from":  w.start.UTC().Format(time.RFC3339Nano),
		"until": until.UTC().Format(time.RFC3339Nano),
		"scope": scope,
	}}
}

// suppressed reports how many refusals are counted and not yet appended,
// and how many windows are open (for tests).
func (d *denials) pending() (count, windows int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.actors {
		count += w.suppressed
	}
	windows = len(d.actors)
	if d.node != nil {
		count += d.node.suppressed
		windows++
	}
	return count, windows
}

// SetDenialLimit replaces the Log's refusal limit (DefaultDenialLimit
// until then), first appending the counts of the windows open under the
// old one. now, if not nil, is the limiter's clock (time.Now otherwise).
func (l *Log) SetDenialLimit(ctx context.Context, lim DenialLimit, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	d := l.denials
	d.mu.Lock()
	evs := d.sweep(d.now(), true)
	d.limit = lim
	if d.limit.MaxActors <= 0 {
		d.limit.MaxActors = DefaultDenialLimit.MaxActors
	}
	if d.limit.Window <= 0 {
		d.limit.Window = DefaultDenialLimit.Window
	}
	d.now = now
	d.mu.Unlock()
	return l.appendSuppressed(ctx, evs)
}

// limitDenials decides which of events are written: keep[i] is false for
// a refusal (access.denied) only counted. summaries are the counts of the
// windows that have ended, to be appended first.
func (l *Log) limitDenials(events []Event) (keep []bool, summaries []Event) {
	d := l.denials
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	summaries = d.sweep(now, false)
	keep = make([]bool, len(events))
	for i, ev := range events {
		keep[i] = ev.Type != EventDenied || d.admit(ev.Actor, now)
	}
	d.arm(l, now)
	return keep, summaries
}

// arm starts the timer that appends the counts when the earliest window
// ends, so that a count is written soon after its window even if nothing
// else is appended. Under d.mu.
func (d *denials) arm(l *Log, now time.Time) {
	if d.closed || d.nextDue.IsZero() || d.timer != nil || !d.anySuppressed() {
		return
	}
	d.running.Add(1)
	d.timer = time.AfterFunc(d.nextDue.Sub(now), func() {
		defer d.running.Done()
		d.mu.Lock()
		d.timer = nil
		now := d.now()
		evs := d.sweep(now, false)
		d.arm(l, now)
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = l.appendSuppressed(ctx, evs)
	})
}

func (d *denials) anySuppressed() bool {
	if d.node != nil {
		return true
	}
	for _, w := range d.actors {
		if w.suppressed > 0 {
			return true
		}
	}
	return false
}

// appendSuppressed appends the counts, best effort: one it cannot append
// is logged (WARN, ids and counts only) and lost from the log.
func (l *Log) appendSuppressed(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	records := make([][]byte, len(evs))
	for i, ev := range evs {
		b, err := ev.Encode()
		if err != nil {
			return err // cannot be: ids, counts and times
		}
		records[i] = b
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	idx, err := l.appendRecords(ctx, records)
	if len(idx) < len(evs) {
		for _, ev := range evs[len(idx):] {
			slog.Warn("audit: could not append the count of refusals not audited in full; the count is lost from the log",
				"actor", ev.Actor, "count", ev.Attrs["count"], "from", ev.Attrs["from"], "until", ev.Attrs["until"], "err", err)
		}
	}
	return err
}

// Close appends the counts of refusals not yet appended (those of windows
// still open too), best effort, after stopping the limiter's timer and
// waiting for a count it is already appending. The Log stays usable: a
// refusal after Close is limited afresh, and its count appended by a
// later append or Close (no timer is armed after Close).
func (l *Log) Close(ctx context.Context) error {
	d := l.denials
	d.mu.Lock()
	d.closed = true
	if d.timer != nil {
		if d.timer.Stop() {
			d.running.Done() // it will not run
		}
		d.timer = nil
	}
	d.mu.Unlock()
	d.running.Wait()
	d.mu.Lock()
	evs := d.sweep(d.now(), true)
	d.mu.Unlock()
	return l.appendSuppressed(ctx, evs)
}
