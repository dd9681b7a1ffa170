package messaging

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// BenchmarkRoomsOpenedAndLeft opens 10,000 rooms on one node (a subscriber
// joins, a message is published, the subscriber leaves), waits for the
// idle rooms to be freed, and reports what the node still holds against
// its baseline: goroutines, live heap, hubs and committers. Run:
//
//	go test -run '^$' -bench RoomsOpenedAndLeft -benchtime 1x ./messaging/
func BenchmarkRoomsOpenedAndLeft(b *testing.B) {
	const rooms = 10000
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		d, err := objstore.OpenDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		s := newService(NewLog(d), NewMemory(), Options{}, timing{probe: 200 * time.Millisecond, compact: 200 * time.Millisecond, sweep: time.Minute, idle: time.Second})
		g0, h0 := settleMem()
		b.StartTimer()
		tag := time.Now().UnixNano()
		var wg sync.WaitGroup
		work := make(chan int)
		for range 64 {
			wg.Go(func() {
				for i := range work {
					room := Room{ID: fmt.Sprintf("c_soak%d_%d/joint", tag, i), Name: "joint"}
					sub, err := s.Subscribe(b.Context(), room, "u1", "c1", nil, &sink{})
					if err != nil {
						b.Error(err)
						continue
					}
					if _, err := s.Publish(b.Context(), room.ID, Message{ID: "m", From: "u1", Body: []byte("x")}); err != nil {
						b.Error(err)
					}
					sub.Unsubscribe(b.Context())
				}
			})
		}
		for i := range rooms {
			work <- i
		}
		close(work)
		wg.Wait()
		opened := time.Now()
		var hubs, committers int
		for range 600 {
			s.mu.Lock()
			hubs, committers = len(s.hubs), len(s.committers)
			s.mu.Unlock()
			if hubs == 0 && committers == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		freed := time.Since(opened)
		b.StopTimer()
		g1, h1 := settleMem()
		b.ReportMetric(float64(g1-g0), "goroutines-left")
		b.ReportMetric(float64(int64(h1)-int64(h0))/1024, "KiB-heap-left")
		b.ReportMetric(float64(hubs), "hubs-left")
		b.ReportMetric(float64(committers), "committers-left")
		b.ReportMetric(freed.Seconds(), "s-to-free")
		s.Close()
	}
}

func settleMem() (goroutines int, heap uint64) {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}
