package messaging

import (
	"strings"
	"testing"
	"time"
)

func TestStageTracing(t *testing.T) {
	TraceStages(false)
	if StageClock() != 0 {
		t.Fatal("StageClock is not 0 with tracing off")
	}
	t.Cleanup(func() { TraceStages(false) })
	TraceStages(true)
	since := StageClock()
	if since == 0 {
		t.Fatal("StageClock is 0 with tracing on")
	}
	StageDone(StageJournalWrite, since-int64(3*time.Millisecond))
	StageDone(StageJournalWrite, 0) // begun while tracing was off: not recorded
	h := &tracing.Load().h[StageJournalWrite]
	if n := h.n.Load(); n != 1 {
		t.Fatalf("recorded %d durations, want 1", n)
	}
	if q := h.quantile(0.5); q < 3*time.Millisecond || q > 4*time.Millisecond {
		t.Fatalf("p50 of one 3 ms duration is %s, want its bucket's upper bound (3–4 ms)", q)
	}
	var sb strings.Builder
	WriteStages(&sb)
	if !strings.Contains(sb.String(), "journal write+sync") || strings.Contains(sb.String(), "hub inbox") {
		t.Fatalf("table lists the wrong stages:\n%s", sb.String())
	}
	TraceStages(false)
	StageDone(StageJournalWrite, since)
	if h.n.Load() != 1 {
		t.Fatal("recorded with tracing off")
	}
}
