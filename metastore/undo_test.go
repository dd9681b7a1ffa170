package metastore

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// failingPuts fails every Put with err, writing nothing.
type failingPuts struct {
	objstore.Store
	err error
}

func (f failingPuts) Put(ctx context.Context, key string, r io.Reader, size int64, o objstore.PutOptions) (objstore.Info, error) {
	return objstore.Info{}, f.err
}

// CreateOrUndo undoes the first write only when the create surely did not
// land: a plain refusal with nothing stored is undone; a create cut short
// by a timeout or a cancelled caller may still land later, so it is not.
func TestCreateOrUndoUndoesOnlyWhatSurelyFailed(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		cancel   bool
		wantUndo bool
	}{
		{"refused", errors.New("the store refused the write"), false, true},
		{"timed out", context.DeadlineExceeded, false, false},
		{"caller gone", errors.New("request aborted"), true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj, err := objstore.OpenDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(failingPuts{Store: obj, err: c.err}, recordsKey(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			if c.cancel {
				cancel()
			}
			defer cancel()
			undone := false
			err = CreateOrUndo(ctx, s, "answers/1", map[string]int{"q": 1}, func(context.Context) error { undone = true; return nil })
			if err == nil {
				t.Fatal("a create that failed reported success")
			}
			if undone != c.wantUndo {
				t.Fatalf("undone = %v, want %v (err %v)", undone, c.wantUndo, err)
			}
		})
	}
}
