package audit

import (
	"context"
	"testing"
)

// BenchmarkAppend measures appends against a local Dir store, where each
// write is fsynced. "single" pays for a checkpoint per event; "batch100"
// shows the saving AppendBatch gives bulk writers (ns/op is per event).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		l := openLog(b, newStore(b), newSigner(b, testOrigin, "k1"))
		e := ev("doc.view", "u-1")
		for b.Loop() {
			if _, err := l.Append(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch100", func(b *testing.B) {
		l := openLog(b, newStore(b), newSigner(b, testOrigin, "k1"))
		batch := make([]Event, 100)
		for i := range batch {
			batch[i] = ev("retention.purge", "svc")
		}
		for b.Loop() {
			if _, err := l.AppendBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
	})
	// Single appends from many goroutines at once (requests on a busy
	// node): the log's writer writes what is queued in one round, under
	// one checkpoint, so ns/op is per event across all of them.
	b.Run("parallel", func(b *testing.B) {
		l := openLog(b, newStore(b), newSigner(b, testOrigin, "k1"))
		e := ev("doc.view", "u-1")
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Append(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
