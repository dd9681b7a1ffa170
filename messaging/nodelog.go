package messaging

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-mediation/parley/objstore"
)

// A local journal keeps the journals of this process's incarnations as
// append-only files in a local directory instead of objects: with the
// local-directory store (one process, one disk), a group commit then costs
// one write and one fdatasync instead of a new object's data, metadata and
// directory fsyncs.
//
// Layout under the directory:
//
//	LOCK                                  held (flock) by the process using it
//	<incarnation>/<first seq>.log         the incarnation's segment files
//
// A segment file is a sequence of records, one per journal entry (the
// same JSON as a journal object): a 4-byte little-endian length, a 4-byte
// CRC-32C of the length and the payload, then the payload. An entry is
// acknowledged once its record is written and fdatasynced; the writer
// appends only after the previous record is durable, so only the last
// record of the last segment can be torn by a crash. Reading stops there
// (a torn record is never returned), and recovery truncates it.
//
// A busy journal's segment files are preallocated: once a segment is half
// full, a zero-filled file of journalSegmentSize bytes is prepared beside
// it (a spare), and the next segment starts as that file, renamed (a
// quiet journal's segments, and an incarnation's first, are plain files). An append then overwrites blocks that are already allocated and
// written, within the file's size, so its fdatasync flushes the data and
// no metadata: on ext4, no journal commit, which an append that grows the
// file needs at every sync. A segment is rolled only once its records
// reach the segment size, so only the last one has a zero-filled rest
// (where no record was written yet: reading stops there), and a record
// cut by a crash reads as a torn write whether zeros or the end of the
// file follow it.
//
// Compaction copies the entries' batches into their rooms' segments in the
// object store, as with journal objects, and a segment file is deleted
// once every entry in it is spent (the active one too: the next commit
// starts a new file), so ciphertext waits here no longer than it would in
// journal objects. A segment is rolled once it passes journalSegmentSize.
//
// Fencing needs no tombstone: only this process writes the directory (the
// lock), so fencing an incarnation of this process stops its writer (an
// append in flight finishes first), and an incarnation of an earlier
// process has no writer at all. Every reader and recovery path goes
// through Log's journal methods, which read either form.
type localJournal struct {
	root string
	lock *os.File
	// refs counts the Logs open on it (under localJournals' mutex): the
	// last one's Close releases the lock.
	refs int

	mu sync.Mutex
	// logs: the incarnations this process created or fenced. An entry
	// stays after its files are removed: dropped, a takeover of a room
	// whose claim names it would fence it with a journal object, and a
	// write started for one of this process's own would go to the store
	// as an object. So it holds this process's incarnations and those of
	// earlier processes found in the directory (at most a few per
	// restart), not every one ever made.
	logs map[string]*nodeLog
}

const (
	// journalSegmentSize: a segment file past this size is closed and the
	// next commit starts a new one.
	journalSegmentSize = 4 << 20
	recordHeader       = 8
	// maxRecord bounds one record's payload (as maxBatchObject bounds a
	// journal object).
	maxRecord   = maxBatchObject
	lockName    = "LOCK"
	segSuffix   = ".log"
	spareSuffix = ".spare"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errJournalFenced: an append to an incarnation's local journal after it
// was fenced. It is a precondition failure, as a journal object landing on
// a tombstone is.
var errJournalFenced = fmt.Errorf("messaging: this journal was fenced: %w", objstore.ErrPrecondition)

// localJournals shares one localJournal per directory within the process,
// so that every Service on it sees the others' incarnations (and holds
// the directory's lock once), while any Log on it is open.
var localJournals struct {
	sync.Mutex
	m map[string]*localJournal
}

// ErrJournalInUse: another process holds the lock of a journal directory
// (a serving process's Log, or a command's HoldJournalDir), or, for
// HoldJournalDir, an open Log of this process does.
var ErrJournalInUse = errors.New("in use by another process")

// errLocked: lockFile found the lock held by another descriptor.
var errLocked = errors.New("lock held elsewhere")

// openLocalJournal opens (creating if needed) the local journal in dir.
func openLocalJournal(dir string) (*localJournal, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	localJournals.Lock()
	defer localJournals.Unlock()
	if j := localJournals.m[abs]; j != nil {
		j.refs++
		return j, nil
	}
	lock, err := lockJournalDir(abs)
	if err != nil {
		return nil, err
	}
	j := &localJournal{root: abs, lock: lock, refs: 1, logs: map[string]*nodeLog{}}
	if localJournals.m == nil {
		localJournals.m = map[string]*localJournal{}
	}
	localJournals.m[abs] = j
	return j, nil
}

// lockJournalDir makes the directory abs if need be and takes its lock
// with a descriptor of its own: flock excludes another descriptor of this
// process as it does another process.
func lockJournalDir(abs string) (*os.File, error) {
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("messaging: journal directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(abs, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("messaging: journal directory: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("messaging: journal directory %s is %w", abs, ErrJournalInUse)
		}
		return nil, fmt.Errorf("messaging: locking journal directory %s: %w", abs, err)
	}
	return lock, nil
}

// release drops one Log's use of j; the last one ends the writers still
// open and closes the lock, so that a command (HoldJournalDir) or a later
// NewLocalLog may take the directory: for that one j is an earlier
// process's, whose incarnations it finds in the directory and recovers.
func (j *localJournal) release() {
	localJournals.Lock()
	defer localJournals.Unlock()
	if j.refs--; j.refs > 0 {
		return
	}
	if localJournals.m[j.root] == j {
		delete(localJournals.m, j.root)
	}
	j.mu.Lock()
	ids := make([]string, 0, len(j.logs))
	for id := range j.logs {
		ids = append(ids, id)
	}
	j.mu.Unlock()
	for _, id := range ids {
		j.close(id)
	}
	j.lock.Close()
}

// HoldJournalDir takes the lock of the journal directory dir (making it
// if need be) for a process that writes the local-directory store without
// a journal of its own there: a CLI command, which holds it for its whole
// run. While it is held NewLocalLog on dir fails, in this process or
// another; it fails with ErrJournalInUse while a Log of this process or
// any lock of another process (a serving process, another command) is on
// dir. release gives the lock back (once; later calls do nothing).
func HoldJournalDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	localJournals.Lock()
	defer localJournals.Unlock()
	if localJournals.m[abs] != nil {
		return nil, fmt.Errorf("messaging: journal directory %s is %w", abs, ErrJournalInUse)
	}
	lock, err := lockJournalDir(abs)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { lock.Close() }) }, nil
}

// nodeLog is one incarnation's journal files.
type nodeLog struct {
	id  string
	dir string
	mu  sync.Mutex // held by an append (write and fdatasync) and by fence
	// own: created by this process, so segs is exact (what is durable);
	// otherwise the files are read from the directory.
	own    bool
	f      *os.File // the active segment (the last of segs), nil when none
	segs   []*logSeg
	last   int64 // last seq appended
	made   bool  // its directory exists
	fenced bool
	closed bool
	broken error // a failed write: nothing more is appended
	// buf is the last record's buffer, reused by the next append (under
	// mu) unless a large entry grew it past keepRecordBuf.
	buf []byte
	// spare is a zero-filled file ready to become the next segment (""
	// when none); prepping: one is being made, by a goroutine that prep
	// counts (close and fence wait for it).
	spare    string
	prepping bool
	prep     sync.WaitGroup
}

// keepRecordBuf is the largest record buffer a nodeLog keeps for reuse.
const keepRecordBuf = 1 << 20

// logSeg is one segment file and what of it is durable and spent.
type logSeg struct {
	path     string
	first    int64
	n, spent int
	size     int64 // durable bytes
}

// create registers a new incarnation of this process (no file yet).
func (j *localJournal) create(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.logs[id] = &nodeLog{id: id, dir: filepath.Join(j.root, id), own: true}
}

func (j *localJournal) get(id string) *nodeLog {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.logs[id]
}

// writer returns the log of an incarnation this process created.
func (j *localJournal) writer(id string) *nodeLog {
	if nl := j.get(id); nl != nil && nl.isOwn() {
		return nl
	}
	return nil
}

func (nl *nodeLog) isOwn() bool {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	return nl.own
}

// has reports whether id's journal is a local one: an incarnation of this
// process, or one whose files are in the directory.
func (j *localJournal) has(id string) bool {
	if j.get(id) != nil {
		return true
	}
	if !validIncarnation(id) {
		return false
	}
	_, err := os.Stat(filepath.Join(j.root, id))
	return err == nil
}

func validIncarnation(id string) bool {
	return id != "" && id != "." && id != ".." && id != lockName && !strings.ContainsAny(id, `/\`)
}

// fence ends id's local journal for good: no append lands after it
// returns. False when id has no local journal.
func (j *localJournal) fence(id string) bool {
	if !j.has(id) {
		return false
	}
	j.mu.Lock()
	nl := j.logs[id]
	if nl == nil {
		// An incarnation of an earlier process: nobody writes its files.
		nl = &nodeLog{id: id, dir: filepath.Join(j.root, id)}
		j.logs[id] = nl
	}
	j.mu.Unlock()
	nl.mu.Lock()
	nl.fenced = true
	nl.closeFile()
	nl.mu.Unlock()
	nl.dropSpare()
	return true
}

// fenced reports whether id's local journal has been fenced.
func (j *localJournal) isFenced(id string) bool {
	nl := j.get(id)
	if nl == nil {
		return false
	}
	nl.mu.Lock()
	defer nl.mu.Unlock()
	return nl.fenced
}

// close ends the writer of an incarnation of this process (on Close, or
// once the incarnation ended) without fencing it: its files stay for
// whoever recovers them. It waits for a spare being written, and deletes
// the spare.
func (j *localJournal) close(id string) {
	if nl := j.get(id); nl != nil {
		nl.mu.Lock()
		nl.closed = true
		nl.closeFile()
		nl.mu.Unlock()
		nl.dropSpare()
	}
}

// dropSpare waits for a spare being prepared and deletes the spare, once
// nl is closed or fenced (nothing makes a new one then).
func (nl *nodeLog) dropSpare() {
	nl.prep.Wait()
	nl.mu.Lock()
	spare := nl.spare
	nl.spare = ""
	nl.mu.Unlock()
	if spare != "" {
		os.Remove(spare)
	}
}

// zeros is what a spare segment is filled with.
var zeros [256 << 10]byte

// prepareSpare starts making a spare segment file, named after seq,
// unless there is one or one is being made; nl.mu is held, and nl's
// directory exists.
func (nl *nodeLog) prepareSpare(seq int64) {
	if nl.spare != "" || nl.prepping || nl.fenced || nl.closed || nl.broken != nil {
		return
	}
	nl.prepping = true
	path := filepath.Join(nl.dir, fmt.Sprintf("%020d%s", seq, spareSuffix))
	nl.prep.Go(func() {
		err := zeroFile(path, journalSegmentSize)
		nl.mu.Lock()
		nl.prepping = false
		keep := err == nil && nl.spare == "" && !nl.fenced && !nl.closed && nl.broken == nil
		if keep {
			nl.spare = path
		}
		nl.mu.Unlock()
		if !keep {
			os.Remove(path)
		}
	})
}

// zeroFile creates path with size zero bytes, durable (not its name: the
// rename that makes it a segment syncs the directory).
func zeroFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.Write(zeros[:min(int64(len(zeros)), size-off)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (nl *nodeLog) closeFile() {
	if nl.f != nil {
		nl.f.Close()
		nl.f = nil
	}
}

// nodes lists the incarnations with files in the directory.
func (j *localJournal) nodes() ([]string, error) {
	des, err := os.ReadDir(j.root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		if de.IsDir() && validIncarnation(de.Name()) {
			out = append(out, de.Name())
		}
	}
	return out, nil
}

// frame encodes one record.
func frame(payload []byte) []byte {
	rec := make([]byte, recordHeader, recordHeader+len(payload))
	return sealRecord(append(rec, payload...))
}

// sealRecord fills in the header of rec, a record whose payload follows
// its recordHeader bytes.
func sealRecord(rec []byte) []byte {
	payload := rec[recordHeader:]
	binary.LittleEndian.PutUint32(rec, uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(rec[:4], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(rec[4:], crc)
	return rec
}

// append writes e as the next record of its incarnation's journal and
// returns once it is durable.
func (nl *nodeLog) append(e *journalWrite) error {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	// The payload is encoded right after the header's room (no copy),
	// into the buffer of the last record: the file has its bytes once
	// written.
	rec := nl.buf[:0]
	if need := recordHeader + e.sizeHint(); cap(rec) < need {
		rec = make([]byte, 0, need)
	}
	rec = e.appendTo(rec[:recordHeader])
	if cap(rec) <= keepRecordBuf {
		nl.buf = rec
	} else {
		nl.buf = nil
	}
	if len(rec)-recordHeader > maxRecord {
		return fmt.Errorf("messaging: journal entry of %d bytes is over the limit", len(rec)-recordHeader)
	}
	rec = sealRecord(rec)
	switch {
	case nl.fenced || !nl.own:
		return errJournalFenced
	case nl.closed:
		return ErrClosed
	case nl.broken != nil:
		return nl.broken
	case nl.last != 0 && e.Seq != nl.last+1:
		return fmt.Errorf("messaging: journal %s: entry %d after %d", nl.id, e.Seq, nl.last)
	}
	if nl.f == nil || nl.segs[len(nl.segs)-1].size >= journalSegmentSize {
		if err := nl.roll(e.Seq); err != nil {
			nl.broken = fmt.Errorf("messaging: journal segment: %w", err)
			return nl.broken
		}
	}
	seg := nl.segs[len(nl.segs)-1]
	if _, err := nl.f.WriteAt(rec, seg.size); err != nil {
		nl.broken = fmt.Errorf("messaging: journal write: %w", err)
		return nl.broken
	}
	if err := fdatasync(nl.f); err != nil {
		nl.broken = fmt.Errorf("messaging: journal sync: %w", err)
		return nl.broken
	}
	seg.n++
	seg.size += int64(len(rec))
	nl.last = e.Seq
	if seg.size >= journalSegmentSize/2 {
		nl.prepareSpare(e.Seq + 1)
	}
	return nil
}

// roll closes the active segment (its records are durable) and starts a
// new one at seq; nl.mu is held.
func (nl *nodeLog) roll(seq int64) error {
	nl.closeFile()
	if !nl.made {
		if err := os.MkdirAll(nl.dir, 0o700); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(nl.dir)); err != nil {
			return err
		}
		nl.made = true
	}
	path := filepath.Join(nl.dir, fmt.Sprintf("%020d%s", seq, segSuffix))
	var f *os.File
	if spare := nl.spare; spare != "" {
		nl.spare = ""
		if err := os.Rename(spare, path); err != nil {
			os.Remove(spare)
		} else if f, err = os.OpenFile(path, os.O_WRONLY, 0); err != nil {
			os.Remove(path)
			return err
		}
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return err
		}
	}
	if err := syncDir(nl.dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	nl.f = f
	nl.segs = append(nl.segs, &logSeg{path: path, first: seq})
	return nil
}

// release marks the given entries spent (copied into their rooms'
// segments) and deletes every segment file all of whose entries are.
func (nl *nodeLog) release(seqs []int64) error {
	var gone []string
	nl.mu.Lock()
	for _, seq := range seqs {
		for _, seg := range nl.segs {
			if seq >= seg.first && seq < seg.first+int64(seg.n) {
				seg.spent++
				break
			}
		}
	}
	keep := nl.segs[:0]
	for i, seg := range nl.segs {
		if seg.n > 0 && seg.spent >= seg.n {
			if i == len(nl.segs)-1 {
				nl.closeFile() // the next commit starts a new file
			}
			gone = append(gone, seg.path)
			continue
		}
		keep = append(keep, seg)
	}
	nl.segs = keep
	nl.mu.Unlock()
	var errs []error
	for _, p := range gone {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// segFile is a segment file to read and how much of it.
type segFile struct {
	path  string
	first int64
	limit int64 // bytes known durable; -1: all of it, a torn end possible
}

// files lists id's segment files in order.
func (j *localJournal) files(id string) ([]segFile, error) {
	if nl := j.get(id); nl != nil {
		nl.mu.Lock()
		if nl.own && nl.broken == nil {
			out := make([]segFile, len(nl.segs))
			for i, s := range nl.segs {
				out[i] = segFile{path: s.path, first: s.first, limit: s.size}
			}
			nl.mu.Unlock()
			return out, nil
		}
		// Not this process's, or a failed write may have left part of a
		// record: read the files as they are, as after a crash.
		nl.mu.Unlock()
	}
	dir := filepath.Join(j.root, id)
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []segFile
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), segSuffix)
		if !ok || de.IsDir() {
			continue
		}
		first, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, segFile{path: filepath.Join(dir, de.Name()), first: first, limit: -1})
	}
	slices.SortFunc(out, func(a, b segFile) int { return cmp.Compare(a.first, b.first) })
	return out, nil
}

// entries reads id's journal: every complete record, in order. A torn
// last record (a crash during its write: it was never acknowledged) is
// left out, and with truncate (id is fenced: nobody writes it) cut off
// the file. A bad record anywhere else is an error: the journal is kept
// for an operator rather than read in part.
func (j *localJournal) entries(id string, truncate bool) ([]*journalEntry, error) {
	files, err := j.files(id)
	if err != nil {
		return nil, err
	}
	var out []*journalEntry
	next := int64(0)
	for i, sf := range files {
		data, err := readSegment(sf)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released (compacted) since the listing
		}
		if err != nil {
			return nil, err
		}
		if next != 0 && sf.first != next {
			// Released files leave gaps only before the first kept one.
			if sf.first < next {
				return nil, fmt.Errorf("messaging: journal %s: segment %d overlaps", id, sf.first)
			}
		}
		next = sf.first
		off := 0
		for off < len(data) {
			payload, n, ok := parseRecord(data[off:])
			if !ok {
				if i == len(files)-1 && sf.limit < 0 && torn(data[off:]) {
					// The torn end of the last write.
					if truncate {
						if err := truncateFile(sf.path, int64(off)); err != nil {
							return nil, err
						}
					}
					break
				}
				return nil, fmt.Errorf("messaging: journal %s: bad record at byte %d of %s", id, off, filepath.Base(sf.path))
			}
			e, err := decodeJournal(id, next, payload)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			next++
			off += n
		}
	}
	return out, nil
}

// readSegment reads a segment file, up to its durable size when known.
func readSegment(sf segFile) ([]byte, error) {
	f, err := os.Open(sf.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if sf.limit >= 0 {
		r = io.LimitReader(f, sf.limit)
	}
	return io.ReadAll(r)
}

// torn reports whether rest, which does not start with an intact record,
// is what a crash during the last append leaves: part of one record, then
// the end of the file or the zeros of a preallocated one. The append
// writes the record after the last one in one call, so its length is
// either missing, zero (its page not written: then anything after it is
// of this record or zeros), or names an end at or past the end of the
// file, or one followed only by zeros. A record that fails its checksum
// with other data after it is damage, not a torn write.
func torn(rest []byte) bool {
	if len(rest) < recordHeader {
		return true
	}
	size := int64(binary.LittleEndian.Uint32(rest))
	if size == 0 && binary.LittleEndian.Uint32(rest[4:]) == 0 {
		return len(rest) <= recordHeader+maxRecord || allZero(rest)
	}
	end := recordHeader + size
	if end >= int64(len(rest)) {
		return len(rest) <= recordHeader+maxRecord // else longer than any one record
	}
	return size <= maxRecord && allZero(rest[end:])
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseRecord returns the first record of data and its length; ok is
// false when data does not start with a whole, intact record.
func parseRecord(data []byte) (payload []byte, n int, ok bool) {
	if len(data) < recordHeader {
		return nil, 0, false
	}
	size := int(binary.LittleEndian.Uint32(data))
	if size > maxRecord || len(data)-recordHeader < size {
		return nil, 0, false
	}
	payload = data[recordHeader : recordHeader+size]
	crc := crc32.Update(crc32.Checksum(data[:4], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(data[4:]) {
		return nil, 0, false
	}
	return payload, recordHeader + size, true
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// remove deletes id's journal files (recovered into the rooms' segments).
// id stays fenced.
func (j *localJournal) remove(id string) error {
	if nl := j.get(id); nl != nil {
		nl.mu.Lock()
		nl.closeFile()
		nl.segs = nil
		nl.mu.Unlock()
		nl.prep.Wait() // a spare being written: none starts once fenced
	}
	if !validIncarnation(id) {
		return nil
	}
	if err := os.RemoveAll(filepath.Join(j.root, id)); err != nil {
		return err
	}
	return syncDir(j.root)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
