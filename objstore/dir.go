package objstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Dir is a Store kept in a local directory, for the embedded single-process
// mode. It mirrors S3's versioned-bucket semantics closely enough that the
// same contract suite (storetest) passes against both.
//
// Layout under root:
//
//	objects/<key>/@<versionID>.data   the bytes of one version
//	objects/<key>/@<versionID>.json   its metadata (dirMeta); a delete
//	                                  marker has metadata and no data
//	tmp/                              writes in progress
//
// Each key is a directory, so "a" and "a/b" can both be objects: version
// files start with '@', which ValidateKey forbids, so they never collide
// with child keys.
//
// Crash safety comes from ordering, not from a journal. Bytes are streamed to
// tmp/, fsynced and renamed into place; only then is the metadata written
// the same way. The metadata file is the commit point: a version exists iff
// its .json exists, and the latest version is the highest versionID that has
// one. A crash leaves at worst an orphan .data file or a temp file, both
// invisible to readers (stale temp files are swept by OpenDir).
//
// Concurrency: every write to a key (Put, Delete, SetLegalHold) takes that
// key's mutex for its commit step, so conditional writes are checked and
// committed atomically and versionIDs of one key only ever grow. Streaming
// the body happens before the lock, so a slow upload does not block other
// writers.
//
// One process: the mutexes and the cache of keys' newest versions live in
// the process that opened the Dir, so only one process may write a root
// (use S3 for more). Another process's writes would not be seen (a key's
// cached version is read while its metadata exists, never a newer one),
// its conditional writes would not be atomic with this one's, and this
// one's next write of a key would sort above the other's, burying it.
// The Dir does not enforce it; Parley does: `parley serve` holds the lock
// of the data directory's journal (messaging.NewLocalLog), and every
// command that writes to the directory takes the same lock for its whole
// run (server.LockDataDir), so each refuses to start while the other
// runs. A process that only reads may open a root beside its writer with
// OpenDirToRead.
type Dir struct {
	objects string // root/objects
	tmp     string // root/tmp: same file system, so rename is atomic
	locks   [256]sync.Mutex
	// latestVID caches keys' newest version ids, so that reading or
	// overwriting an often-updated key (a checkpoint) does not list all
	// its versions every time (vidcache.go).
	latestVID vidCache
	// reader: opened by OpenDirToRead, beside the writing process; it
	// never trusts the cache, and scans for each key's newest version.
	reader bool
}

// errReader: a write through a Dir opened to read (OpenDirToRead), which
// holds no lock on the directory and must write nothing beside its writer.
var errReader = errors.New("objstore: directory opened to read only: no writes")

// dirMeta is the JSON stored in a version's .json file.
type dirMeta struct {
	ETag         string    `json:"etag,omitempty"`
	Size         int64     `json:"size"`
	Modified     time.Time `json:"modified"`
	ContentType  string    `json:"content_type,omitempty"`
	LegalHold    bool      `json:"legal_hold,omitempty"`
	DeleteMarker bool      `json:"delete_marker,omitempty"`
}

const (
	dataSuffix = ".data"
	metaSuffix = ".json"
	// staleTemp is how long a temp file may go unmodified before OpenDir
	// treats it as left behind by a crash. Uploads in progress keep
	// touching their temp file, so they are never mistaken for stale.
	staleTemp = time.Hour
	// commitRetries bounds the retry when a concurrent permanent delete
	// prunes an empty parent directory between our MkdirAll and rename.
	commitRetries = 10
)

var errRange = errors.New("objstore: byte range out of bounds")

var _ Store = (*Dir)(nil)

// OpenDir opens (creating if needed) a Dir store rooted at root. Directories
// are created 0700 and files 0600: the store holds ciphertext, but its
// metadata (key names, sizes, times) is still nobody else's business.
func OpenDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("objstore: dir root: %w", err)
	}
	d := &Dir{objects: filepath.Join(abs, "objects"), tmp: filepath.Join(abs, "tmp")}
	for _, p := range []string{d.objects, d.tmp} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("objstore: dir root: %w", err)
		}
	}
	d.sweepTemp()
	return d, nil
}

// OpenDirToRead opens an existing Dir store at root for a process that
// only reads it, possibly beside the process that writes it (`parley
// audit verify`): it makes nothing and sweeps no temp files, and the
// caller must not write with it. A root that does not exist is an error.
// It caches no version ids: every read of a key's latest version looks
// for the newest the writer has committed.
func OpenDirToRead(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("objstore: dir root: %w", err)
	}
	d := &Dir{objects: filepath.Join(abs, "objects"), tmp: filepath.Join(abs, "tmp"), reader: true}
	fi, err := os.Stat(d.objects)
	if err != nil {
		return nil, fmt.Errorf("objstore: dir root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("objstore: dir root: %s is not a directory", d.objects)
	}
	return d, nil
}

// sweepTemp removes temp files abandoned by a crash. Best effort: a failure
// only costs disk space.
func (d *Dir) sweepTemp() {
	entries, err := os.ReadDir(d.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(d.tmp, e.Name()))
		}
	}
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	if opts.Offset < 0 || opts.Length < 0 {
		return nil, Info{}, fmt.Errorf("%w: offset %d length %d", errRange, opts.Offset, opts.Length)
	}
	// Reading the latest version races with a permanent delete of it; the
	// open file would survive the unlink, but the file may be gone before we
	// open it. Then there is a newer latest (or none): look again, boundedly.
	for range 3 {
		if err := ctx.Err(); err != nil {
			return nil, Info{}, err
		}
		vid, m, err := d.resolve(key, opts.VersionID)
		if err != nil {
			return nil, Info{}, err
		}
		f, err := os.Open(d.versionPath(key, vid, dataSuffix))
		if errors.Is(err, fs.ErrNotExist) {
			if opts.VersionID != "" {
				return nil, Info{}, fmt.Errorf("%w: %s@%s", ErrNotFound, key, opts.VersionID)
			}
			continue
		}
		if err != nil {
			return nil, Info{}, fmt.Errorf("objstore: get %s: %w", key, err)
		}
		rc, err := rangeReader(f, m.Size, opts)
		if err != nil {
			f.Close()
			return nil, Info{}, err
		}
		return rc, m.info(key, vid), nil
	}
	return nil, Info{}, fmt.Errorf("%w: %s (deleted while reading)", ErrNotFound, key)
}

// rangeReader positions f for opts.Offset/Length. Like S3, a range running
// past the end is clamped, but one starting at or past the end of a
// non-empty object is an error.
func rangeReader(f *os.File, size int64, opts GetOptions) (io.ReadCloser, error) {
	if opts.Offset > size || opts.Offset == size && size > 0 {
		return nil, fmt.Errorf("%w: offset %d, size %d", errRange, opts.Offset, size)
	}
	n := size - opts.Offset
	if opts.Length > 0 && opts.Length < n {
		n = opts.Length
	}
	if _, err := f.Seek(opts.Offset, io.SeekStart); err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, n), f}, nil
}

// Stat implements Store.
func (d *Dir) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	vid, m, err := d.resolve(key, "")
	if err != nil {
		return Info{}, err
	}
	return m.info(key, vid), nil
}

// resolve finds a readable version: the given one, or the latest if vid is
// "". A delete marker is not readable, so it resolves to ErrNotFound as on
// S3.
func (d *Dir) resolve(key, vid string) (string, dirMeta, error) {
	var m dirMeta
	var ok bool
	var err error
	if vid == "" {
		vid, m, ok, err = d.latest(key)
	} else {
		m, ok, err = d.readMeta(key, vid)
	}
	if err != nil {
		return "", dirMeta{}, err
	}
	if !ok || m.DeleteMarker {
		return "", dirMeta{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return vid, m, nil
}

// Put implements Store. The body is streamed to a temp file outside the
// key lock; the lock covers only the precondition check and two renames.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if d.reader {
		return Info{}, errReader
	}

	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if opts.IfNoneMatch && opts.IfMatch != "" {
		return Info{}, errors.New("objstore: put: IfNoneMatch and IfMatch are exclusive")
	}
	tmp, etag, n, err := d.spool(ctx, r, size)
	if err != nil {
		return Info{}, err
	}
	defer os.Remove(tmp) // no-op once renamed into place

	unlock := d.lock(key)
	defer unlock()
	cur, curMeta, exists, err := d.latest(key)
	if err != nil {
		return Info{}, err
	}
	live := exists && !curMeta.DeleteMarker
	switch {
	case opts.IfNoneMatch && live:
		return Info{}, fmt.Errorf("%w: %s exists", ErrPrecondition, key)
	case opts.IfMatch != "" && (!live || curMeta.ETag != opts.IfMatch):
		return Info{}, fmt.Errorf("%w: %s changed", ErrPrecondition, key)
	}
	vid := nextVersionID(cur)
	if err := d.commitFile(tmp, d.versionPath(key, vid, dataSuffix)); err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	m := dirMeta{ETag: etag, Size: n, Modified: time.Now().UTC(), ContentType: opts.ContentType}
	if err := d.writeMeta(key, vid, m); err != nil {
		_ = os.Remove(d.versionPath(key, vid, dataSuffix))
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	d.latestVID.store(key, vid)
	return m.info(key, vid), nil
}

// spool copies r into a fsynced temp file, hashing as it goes, and returns
// the temp path, the ETag (hex SHA-256) and the byte count. With size >= 0
// exactly size bytes are taken and a shorter body is an error.
func (d *Dir) spool(ctx context.Context, r io.Reader, size int64) (name, etag string, n int64, err error) {
	f, err := os.CreateTemp(d.tmp, "put-*") // mode 0600
	if err != nil {
		return "", "", 0, fmt.Errorf("objstore: put: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	n, err = io.Copy(io.MultiWriter(f, h), src)
	if err != nil {
		return "", "", 0, fmt.Errorf("objstore: put: %w", err)
	}
	if size >= 0 && n != size {
		return "", "", 0, fmt.Errorf("objstore: put: body has %d bytes, want %d: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err = f.Sync(); err != nil {
		return "", "", 0, fmt.Errorf("objstore: put: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", "", 0, fmt.Errorf("objstore: put: %w", err)
	}
	return f.Name(), hex.EncodeToString(h.Sum(nil)), n, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key, versionID string) error {
	if d.reader {
		return errReader
	}

	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := d.lock(key)
	defer unlock()
	if versionID == "" {
		cur, m, ok, err := d.latest(key)
		if err != nil || !ok || m.DeleteMarker {
			// Nothing live to hide. (S3 would stack another marker; no
			// caller may depend on counting markers.)
			return err
		}
		marker := nextVersionID(cur)
		if err := d.writeMeta(key, marker, dirMeta{Modified: time.Now().UTC(), DeleteMarker: true}); err != nil {
			return err
		}
		d.latestVID.store(key, marker)
		return nil
	}
	m, ok, err := d.readMeta(key, versionID)
	if err != nil || !ok {
		return err // an unknown version is already deleted
	}
	if m.LegalHold {
		return fmt.Errorf("%w: %s@%s", ErrHeld, key, versionID)
	}
	d.latestVID.forget(key)
	// Metadata first: once it is gone the version no longer exists, even if
	// we crash before the data file follows.
	if err := os.Remove(d.versionPath(key, versionID, metaSuffix)); err != nil {
		return fmt.Errorf("objstore: delete %s: %w", key, err)
	}
	if err := os.Remove(d.versionPath(key, versionID, dataSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("objstore: delete %s: %w", key, err)
	}
	d.prune(key)
	return nil
}

// prune removes the key's directory and then its parents while they are
// empty, so permanently deleted keys leave no trace for List to walk.
// os.Remove refuses non-empty directories, which is what makes this safe
// against concurrent writers (see commitFile for the other half).
func (d *Dir) prune(key string) {
	for k := key; k != "." && k != ""; k = path.Dir(k) {
		if os.Remove(d.keyDir(k)) != nil {
			return
		}
	}
}

// List implements Store. Info.VersionID is left empty, as S3 listings do
// not carry it, so no caller comes to depend on it. It walks the directory tree so that keys come out
// in lexical byte order (see walk), without first collecting every key.
func (d *Dir) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return d.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements AfterLister: the walk passes over the keys up to
// startAfter without reading their metadata.
func (d *Dir) ListAfter(ctx context.Context, prefix, startAfter string, fn func(Info) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	parent, name := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		parent, name = prefix[:i], prefix[i+1:]
	}
	return d.walk(ctx, parent, name, func(key string) error {
		if key <= startAfter {
			return nil
		}
		// (A listing reads each key once: caching them all would only
		// push out the keys read often.)
		vid, m, ok, err := d.latestOf(key, false)
		if err != nil || !ok || m.DeleteMarker {
			return err
		}
		info := m.info(key, vid)
		info.VersionID = "" // as on S3, whose listings carry none
		return fn(info)
	})
}

// VersionsUnder implements Store: the same walk as List, visiting every
// key that has any version, live or not.
func (d *Dir) VersionsUnder(ctx context.Context, prefix string, fn func(Version) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	parent, name := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		parent, name = prefix[:i], prefix[i+1:]
	}
	return d.walk(ctx, parent, name, func(key string) error {
		vs, err := d.Versions(ctx, key)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteVersions implements Store, one version at a time.
func (d *Dir) DeleteVersions(ctx context.Context, versions []Info) []error {
	if d.reader {
		errs := make([]error, len(versions))
		for i := range errs {
			errs[i] = errReader
		}
		return errs
	}

	errs := make([]error, len(versions))
	for i, v := range versions {
		errs[i] = d.Delete(ctx, v.Key, v.VersionID)
	}
	return errs
}

// walk visits (calls visit with) the keys at and below the children of key
// directory parent whose names start with namePrefix, in lexical key
// order, whatever versions they hold.
//
// Sorting directory entries by name is not enough: key "a-c" sorts before
// "a/b" ('-' < '/') although directory "a" sorts before "a-c". So each entry
// n yields two items, the object n (sorting as "n") and its subtree (sorting
// as "n/"), and the items are sorted together.
func (d *Dir) walk(ctx context.Context, parent, namePrefix string, visit func(key string) error) error {
	entries, err := os.ReadDir(d.keyDir(parent))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // pruned under us, or never existed
	}
	if err != nil {
		return fmt.Errorf("objstore: list: %w", err)
	}
	type item struct {
		sortKey, name string
		subtree       bool
	}
	var items []item
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || strings.HasPrefix(n, "@") || !strings.HasPrefix(n, namePrefix) {
			continue
		}
		items = append(items, item{n, n, false}, item{n + "/", n, true})
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.sortKey, b.sortKey) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := it.name
		if parent != "" {
			key = parent + "/" + it.name
		}
		if it.subtree {
			if err := d.walk(ctx, key, "", visit); err != nil {
				return err
			}
			continue
		}
		if err := visit(key); err != nil {
			return err
		}
	}
	return nil
}

// Versions implements Store. A key with no versions at all is ErrNotFound;
// one whose history ends in a delete marker still has versions.
func (d *Dir) Versions(ctx context.Context, key string) ([]Version, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vids, err := d.versionIDs(key)
	if err != nil {
		return nil, err
	}
	var out []Version
	for _, vid := range vids {
		m, ok, err := d.readMeta(key, vid)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // permanently deleted since we listed
		}
		out = append(out, Version{Info: m.info(key, vid), IsLatest: len(out) == 0, DeleteMarker: m.DeleteMarker})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return out, nil
}

// SetLegalHold implements Store. As on S3, versionID "" means the latest
// version, and only a real version (not a delete marker) can be held.
func (d *Dir) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if d.reader {
		return errReader
	}

	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := d.lock(key)
	defer unlock()
	vid, m, err := d.resolve(key, versionID)
	if err != nil {
		return err
	}
	m.LegalHold = on
	return d.writeMeta(key, vid, m)
}

// LegalHold implements Store; versionID "" means the latest version.
func (d *Dir) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	if err := ValidateKey(key); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	_, m, err := d.resolve(key, versionID)
	if err != nil {
		return false, err
	}
	return m.LegalHold, nil
}

// Ping implements Store: the root must still be there.
func (d *Dir) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(d.objects); err != nil {
		return fmt.Errorf("objstore: dir: %w", err)
	}
	return nil
}

// --- versions and metadata files ---

func (d *Dir) keyDir(key string) string {
	return filepath.Join(d.objects, filepath.FromSlash(key))
}

func (d *Dir) versionPath(key, vid, suffix string) string {
	return filepath.Join(d.keyDir(key), "@"+vid+suffix)
}

// versionIDs lists the committed versions of key (those with metadata),
// newest first.
func (d *Dir) versionIDs(key string) ([]string, error) {
	entries, err := os.ReadDir(d.keyDir(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: %s: %w", key, err)
	}
	var vids []string
	for _, e := range entries {
		n := e.Name()
		if vid, ok := strings.CutSuffix(strings.TrimPrefix(n, "@"), metaSuffix); ok && n[0] == '@' && validVersionID(vid) {
			vids = append(vids, vid)
		}
	}
	slices.Sort(vids)
	slices.Reverse(vids)
	return vids, nil
}

// latest returns the newest committed version of key, which may be a
// delete marker; ok is false when the key has no versions.
func (d *Dir) latest(key string) (vid string, m dirMeta, ok bool, err error) {
	return d.latestOf(key, true)
}

// latestOf is latest; with remember, what a scan finds is cached.
func (d *Dir) latestOf(key string, remember bool) (vid string, m dirMeta, ok bool, err error) {
	if d.reader {
		return d.scanLatest(key)
	}
	v, cached, gen := d.latestVID.load(key)
	if cached {
		m, ok, err := d.readMeta(key, v)
		if err != nil || ok {
			return v, m, ok, err
		}
	}
	vid, m, ok, err = d.scanLatest(key)
	if err == nil && ok && remember {
		// Without the key's lock a Put may have stored a newer id since
		// the scan, and the entry may have been dropped since: fill
		// keeps what is there and gives up if anything was dropped.
		d.latestVID.fill(key, vid, gen)
	}
	return vid, m, ok, err
}

func (d *Dir) scanLatest(key string) (vid string, m dirMeta, ok bool, err error) {
	vids, err := d.versionIDs(key)
	if err != nil {
		return "", dirMeta{}, false, err
	}
	for _, vid := range vids {
		m, ok, err := d.readMeta(key, vid)
		if err != nil || ok {
			return vid, m, ok, err
		}
		// Deleted between ReadDir and now: the next one down is latest.
	}
	return "", dirMeta{}, false, nil
}

// readMeta reads one version's metadata; ok is false if it does not exist.
// Version IDs come from callers, so anything not shaped like one of ours is
// simply not found, and can never name a path outside the key directory.
func (d *Dir) readMeta(key, vid string) (m dirMeta, ok bool, err error) {
	if !validVersionID(vid) {
		return dirMeta{}, false, nil
	}
	b, err := os.ReadFile(d.versionPath(key, vid, metaSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		return dirMeta{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return dirMeta{}, false, fmt.Errorf("objstore: %s@%s metadata: %w", key, vid, err)
	}
	return m, true, nil
}

// writeMeta commits a version by atomically (re)placing its metadata file.
func (d *Dir) writeMeta(key, vid string, m dirMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(d.tmp, "meta-*")
	if err != nil {
		return fmt.Errorf("objstore: %s metadata: %w", key, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.commitFile(f.Name(), d.versionPath(key, vid, metaSuffix))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("objstore: %s metadata: %w", key, err)
	}
	return nil
}

// commitFile renames a fsynced temp file to dst, creating dst's directory,
// then fsyncs that directory so the rename itself survives a crash.
//
// A permanent delete elsewhere may prune an empty directory on dst's path
// between MkdirAll and Rename (prune only removes empty directories, and
// ours stays empty until the rename lands). The rename then fails with
// ErrNotExist and we simply recreate the path and retry.
func (d *Dir) commitFile(tmp, dst string) error {
	dir := filepath.Dir(dst)
	var err error
	for range commitRetries {
		if err = os.MkdirAll(dir, 0o700); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err = os.Rename(tmp, dst); err == nil {
			return syncDir(dir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (m dirMeta) info(key, vid string) Info {
	return Info{Key: key, ETag: m.ETag, VersionID: vid, Size: m.Size, Modified: m.Modified}
}

// lock takes the key's stripe mutex. Striping bounds memory whatever the
// number of keys; two keys sharing a stripe merely serialise their commits.
func (d *Dir) lock(key string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(key))
	mu := &d.locks[h.Sum32()%uint32(len(d.locks))]
	mu.Lock()
	return mu.Unlock
}

// --- version IDs ---

// A version ID is "<20-digit unix nanos>-<6-digit counter>": fixed width, so
// string order is time order and the latest version is simply the largest
// name. The counter makes IDs minted in the same nanosecond distinct.
var vidCounter atomic.Uint64

// nextVersionID mints an ID greater than after (the key's current latest,
// or ""), even if the wall clock has stepped backwards since after was
// minted. Callers hold the key lock, so per key the IDs strictly increase.
func nextVersionID(after string) string {
	nanos := time.Now().UnixNano()
	if prev, ok := versionNanos(after); ok && nanos <= prev {
		nanos = prev + 1
	}
	return fmt.Sprintf("%020d-%06d", nanos, vidCounter.Add(1)%1_000_000)
}

func versionNanos(vid string) (int64, bool) {
	if !validVersionID(vid) {
		return 0, false
	}
	n, err := strconv.ParseInt(vid[:20], 10, 64)
	return n, err == nil
}

func validVersionID(vid string) bool {
	if len(vid) != 27 || vid[20] != '-' {
		return false
	}
	for i := 0; i < len(vid); i++ {
		if i != 20 && (vid[i] < '0' || vid[i] > '9') {
			return false
		}
	}
	return true
}

// ctxReader stops a streaming copy promptly when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
