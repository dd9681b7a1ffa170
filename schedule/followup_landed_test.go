package schedule

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// planWrite answers the first write of a check-in plan with an error
// although it went through (ErrPrecondition: a retried PUT whose first
// attempt landed) or before it lands (late: context.DeadlineExceeded, the
// write held back until land is called, after the read-back).
type planWrite struct {
	objstore.Store
	mu      sync.Mutex
	mode    string // "precondition", "late"
	pending func() error
}

func (p *planWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	p.mu.Lock()
	mode := ""
	if strings.HasPrefix(key, "followups/plans/") {
		mode, p.mode = p.mode, ""
	}
	p.mu.Unlock()
	switch mode {
	case "precondition":
		if _, err := p.Store.Put(ctx, key, r, size, opts); err != nil {
			return objstore.Info{}, err
		}
		return objstore.Info{}, objstore.ErrPrecondition
	case "late":
		b, err := io.ReadAll(r)
		if err != nil {
			return objstore.Info{}, err
		}
		p.mu.Lock()
		p.pending = func() error {
			_, err := p.Store.Put(context.Background(), key, bytes.NewReader(b), int64(len(b)), opts)
			return err
		}
		p.mu.Unlock()
		return objstore.Info{}, context.DeadlineExceeded
	}
	return p.Store.Put(ctx, key, r, size, opts)
}

func (p *planWrite) land(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	f := p.pending
	p.pending = nil
	p.mu.Unlock()
	if f == nil {
		t.Fatal("no plan write held back")
	}
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

// TestFollowUpPlanLandedDespiteItsError: a plan write that landed but
// answered an error is not taken for another request's plan or for a
// plan not stored. A retried PUT whose first attempt landed answers
// "exists": the check-ins are set, with their links, and no
// followup.set.failed follows. A write cut short that lands after the
// read-back has its tokens kept and no .failed entry. Before, both
// deleted the plan's tokens and logged followup.set.failed, leaving a
// plan whose links all fail, the first answered 409.
func TestFollowUpPlanLandedDespiteItsError(t *testing.T) {
	for _, store := range []string{"dir", "s3"} {
		for _, mode := range []string{"precondition", "late"} {
			t.Run(mode+"/"+store, func(t *testing.T) {
				pw := &planWrite{}
				e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store {
					if store == "s3" {
						var err error
						if s, err = objstore.OpenS3(t.Context(), testenv.S3(t)); err != nil {
							t.Fatal(err)
						}
					}
					pw.Store = s
					return pw
				})
				ctx := t.Context()
				e.close(t, cases.FullAgreement)
				from := e.log.Size()
				pw.mu.Lock()
				pw.mode = mode
				pw.mu.Unlock()
				plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30, 90})
				tokens := func() int {
					n := 0
					if err := e.svc.cfg.Meta.List(ctx, "followups/tokens/", func(string) error { n++; return nil }); err != nil {
						t.Fatal(err)
					}
					return n
				}
				var types []string
				for i := from; i < e.log.Size(); i++ {
					ev, err := e.log.Entry(ctx, i)
					if err != nil {
						t.Fatal(err)
					}
					types = append(types, ev.Type)
				}
				for _, typ := range types {
					if typ == "followup.set.failed" {
						t.Fatalf("entries %v: the plan's write is logged failed", types)
					}
				}
				switch mode {
				case "precondition":
					if err != nil || plan == nil || len(links) != 4 || plan.Checkpoints[0].Issued != 2 {
						t.Fatalf("set with a landed write answered %v: %+v, %d links", err, plan, len(links))
					}
					if n := tokens(); n != 4 {
						t.Fatalf("%d tokens stored, want 4", n)
					}
					if n := followUpMails(t, e); n != 4 {
						t.Fatalf("%d check-in mails queued, want 4", n)
					}
					e.clock.Set(plan.Checkpoints[0].Due)
					if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Honoured, ""); err != nil {
						t.Fatalf("answering a link: %v", err)
					}
				case "late":
					if err == nil {
						t.Fatal("a cut-short plan write answered success")
					}
					pw.land(t)
					if n := tokens(); n != 4 {
						t.Fatalf("%d tokens kept, want 4: the landed plan's links were deleted", n)
					}
					if got, err := e.svc.FollowUps(ctx, e.mediator, e.c.ID); err != nil || got == nil {
						t.Fatalf("plan after it landed: %+v, %v", got, err)
					}
				}
			})
		}
	}
}
