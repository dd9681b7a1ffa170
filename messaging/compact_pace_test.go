package messaging

import (
	"math"
	"testing"
	"time"
)

// TestCompactionPacedThroughInterval: rooms whose traffic began together
// are compacted a few each tick through the interval, not all in the
// ticks where they fall due, and each is reached before it is due, with
// none taken before interval / compactMinAge. Simulated ticks of the
// compactor's choice (compactPace.choose) over twelve intervals of traffic
// that goes on in every room; before pacing, every room was compacted in
// the ticks it fell due, maxCompactPerTick at a time.
func TestCompactionPacedThroughInterval(t *testing.T) {
	for _, c := range []struct {
		n       int
		compact time.Duration
	}{{1, 10 * time.Second}, {3, 10 * time.Second}, {50, 10 * time.Second}, {200, 10 * time.Second}, {500, 10 * time.Second},
		{20, 1500 * time.Millisecond}} {
		n, tm := c.n, timing{compact: c.compact}
		tick := tm.compactEvery()
		var p compactPace
		start := time.Unix(1_000_000, 0)
		oldest := make([]time.Time, n) // every room's traffic begins at start
		last := make([]time.Time, n)   // when each was last compacted
		for i := range oldest {
			oldest[i] = start
		}
		perTick, due := 0, 0
		minGap, maxGap := time.Duration(math.MaxInt64), time.Duration(0)
		var now time.Time
		for k := 1; k <= int(12*tm.compact/tick); k++ {
			now = start.Add(time.Duration(k) * tick)
			tails := make([]tailInfo, n)
			for i := range tails {
				tails[i] = tailInfo{oldest: oldest[i], msgs: 1}
			}
			got := p.choose(tails, now, false, tm)
			if now.Sub(start) > 2*tm.compact { // past the first cycles
				perTick = max(perTick, len(got))
			}
			for _, i := range got {
				age := now.Sub(oldest[i])
				if age < tm.compact/compactMinAge {
					t.Fatalf("%d rooms, interval %v: a tail %v old was compacted (at least %v)", n, tm.compact, age, tm.compact/compactMinAge)
				}
				if age >= tm.compact {
					due++
				}
				if !last[i].IsZero() {
					gap := now.Sub(last[i])
					minGap, maxGap = min(minGap, gap), max(maxGap, gap)
				}
				last[i] = now
				oldest[i] = now.Add(tick / 2) // the room's next batch
			}
		}
		for i := range last {
			if last[i].IsZero() || now.Sub(last[i]) >= tm.compact {
				t.Fatalf("%d rooms, interval %v: room %d last compacted %v before the end, want within the interval", n, tm.compact, i, now.Sub(last[i]))
			}
		}
		rate := float64(n) * float64(tick) / (compactReach * float64(tm.compact))
		if limit := int(math.Ceil(2 * rate)); perTick > max(limit, 1) {
			t.Errorf("%d rooms, interval %v: up to %d compacted in one tick, want at most %d (spread through the interval)", n, tm.compact, perTick, max(limit, 1))
		}
		if due > 0 {
			t.Errorf("%d rooms, interval %v: %d compactions of rooms already due, want every room reached before it is due", n, tm.compact, due)
		}
		if maxGap >= tm.compact {
			t.Errorf("%d rooms, interval %v: a room waited %v between compactions, want less than the interval", n, tm.compact, maxGap)
		}
		if minGap < tm.compact/2 {
			t.Errorf("%d rooms, interval %v: a room compacted again after %v, want no sooner than half the interval", n, tm.compact, minGap)
		}
	}
}

// TestCompactionPaceYieldsToDueRooms: rooms due spend the pace's
// allowance first, and no tick takes more than maxCompactPerTick.
func TestCompactionPaceYieldsToDueRooms(t *testing.T) {
	// With credit carried over and 1 room due: the due one first, then
	// the oldest early ones, as many as the credit left allows.
	{
		tm := timing{compact: 10 * time.Second}
		now := time.Unix(1_000_000, 0)
		tails := []tailInfo{{oldest: now.Add(-11 * time.Second), msgs: 1}}
		for range 98 {
			tails = append(tails, tailInfo{oldest: now.Add(-5 * time.Second), msgs: 1})
		}
		tails = append(tails, tailInfo{oldest: now.Add(-8 * time.Second), msgs: 1}) // the oldest early one
		p := compactPace{credit: 4}
		rate := float64(len(tails)) * float64(tm.compactEvery()) / (compactReach * float64(tm.compact))
		want := 1 + int(min(4+rate, max(1, 2*rate))-1) // the cap applies before the due room spends
		if want < 3 {
			t.Fatalf("test set-up: credit for %d rooms, want room for the due one and 2 early", want)
		}
		got := p.choose(tails, now, false, tm)
		if len(got) != want || got[0] != 0 || got[1] != len(tails)-1 {
			t.Fatalf("chose %v, want the due room (0), then the oldest early one (%d), %d in all", got, len(tails)-1, want)
		}
	}
	tm := timing{compact: 10 * time.Second}
	now := time.Unix(1_000_000, 0)
	var tails []tailInfo
	for range 40 { // due
		tails = append(tails, tailInfo{oldest: now.Add(-11 * time.Second), msgs: 1})
	}
	for range 40 { // old enough to be taken early
		tails = append(tails, tailInfo{oldest: now.Add(-5 * time.Second), msgs: 1})
	}
	var p compactPace
	got := p.choose(tails, now, false, tm)
	if len(got) != maxCompactPerTick {
		t.Fatalf("%d chosen, want %d", len(got), maxCompactPerTick)
	}
	for _, i := range got {
		if i >= 40 {
			t.Fatalf("a room not due (%d) was taken while %d due ones wait", i, 40)
		}
	}
	// The due rooms spent the allowance: the next tick, with none due,
	// takes none early until the allowance has built up again.
	if got := p.choose(tails[40:], now.Add(tm.compactEvery()), false, tm); len(got) != 0 {
		t.Fatalf("%d taken early right after a tick of due rooms, want 0", len(got))
	}
}
