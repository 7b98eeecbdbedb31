package pipeline

import (
	"context"
	"io"
	"time"
)

// liveChunk is one read of a live input: its bytes, in buf[:n], and the
// error that came with them.
type liveChunk struct {
	buf []byte
	n   int
	err error
}

// liveReader reads a live input (standard input, a FIFO) ahead on a
// goroutine of its own, so the replay loop knows when its next read would
// wait for the writer. It then runs idle first, at most once per
// idleEvery: a slow pipe (tcpdump -w - on a quiet link) would otherwise
// hold the live counters at their last publication, every 64 Ki packets,
// and finished flows in a partial batch until 256 of them had ended.
// Reads that find data waiting cost a channel receive per chunk, and idle
// never runs while the input keeps up.
type liveReader struct {
	ctx    context.Context // its cancellation ends a wait for the writer
	chunks chan liveChunk
	free   chan []byte
	done   chan struct{}
	cur    liveChunk
	off    int
	idle   func()
	last   time.Time // when idle last ran
	timer  *time.Timer
}

// idleEvery bounds how often a live input's waits publish: often enough
// that a scrape sees values at most about a second old, rarely enough
// that a pipe which runs dry between packets does not cut a batch per
// packet.
const idleEvery = time.Second

// liveBuffers is how many chunks of liveBufSize bytes are read ahead.
const (
	liveBuffers = 3
	liveBufSize = 64 << 10
)

func newLiveReader(ctx context.Context, r io.Reader, idle func()) *liveReader {
	lr := &liveReader{
		ctx:    ctx,
		chunks: make(chan liveChunk, liveBuffers),
		free:   make(chan []byte, liveBuffers),
		done:   make(chan struct{}),
		idle:   idle,
	}
	for range liveBuffers {
		lr.free <- make([]byte, liveBufSize)
	}
	go lr.fill(r)
	return lr
}

// fill reads r until an error, or until Close.
func (lr *liveReader) fill(r io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-lr.free:
		case <-lr.done:
			return
		}
		n, err := r.Read(buf)
		select {
		case lr.chunks <- liveChunk{buf, n, err}:
		case <-lr.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read hands out the chunks in order; a chunk's error comes after its
// bytes.
func (lr *liveReader) Read(p []byte) (int, error) {
	if lr.off == lr.cur.n {
		if lr.cur.err != nil {
			return 0, lr.cur.err
		}
		if lr.cur.buf != nil {
			lr.free <- lr.cur.buf
		}
		lr.cur, lr.off = lr.next(), 0
	}
	n := copy(p, lr.cur.buf[lr.off:lr.cur.n])
	lr.off += n
	if n == 0 {
		return 0, lr.cur.err
	}
	return n, nil
}

// next returns the next chunk, running idle before it waits for one; a
// cancelled wait returns the cancellation as the chunk's error.
func (lr *liveReader) next() liveChunk {
	select {
	case c := <-lr.chunks:
		return c
	default:
	}
	if wait := idleEvery - time.Since(lr.last); wait > 0 {
		// Published less than idleEvery ago: wait that long for data
		// before publishing again.
		if lr.timer == nil {
			lr.timer = time.NewTimer(wait)
		} else {
			lr.timer.Reset(wait)
		}
		select {
		case c := <-lr.chunks:
			lr.timer.Stop()
			return c
		case <-lr.timer.C:
		case <-lr.ctx.Done():
			lr.timer.Stop()
			return liveChunk{err: lr.ctx.Err()}
		}
	}
	lr.idle()
	lr.last = time.Now()
	select {
	case c := <-lr.chunks:
		return c
	case <-lr.ctx.Done():
		// A FIFO or device read that may never return (not every
		// one can take a deadline): fill is left to it.
		return liveChunk{err: lr.ctx.Err()}
	}
}

// Close stops the reading goroutine once its read in progress, if any,
// returns.
func (lr *liveReader) Close() { close(lr.done) }
