package mail

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// gateStore is a real store whose calls can be stopped, once each, at a
// chosen operation on a chosen key (at): the call waits there until the
// test lets it go on, or fails it, so that two callers' steps interleave
// in an order the test chooses.
type gateStore struct {
	objstore.Store
	mu    sync.Mutex
	gates map[string]*gate
}

type gate struct {
	reached chan struct{}
	// release says how the stopped call ends: nil, it goes on;
	// errAfterWrite, it is made and then fails (a node stopped right
	// after it); another error, it fails unmade.
	release chan error
}

// errAfterWrite: the call is made, and its caller told it failed.
var errAfterWrite = errors.New("stopped after the write")

func newGateStore(store objstore.Store) *gateStore {
	return &gateStore{Store: store, gates: map[string]*gate{}}
}

// at arms a gate at the next call of op ("Get", "Stat", "Put",
// "Versions", "DeleteVersions") on key.
func (s *gateStore) at(op, key string) *gate {
	g := &gate{reached: make(chan struct{}), release: make(chan error, 1)}
	s.mu.Lock()
	s.gates[op+" "+key] = g
	s.mu.Unlock()
	return g
}

// wait waits (bounded) until a call is stopped at g.
func (g *gate) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was never reached", what)
	}
}

// stop stops a call of op on key at its gate, if one is armed, and says
// how it is to end.
func (s *gateStore) stop(ctx context.Context, op, key string) error {
	s.mu.Lock()
	g := s.gates[op+" "+key]
	delete(s.gates, op+" "+key)
	s.mu.Unlock()
	if g == nil {
		return nil
	}
	close(g.reached)
	select {
	case err := <-g.release:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *gateStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if err := s.stop(ctx, "Get", key); err != nil {
		return nil, objstore.Info{}, err
	}
	return s.Store.Get(ctx, key, opts)
}

func (s *gateStore) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if err := s.stop(ctx, "Stat", key); err != nil {
		return objstore.Info{}, err
	}
	return s.Store.Stat(ctx, key)
}

func (s *gateStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	err := s.stop(ctx, "Put", key)
	if err != nil && !errors.Is(err, errAfterWrite) {
		return objstore.Info{}, err
	}
	info, perr := s.Store.Put(ctx, key, r, size, opts)
	if perr != nil {
		return info, perr
	}
	return info, err
}

func (s *gateStore) Versions(ctx context.Context, key string) ([]objstore.Version, error) {
	if err := s.stop(ctx, "Versions", key); err != nil {
		return nil, err
	}
	return s.Store.Versions(ctx, key)
}

func (s *gateStore) DeleteVersions(ctx context.Context, versions []objstore.Info) []error {
	if len(versions) > 0 {
		if err := s.stop(ctx, "DeleteVersions", versions[0].Key); err != nil {
			errs := make([]error, len(versions))
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
	}
	return s.Store.DeleteVersions(ctx, versions)
}
