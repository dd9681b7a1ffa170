package messaging

import (
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"
)

// Stage tracing: where a message's time goes between the WebSocket read
// of its publish and the writes of its deliveries. It is a diagnostic for
// latency (`parley serve --debug-addr`, `/debug/parley/stages`; `parley
// bench fanout --stages` prints it): off by default, and then every hook
// is one atomic load and no clock read. On, each stage records its
// durations in a histogram; nothing about a message but times is kept.

// Stage is one step of the path from publish to delivery.
type Stage int

// The stages, in path order. Those marked (web) are recorded by the
// WebSocket layer.
const (
	// StageRead: a pub frame read → handed to its room's committer (web).
	StageRead Stage = iota
	// StageQueue: in the committer's queue until its batch is taken.
	StageQueue
	// StageRoute: batch taken → its journal request queued (owner
	// lookup, positions, encoding).
	StageRoute
	// StageJournalQueue: journal request queued → its group commit starts.
	StageJournalQueue
	// StageJournalWrite: one group commit's write and sync.
	StageJournalWrite
	// StageJournalWake: the group commit answered → the committer resumes.
	StageJournalWake
	// StageBroadcast: recent window, head hint, local hub and broker publish.
	StageBroadcast
	// StageHubInbox: batch posted → the room's hub takes it.
	StageHubInbox
	// StageHubDeliver: hub takes the batch → its frame is in every sink.
	StageHubDeliver
	// StageSendQueue: a frame queued for a connection → its writer takes it (web).
	StageSendQueue
	// StageSocketWrite: the frames a socket's writer found waiting, written (web).
	StageSocketWrite
	// StageToSink: the oldest message of a batch, handed to the committer
	// → its delivery frame in every local sink.
	StageToSink
	// StageToAck: a message handed to the committer → its ack frame
	// queued (web).
	StageToAck
	numStages
)

var stageNames = [numStages]string{
	"read→committer (web)", "committer queue", "route+encode", "journal queue", "journal write+sync",
	"journal→committer wake", "broadcast", "hub inbox", "hub deliver", "send queue (web)",
	"socket write (web)", "TOTAL committer→sinks", "TOTAL committer→ack (web)",
}

func (s Stage) String() string {
	if s < 0 || s >= numStages {
		return fmt.Sprintf("stage(%d)", int(s))
	}
	return stageNames[s]
}

// histogram buckets durations in quarter powers of two of a microsecond
// (each bucket about 19 % wide), up to about an hour.
const histBuckets = 4 * 32

type histogram struct {
	n, sum atomic.Int64
	b      [histBuckets]atomic.Int64
}

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	i := int(math.Log2(us) * 4)
	return min(i, histBuckets-1)
}

func bucketUpper(i int) time.Duration {
	return time.Duration(math.Exp2(float64(i+1)/4) * float64(time.Microsecond))
}

func (h *histogram) add(d time.Duration) {
	h.n.Add(1)
	h.sum.Add(int64(d))
	h.b[bucketOf(d)].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= want {
			return bucketUpper(i)
		}
	}
	return bucketUpper(histBuckets - 1)
}

// stageSet is one tracing run's histograms.
type stageSet struct {
	h [numStages]histogram
}

var (
	tracing    atomic.Pointer[stageSet]
	stageEpoch = time.Now()
)

// TraceStages turns stage tracing on (with fresh histograms) or off.
func TraceStages(on bool) {
	if on {
		tracing.Store(&stageSet{})
	} else {
		tracing.Store(nil)
	}
}

// StageClock returns a timestamp for StageDone, or 0 when tracing is off.
func StageClock() int64 {
	if tracing.Load() == nil {
		return 0
	}
	return stageNow()
}

func stageNow() int64 { return int64(time.Since(stageEpoch)) + 1 }

// StageDone records that stage st, begun at since (a StageClock value),
// has ended. A zero since (tracing was off) records nothing.
func StageDone(st Stage, since int64) {
	if since == 0 {
		return
	}
	if s := tracing.Load(); s != nil {
		s.h[st].add(time.Duration(stageNow() - since))
	}
}

// WriteStages writes the current histograms as a table (nothing when
// tracing is off).
func WriteStages(w io.Writer) {
	s := tracing.Load()
	if s == nil {
		fmt.Fprintln(w, "stage tracing is off")
		return
	}
	fmt.Fprintf(w, "%-28s %9s %10s %10s %10s %10s\n", "stage", "count", "mean", "p50", "p99", "p99.9")
	for i := range s.h {
		h := &s.h[i]
		n := h.n.Load()
		if n == 0 {
			continue
		}
		mean := time.Duration(h.sum.Load() / n)
		fmt.Fprintf(w, "%-28s %9d %10s %10s %10s %10s\n", Stage(i), n, round(mean), round(h.quantile(0.5)), round(h.quantile(0.99)), round(h.quantile(0.999)))
	}
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
