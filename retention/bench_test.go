package retention

// The retention benchmark for BENCHMARKS.md (## Retention): dispose of
// 10,000 documents across 500 closed cases on the test MinIO. Setup (the
// uploads) is not timed; planning, approval and applying are. Smaller
// runs for a quick look: PARLEY_BENCH_DOCS=1000 PARLEY_BENCH_CASES=50;
// PARLEY_BENCH_PARALLEL overrides the records worked on at once.
//
//	go test -run '^$' -bench 'Dispose' -benchtime 1x -timeout 30m ./retention/

import (
	"bytes"
	"crypto/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func BenchmarkDispose(b *testing.B) {
	docs, nCases := envInt("PARLEY_BENCH_DOCS", 10_000), envInt("PARLEY_BENCH_CASES", 500)
	for range b.N {
		b.StopTimer()
		store, err := objstore.OpenS3(b.Context(), testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		e := newEnv(b, store)
		e.ret.pageSize = DefaultPageSize
		e.ret.parallel = envInt("PARLEY_BENCH_PARALLEL", e.ret.parallel)
		ctx := b.Context()
		caseIDs := make([]string, nCases)
		for i := range caseIDs {
			c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: "Bench", Type: "family", SideLabels: []string{"A", "B"}})
			if err != nil {
				b.Fatal(err)
			}
			caseIDs[i] = c.ID
		}
		body := make([]byte, 1024)
		rand.Read(body)
		errs := make([]error, docs)
		workers.Run(docs, 16, func(i int) {
			_, errs[i] = e.vault.Upload(ctx, e.mediator, caseIDs[i%nCases], vault.NewDocument{Name: "d.bin",
				Audience: vault.Audience{Kind: policy.AudienceMediators}, Class: vault.ClassMediatorNotes}, bytes.NewReader(body))
		})
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		for _, id := range caseIDs {
			if _, err := e.cases.SetStage(ctx, e.mediator, id, cases.StageClosure, ""); err != nil {
				b.Fatal(err)
			}
		}
		e.clock = e.clock.Add(month)
		b.StartTimer()

		t0 := time.Now()
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		planned := time.Since(t0)
		if p.Records != docs {
			b.Fatalf("plan has %d records, want %d", p.Records, docs)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		last := t1
		phase := map[string]time.Duration{}
		e.ret.hook = func(step string) error {
			now := time.Now()
			phase[step] += now.Sub(last)
			last = now
			return nil
		}
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
		if err != nil || !pr.Done {
			b.Fatal(err)
		}
		applied := time.Since(t1)
		for step, d := range phase {
			b.Logf("%s: %v", step, d)
		}
		b.StopTimer()
		b.ReportMetric(planned.Seconds(), "plan-s")
		b.ReportMetric(applied.Seconds(), "apply-s")
		b.ReportMetric(float64(docs)/applied.Seconds(), "docs/s")
		if left := e.objectsOf(b, caseIDs[0]); len(left) != 0 {
			b.Fatalf("left: %v", left)
		}
		b.StartTimer()
	}
}
