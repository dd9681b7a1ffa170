package web

import (
	"net"
	"sync"
	"sync/atomic"
)

// Coalesced writes. A busy WebSocket's writer finds many frames waiting
// at once (deliveries to one member from several messages, acks); written
// one by one, each frame is a write system call, which at a few tens of
// thousands of deliveries a second was a third of the server's CPU. The
// writer instead holds the connection's writes while it writes a burst
// (gorilla's framing is unchanged, each frame is still a message of its
// own on the wire) and releases them as one write. Nothing about the
// protocol changes: a client sees the same frames, in the same order,
// arriving together.
//
// While writes are held, every write to the connection (the writer's
// frames, and a close frame another goroutine sends) is appended to a
// buffer, which goes out when it passes heldFlushAt, when the writer
// releases it, or before the connection closes; so a close frame sent
// mid-burst still reaches the client, after the frames before it. The
// buffer's mutex serialises the connection's writes as gorilla's own
// write lock already does: the only network write under it is the one the
// holder would otherwise have made frame by frame under gorilla's lock.

// heldFlushAt is the most a held buffer grows to before it is written out
// mid-burst.
const heldFlushAt = 64 << 10

// heldBufs recycles the buffers of held writes, so that an idle
// connection keeps none.
var heldBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// heldWrites is a connection's held-write state.
type heldWrites struct {
	on  atomic.Bool // writes are held (set and cleared under mu; cleared after the held bytes are written)
	mu  sync.Mutex
	buf *[]byte // from heldBufs while holding
}

// writeHolder is a connection whose writes can be held (a *problemConn).
type writeHolder interface {
	holdWrites()
	releaseWrites() error
}

// holdWrites starts holding the connection's writes until releaseWrites.
func (c *problemConn) holdWrites() {
	c.held.mu.Lock()
	defer c.held.mu.Unlock()
	if c.held.buf == nil {
		c.held.buf = heldBufs.Get().(*[]byte)
	}
	c.held.on.Store(true)
}

// releaseWrites writes what was held, in one write, and stops holding.
// Holding stops only once the write is done (under mu): a write from
// another goroutine meanwhile (a close frame) waits for mu and then goes
// out after the burst.
func (c *problemConn) releaseWrites() error {
	c.held.mu.Lock()
	defer c.held.mu.Unlock()
	err := c.flushHeldLocked(true)
	c.held.on.Store(false)
	return err
}

// writeHeld appends b to the held buffer (writing it out once it is
// large), or writes b through when the holder released in the meantime.
func (c *problemConn) writeHeld(b []byte) (int, error) {
	c.held.mu.Lock()
	defer c.held.mu.Unlock()
	if !c.held.on.Load() {
		return c.Conn.Write(b)
	}
	*c.held.buf = append(*c.held.buf, b...)
	if len(*c.held.buf) >= heldFlushAt {
		if err := c.flushHeldLocked(false); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// flushHeldLocked writes the held buffer; done gives the buffer back to
// the pool. c.held.mu is held.
func (c *problemConn) flushHeldLocked(done bool) error {
	bp := c.held.buf
	if bp == nil {
		return nil
	}
	var err error
	if len(*bp) > 0 {
		_, err = c.Conn.Write(*bp)
		*bp = (*bp)[:0]
	}
	if done {
		c.held.buf = nil
		if cap(*bp) <= heldFlushAt*2 {
			heldBufs.Put(bp)
		}
	}
	return err
}

// Close writes out anything held (a close frame sent mid-burst), then
// closes the connection.
func (c *problemConn) Close() error {
	if c.held.on.Load() {
		c.held.mu.Lock()
		if c.held.on.Load() {
			c.flushHeldLocked(true)
			c.held.on.Store(false)
		}
		c.held.mu.Unlock()
	}
	return c.Conn.Close()
}

var _ net.Conn = (*problemConn)(nil)
