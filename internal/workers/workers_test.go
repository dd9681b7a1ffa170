package workers

import (
	"sync/atomic"
	"testing"
)

func TestRun(t *testing.T) {
	for _, par := range []int{0, 1, 3, 100} {
		var sum, active, peak atomic.Int64
		Run(50, par, func(i int) {
			n := active.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			sum.Add(int64(i))
			active.Add(-1)
		})
		if sum.Load() != 49*50/2 {
			t.Errorf("parallel %d: sum %d", par, sum.Load())
		}
		if limit := int64(max(par, 1)); peak.Load() > limit {
			t.Errorf("parallel %d: %d at once", par, peak.Load())
		}
	}
	Run(0, 4, func(int) { t.Error("called for no items") })
}

// TestRunPanicReachesTheCaller: a panic in fn is raised in Run's caller,
// where a recover catches it (on a worker goroutine it would end the
// process), after every call has returned. Items not yet started when
// item 3 panicked may not be called at all, even those before it (a
// worker may hold item 1 and not have started it yet).
func TestRunPanicReachesTheCaller(t *testing.T) {
	var calls, active atomic.Int64
	var busyAtRecover int64 = -1
	got := func() (v any) {
		defer func() {
			busyAtRecover = active.Load()
			v = recover()
		}()
		Run(100, 4, func(i int) {
			active.Add(1)
			defer active.Add(-1)
			calls.Add(1)
			if i == 3 {
				panic("item 3")
			}
		})
		return nil
	}()
	if got != "item 3" {
		t.Fatalf("recovered %v, want the panic of item 3", got)
	}
	if busyAtRecover != 0 {
		t.Fatalf("%d calls still running when the panic reached the caller", busyAtRecover)
	}
	if n := calls.Load(); n < 1 || n > 100 {
		t.Fatalf("%d calls", n)
	}
}
