package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
)

// countingStore records the operations a request makes on the store, by
// kind and key with ids blanked ("Get cases/*/docs/*"), so two requests on
// different documents can be compared.
type countingStore struct {
	objstore.Store
	mu  sync.Mutex
	ops []string
}

func (c *countingStore) note(op, key string) {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		if len(p) > 2 && p[1] == '_' {
			parts[i] = "*"
		}
	}
	c.mu.Lock()
	c.ops = append(c.ops, op+" "+strings.Join(parts, "/"))
	c.mu.Unlock()
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	slices.Sort(out)
	return out
}

func (c *countingStore) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	c.note("Get", key)
	return c.Store.Get(ctx, key, o)
}

func (c *countingStore) Stat(ctx context.Context, key string) (objstore.Info, error) {
	c.note("Stat", key)
	return c.Store.Stat(ctx, key)
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64, o objstore.PutOptions) (objstore.Info, error) {
	c.note("Put", key)
	return c.Store.Put(ctx, key, r, size, o)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	c.note("List", prefix)
	return c.Store.List(ctx, prefix, fn)
}

// A document of another side's caucus and a document that does not exist
// get the same answer (not found), the same audit entry, and cost the same
// store work: a refused document used to be audited and a missing one not,
// so its answer took ~8 ms against ~1.5 ms and told which ids were real.
// Timing itself is measured by BenchmarkRefusedVsMissing (BENCHMARKS.md);
// this test checks the cause structurally.
func TestRefusedAndMissingDocumentsAlike(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		cs := &countingStore{Store: store}
		e := newEnv(t, cs)
		k := e.newCast(t)
		d := e.upload(t, k.who["mediator"], k.caseID, "a.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("caucus A only"))
		missing := ids.New("d")
		partyB := k.who["partyB"]
		type try struct {
			name string
			call func(docID string) error
		}
		for _, tr := range []try{
			{"download", func(id string) error { _, err := e.vault.Open(t.Context(), partyB, k.caseID, id, 0, nil); return err }},
			{"metadata", func(id string) error { _, err := e.vault.Get(t.Context(), partyB, k.caseID, id); return err }},
			{"share", func(id string) error {
				_, err := e.vault.Share(t.Context(), partyB, k.caseID, id, k.audience(t, "joint"), true)
				return err
			}},
		} {
			run := func(id string) (string, []string, int64) {
				cs.take()
				n := e.log.Size()
				err := tr.call(id)
				ops := cs.take()
				if !errors.Is(err, fault.ErrNotFound) {
					t.Fatalf("%s of %s by party B: %v, want not found", tr.name, id, err)
				}
				return strings.ReplaceAll(err.Error(), id, "ID"), ops, e.log.Size() - n
			}
			refusedErr, refusedOps, refusedAudit := run(d.ID)
			missingErr, missingOps, missingAudit := run(missing)
			if refusedErr != missingErr {
				t.Errorf("%s: refused says %q, missing says %q", tr.name, refusedErr, missingErr)
			}
			if refusedAudit != 1 || missingAudit != 1 {
				t.Errorf("%s: %d audit entries for the refusal, %d for the missing document; want 1 each", tr.name, refusedAudit, missingAudit)
			}
			reads := func(ops []string) []string {
				return slices.DeleteFunc(slices.Clone(ops), func(op string) bool { return strings.Contains(op, " audit/") })
			}
			if fmt.Sprint(reads(refusedOps)) != fmt.Sprint(reads(missingOps)) {
				t.Errorf("%s: store work differs\nrefused: %v\nmissing: %v", tr.name, refusedOps, missingOps)
			}
		}
	})
}

// BenchmarkRefusedVsMissing times party B asking to download another
// side's document and one that does not exist (figures in BENCHMARKS.md).
func BenchmarkRefusedVsMissing(b *testing.B) {
	store, err := objstore.OpenDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, store)
	k := e.newCast(b)
	d := e.upload(b, k.who["mediator"], k.caseID, "a.pdf", k.audience(b, "caucus:A"), ClassEvidence, []byte("caucus A only"))
	for _, c := range []struct{ name, id string }{{"refused", d.ID}, {"missing", ids.New("d")}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.vault.Open(b.Context(), k.who["partyB"], k.caseID, c.id, 0, nil); !errors.Is(err, fault.ErrNotFound) {
					b.Fatal(err)
				}
			}
		})
	}
}
