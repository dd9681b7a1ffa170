package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-mediation/parley/objstore"
)

// Object layout. Indices and sizes are zero-padded to 20 digits (enough for
// any int64) so that the store's lexical List order is numeric order. The
// audit log lives under DefaultPrefix; another log built on this machinery
// (the key directory) lives under its own prefix, see [OpenWithPrefix].
const (
	// DefaultPrefix is where the audit log's objects live.
	DefaultPrefix = "audit/"
	entriesPrefix = DefaultPrefix + "entries/"
	latestKey     = DefaultPrefix + "checkpoint"
	indexDigits   = 20

	// maxObject bounds what is read into memory for one entry or
	// checkpoint; anything larger was not written by this package.
	maxObject = 64 << 10

	// fetchWorkers is how many entries are read in parallel when a whole log
	// is loaded; against S3 a sequential read is latency-bound.
	fetchWorkers = 16
	// fetchChunk is how many entries are held in memory at once while
	// loading, so that Open and Verify stream a large log.
	fetchChunk = 1024
)

// layout names the objects of one log: <prefix>entries/…, <prefix>checkpoint
// and <prefix>checkpoints/….
type layout string

func (p layout) entries() string     { return string(p) + "entries/" }
func (p layout) latest() string      { return string(p) + "checkpoint" }
func (p layout) checkpoints() string { return string(p) + "checkpoints/" }
func (p layout) entry(i int64) string {
	return fmt.Sprintf("%s%0*d", p.entries(), indexDigits, i)
}
func (p layout) checkpoint(n int64) string {
	return fmt.Sprintf("%s%0*d", p.checkpoints(), indexDigits, n)
}

// validPrefix checks a log prefix: non-empty, ending in "/", and made of
// the characters object keys allow.
func validPrefix(prefix string) error {
	if prefix == "" || !strings.HasSuffix(prefix, "/") || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("audit: log prefix %q must be non-empty and end in /", prefix)
	}
	for _, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/", c)) {
			return fmt.Errorf("audit: log prefix %q has a character object keys do not allow", prefix)
		}
	}
	return nil
}

const defaultLayout layout = DefaultPrefix

func entryKey(i int64) string { return defaultLayout.entry(i) }

// parseIndexKey returns the number at the end of key, which must be prefix
// followed by exactly indexDigits decimal digits.
func parseIndexKey(prefix, key string) (int64, error) {
	s, ok := strings.CutPrefix(key, prefix)
	if !ok || len(s) != indexDigits {
		return 0, fmt.Errorf("audit: unexpected object %q under %s", key, prefix)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("audit: unexpected object %q under %s", key, prefix)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("audit: unexpected object %q under %s", key, prefix)
	}
	return n, nil
}

// listIndexed lists the numbered objects under prefix and returns their
// numbers in order.
func listIndexed(ctx context.Context, store objstore.Store, prefix string) ([]int64, error) {
	var out []int64
	err := store.List(ctx, prefix, func(info objstore.Info) error {
		n, err := parseIndexKey(prefix, info.Key)
		if err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", prefix, err)
	}
	return out, nil
}

// countEntries lists the entries and returns how many there are, failing if
// the indices are not exactly 0, 1, …, n-1. Because every writer creates
// entry N only after reading entry N-1, a gap can only come from deletion.
func countEntries(ctx context.Context, store objstore.Store, lay layout) (int64, error) {
	idx, err := listIndexed(ctx, store, lay.entries())
	if err != nil {
		return 0, err
	}
	for want, got := range idx {
		if got != int64(want) {
			return 0, fmt.Errorf("audit: entry %d is missing (gap in indices: next stored entry is %d of %d listed)", want, got, len(idx))
		}
	}
	return int64(len(idx)), nil
}

// errTooLarge is wrapped by readObject's error for an object larger than
// maxObject.
var errTooLarge = fmt.Errorf("larger than %d bytes", maxObject)

// readObject reads a whole object of at most maxObject bytes.
func readObject(ctx context.Context, store objstore.Store, key string) ([]byte, objstore.Info, error) {
	rc, info, err := store.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		return nil, objstore.Info{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxObject+1))
	if err != nil {
		return nil, objstore.Info{}, fmt.Errorf("audit: read %s: %w", key, err)
	}
	if len(data) > maxObject {
		return nil, objstore.Info{}, fmt.Errorf("audit: %s: %w", key, errTooLarge)
	}
	return data, info, nil
}

func putObject(ctx context.Context, store objstore.Store, key string, data []byte, opts objstore.PutOptions) (objstore.Info, error) {
	return store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), opts)
}

// fetchEntries reads entries [from, to) in parallel and checks each
// (readEntry: a canonical event, and its signature if it has one; the
// workers check signatures, so they are checked in parallel too), with an
// error for each entry that fails. A missing entry is an error: the
// caller has already established that they exist.
func fetchEntries(ctx context.Context, store objstore.Store, lay layout, v note.Verifier, from, to int64) ([]fetched, []error, error) {
	count := int(to - from)
	out := make([]fetched, count)
	errs := make([]error, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(fetchWorkers, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				idx := from + int64(i)
				raw, _, err := readObject(ctx, store, lay.entry(idx))
				switch {
				case errors.Is(err, objstore.ErrNotFound):
					errs[i] = fmt.Errorf("audit: entry %d is missing", idx)
				case errors.Is(err, errTooLarge): // larger than any entry a node writes
					errs[i] = fmt.Errorf("audit: entry %d (%s): %w: %w", idx, lay.entry(idx), err, ErrForgedEntry)
				case err != nil:
					errs[i] = fmt.Errorf("audit: entry %d: %w", idx, err)
				default:
					out[i], errs[i] = readEntry(v, lay.entry(idx), idx, raw)
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return out, errs, nil
}

// loadEntries streams entries [from, to) into t in chunks, checking that
// each is a canonical event and, with auth, that it is signed where it
// must be.
func loadEntries(ctx context.Context, store objstore.Store, lay layout, v note.Verifier, auth *entryAuth, t *tree, from, to int64) error {
	for lo := from; lo < to; lo += fetchChunk {
		hi := min(lo+fetchChunk, to)
		chunk, errs, err := fetchEntries(ctx, store, lay, v, lo, hi)
		if err != nil {
			return err
		}
		// In index order, so that the error names the first bad entry.
		for i, f := range chunk {
			if errs[i] != nil {
				return errs[i]
			}
			idx := lo + int64(i)
			if idx != t.n {
				return fmt.Errorf("audit: internal error: adding entry %d to tree of %d", idx, t.n)
			}
			if err := auth.admit(lay, idx, f); err != nil {
				return err
			}
			if err := t.add(f.event); err != nil {
				return err
			}
		}
	}
	return nil
}
