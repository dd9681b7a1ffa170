package retention

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
)

// flushFunc is a CarryFlusher.
type flushFunc func(ctx context.Context, caseID string) (int, error)

func (f flushFunc) FlushCarries(ctx context.Context, caseID string) (int, error) {
	return f(ctx, caseID)
}

// A case's carries are not disposed of while a carry record holds audit
// events not yet in the log (review M3): before, retention checked only
// the case record's outbox and deleted keydir/carries/<case>/, losing
// them. The refusal is a 503, as for the case record, and the apply goes
// on once the events are flushed (Config.Carries, tried first).
func TestCarriesWithPendingEventsAreNotDisposed(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dir)
	ctx := t.Context()
	tc := e.newCase(t, nil)
	key := "keydir/carries/" + tc.id + "/" + ids.New("cr")
	type pending struct {
		Nonce string `json:"nonce"`
	}
	type carry struct {
		ID        string    `json:"id"`
		Unaudited []pending `json:"unaudited,omitempty"`
	}
	if _, err := e.meta.Create(ctx, key, carry{ID: "cr", Unaudited: []pending{{Nonce: "n"}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ret.checkCarries(ctx, tc.id); !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("checkCarries with a pending carry event: %v, want unavailable", err)
	}
	flushed := 0
	e.ret.carries = flushFunc(func(ctx context.Context, caseID string) (int, error) {
		flushed++
		var old carry
		etag, err := e.meta.Get(ctx, key, &old)
		if err != nil {
			return 1, err
		}
		_, err = e.meta.Replace(ctx, key, carry{ID: "cr"}, etag)
		return 0, err
	})
	if err := e.ret.checkCarries(ctx, tc.id); err != nil || flushed != 1 {
		t.Fatalf("checkCarries after a flush: %v (flushed %d), want nil", err, flushed)
	}
}
