package objstore

import "sync"

// maxCachedVIDs bounds vidCache: past it the cache starts over empty, so
// a process that writes many keys once (message segments, journal
// entries) does not keep an entry for each of them.
const maxCachedVIDs = 4096

// vidCache maps keys to their newest version id. An entry, when present,
// is exact or names a version since removed (latest then scans): Put and
// Delete, under the key's lock, store or forget it; a reader outside the
// lock only fills an absent entry. Dropping entries is always safe.
type vidCache struct {
	mu  sync.Mutex
	m   map[string]string
	max int // 0: maxCachedVIDs
}

func (c *vidCache) load(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// store records vid as key's newest version (the caller holds its lock).
func (c *vidCache) store(key, vid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.makeRoomLocked(key)
	c.m[key] = vid
}

// fill records vid for key unless an entry is there already.
func (c *vidCache) fill(key, vid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	c.makeRoomLocked(key)
	c.m[key] = vid
}

func (c *vidCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

func (c *vidCache) makeRoomLocked(key string) {
	if c.m == nil {
		c.m = make(map[string]string)
	}
	limit := c.max
	if limit == 0 {
		limit = maxCachedVIDs
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= limit {
		c.m = make(map[string]string) // (clear would keep the buckets)
	}
}

func (c *vidCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
