package cases

import "sync"

// listCacheBytes bounds the case records a node keeps for case lists
// (caseListCache), counted by their stored (sealed) size.
const listCacheBytes = 16 << 20

// caseListCache keeps, on one node, the case records its case lists read
// (List), each with the ETag of the stored version it was decoded from,
// so that the next list reads and decrypts again only the records whose
// ETag changed. It decides nothing: every list still lists every case
// record in the store with its current ETag, and a record is taken from
// here only when its ETag is the one the store lists now — the same
// stored version (the ETag is the content's hash on the directory store
// and MinIO, and on any store what its conditional writes compare: every
// change of a case already relies on a changed record having a new one)
// — and policy then decides on it exactly as on a record just read. A record the
// listing no longer has (disposed of) is dropped; a record with
// mediators waiting for their notice period to pass (PendingMediators)
// is never kept, so List reads it and activates them when due.
//
// The records kept are shared by concurrent lists and never changed:
// List only reads them (policy facts, summary, title, relation).
type caseListCache struct {
	mu      sync.Mutex
	entries map[string]listCached // by record key
	bytes   int64                 // the stored sizes of entries
}

type listCached struct {
	etag string
	size int64
	c    *Case
}

// get returns the record kept for key at version etag, or nil.
func (l *caseListCache) get(key, etag string) *Case {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok || etag == "" || e.etag != etag {
		return nil
	}
	return e.c
}

// put keeps c, read from key at version etag (size bytes stored), in
// place of what was kept for key, unless the cache would grow past
// listCacheBytes.
func (l *caseListCache) put(key, etag string, size int64, c *Case) {
	if etag == "" || len(c.PendingMediators) > 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[string]listCached{}
	}
	if old, ok := l.entries[key]; ok {
		delete(l.entries, key)
		l.bytes -= old.size
	}
	if l.bytes+size > listCacheBytes {
		return
	}
	l.entries[key] = listCached{etag: etag, size: size, c: c}
	l.bytes += size
}

// keepOnly drops every record whose key a whole listing did not have.
func (l *caseListCache) keepOnly(listed map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, e := range l.entries {
		if !listed[key] {
			delete(l.entries, key)
			l.bytes -= e.size
		}
	}
}
