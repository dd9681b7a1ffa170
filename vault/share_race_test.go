package vault

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// gatedReader yields its first part, then waits for release before the
// rest: an upload caught mid-stream.
type gatedReader struct {
	first, rest io.Reader
	started     chan struct{}
	release     chan struct{}
	waited      bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	n, err := g.first.Read(p)
	if n > 0 || !errors.Is(err, io.EOF) {
		return n, err
	}
	if !g.waited {
		g.waited = true
		close(g.started)
		<-g.release
	}
	return g.rest.Read(p)
}

// A version that was uploading while its document was shared to a wider
// audience is refused, not slipped in under the share: the people who
// newly gained access would see a version nobody reviewed for them. The
// refused version leaves no object behind.
func TestVersionUploadRacingAShareIsRefused(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("reviewed offer"))

		g := &gatedReader{first: strings.NewReader(strings.Repeat("draft ", 20000)), rest: strings.NewReader("unreviewed"),
			started: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := e.vault.AddVersion(ctx, k.who["counselA"], k.caseID, d.ID, NewVersion{}, g)
			done <- err
		}()
		<-g.started
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "joint"), false); err != nil {
			close(g.release)
			t.Fatal(err)
		}
		close(g.release)
		if err := <-done; !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("version uploaded across a share: %v", err)
		}
		got, err := e.vault.Get(ctx, k.who["partyB"], k.caseID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Versions) != 1 || got.Versions[0].Version != 1 {
			t.Fatalf("side B sees versions %+v", got.Versions)
		}
		for _, key := range []string{objectKey(k.caseID, d.ID, 2), versionKey(k.caseID, d.ID, 2)} {
			if vs, err := store.Versions(ctx, key); err == nil && len(vs) > 0 {
				t.Errorf("refused version left %s behind: %+v", key, vs)
			}
		}
	})
}
