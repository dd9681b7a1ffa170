package objstore

import "sync"

// maxCachedVIDs bounds vidCache: past it the cache starts over empty, so
// a process that writes many keys once (message segments, journal
// entries) does not keep an entry for each of them.
const maxCachedVIDs = 4096

// vidCache maps keys to their newest version id. An entry, when present,
// is exact or names a version since removed (latest then scans): Put and
// Delete, under the key's lock, store or forget it. A reader outside the
// lock only fills an absent entry, and only if no entry was dropped since
// it looked (gen): otherwise a writer's newer id, stored and then dropped
// between the reader's scan and its fill, would be replaced by the older
// id the scan found. Dropping entries is always safe.
type vidCache struct {
	mu  sync.Mutex
	m   map[string]string
	gen uint64 // counts drops (forget, and starting over)
	max int    // 0: maxCachedVIDs
}

// load returns key's cached id, and the generation to pass to fill.
func (c *vidCache) load(key string) (vid string, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vid, ok = c.m[key]
	return vid, ok, c.gen
}

// store records vid as key's newest version (the caller holds its lock).
func (c *vidCache) store(key, vid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.makeRoomLocked(key)
	c.m[key] = vid
}

// fill records vid, found by a scan that began at generation gen, unless
// key has an entry or an entry was dropped since.
func (c *vidCache) fill(key, vid string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok || c.gen != gen {
		return
	}
	c.makeRoomLocked(key)
	if c.gen != gen {
		return // this fill started the cache over
	}
	c.m[key] = vid
}

func (c *vidCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	c.gen++
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
		c.gen++
	}
}

func (c *vidCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
