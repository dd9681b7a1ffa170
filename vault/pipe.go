package vault

import (
	"errors"
	"io"
	"sync"
)

// aheadPipe is io.Pipe with a bounded buffer: the writer (the encrypting
// writer) may run up to chunks × chunkSize bytes ahead of the reader (the
// object store's Put).
//
// Why: on S3, a Put of unknown length reads a whole part into its buffer,
// then uploads it, and reads nothing meanwhile. Through a plain io.Pipe the
// encryption would stop for every part upload and the upload wait for every
// part's encryption; with the buffer the next part is encrypted while the
// current one is sent. Memory stays bounded by the buffer, whatever the
// document's size.
type aheadPipe struct {
	full      chan []byte
	free      chan []byte
	allocated int
	chunks    int
	chunkSize int
	done      chan struct{} // closed when the reader stops
	doneOnce  sync.Once
	werr      error // read after full is closed

	cur  []byte // unread rest of the reader's chunk
	hold []byte // the whole chunk, to recycle
	rerr error
}

func newAheadPipe(chunks, chunkSize int) *aheadPipe {
	return &aheadPipe{full: make(chan []byte, chunks), free: make(chan []byte, chunks+1),
		chunks: chunks, chunkSize: chunkSize, done: make(chan struct{})}
}

var errReaderClosed = errors.New("vault: upload ended")

// chunk returns an empty chunk of chunkSize bytes to fill and send; it
// blocks while every chunk is in use.
func (p *aheadPipe) chunk() ([]byte, error) {
	select {
	case c := <-p.free:
		return c, nil
	default:
	}
	if p.allocated < p.chunks {
		p.allocated++
		return make([]byte, p.chunkSize), nil
	}
	select {
	case c := <-p.free:
		return c, nil
	case <-p.done:
		return nil, errReaderClosed
	}
}

// send queues a filled chunk (from chunk) for the reader.
func (p *aheadPipe) send(c []byte) error {
	select {
	case p.full <- c:
		return nil
	case <-p.done:
		return errReaderClosed
	}
}

// recycle returns an unsent chunk.
func (p *aheadPipe) recycle(c []byte) {
	select {
	case p.free <- c[:cap(c)]:
	default:
	}
}

// Write queues a copy of b; it blocks while the buffer is full.
func (p *aheadPipe) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		c, err := p.chunk()
		if err != nil {
			return n, err
		}
		k := copy(c[:cap(c)], b)
		if err := p.send(c[:k]); err != nil {
			return n, err
		}
		b, n = b[k:], n+k
	}
	return n, nil
}

// CloseWithError ends the stream: the reader sees err after the queued
// bytes, or io.EOF if err is nil. Call it once, from the writing side.
func (p *aheadPipe) CloseWithError(err error) {
	p.werr = err
	close(p.full)
}

// Read implements io.Reader.
func (p *aheadPipe) Read(b []byte) (int, error) {
	if p.rerr != nil {
		return 0, p.rerr
	}
	for len(p.cur) == 0 {
		if p.hold != nil {
			select {
			case p.free <- p.hold[:cap(p.hold)]:
			default:
			}
			p.hold = nil
		}
		c, ok := <-p.full
		if !ok {
			p.rerr = p.werr
			if p.rerr == nil {
				p.rerr = io.EOF
			}
			return 0, p.rerr
		}
		p.cur, p.hold = c, c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// CloseRead tells the writer the reader is gone: its pending and future
// writes fail.
func (p *aheadPipe) CloseRead() {
	p.doneOnce.Do(func() { close(p.done) })
}
