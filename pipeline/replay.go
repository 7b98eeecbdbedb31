package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/flowhawk/flowhawk/collector"
)

// countingReader counts bytes read, for progress reporting from another
// goroutine.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Progress tracks how many bytes of the input files were read.
type Progress struct {
	Read  atomic.Int64
	Total int64
	// Unsized is set when an input (standard input) has no size, so
	// Total is not the end.
	Unsized bool
}

// NewProgress sums the sizes of paths.
func NewProgress(paths []string) *Progress {
	p := &Progress{}
	for _, path := range paths {
		if path == collector.StdinPath {
			p.Unsized = true // a pipe has no size
			continue
		}
		if st, err := os.Stat(path); err == nil {
			p.Total += st.Size()
		}
	}
	return p
}

// ReplayFiles replays paths in order. With FlushPerFile off, the files are
// taken as consecutive parts of one capture (flows continue across them).
// A file that cannot be opened or ends in a read error does not stop the
// run: its error is in the summary and in the returned error, and every
// packet before the error was processed.
func (p *Pipeline) ReplayFiles(ctx context.Context, paths []string, prog *Progress) error {
	var firstErr error
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-p.failed: // Close reports the output's error
			return firstErr
		default:
		}
		err := p.replayCounted(ctx, path, prog)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (p *Pipeline) replayCounted(ctx context.Context, path string, prog *Progress) error {
	var r io.Reader
	live := false // an input that may wait for its writer
	if path == collector.StdinPath {
		// Errors and the summary name it "stdin".
		path = "stdin"
		if p.cfg.Stdin == nil {
			err := errors.New("capture -: no standard input to read")
			p.sum.Files = append(p.sum.Files, FileSummary{Path: path, Err: err})
			return err
		}
		r, live = p.cfg.Stdin, true
	} else {
		fh, err := openCapture(ctx, path)
		if err != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("open capture: %w", err)
			}
			p.sum.Files = append(p.sum.Files, FileSummary{Path: path, Err: err})
			return err
		}
		defer fh.Close()
		r = fh
		if st, err := fh.Stat(); err == nil && !st.Mode().IsRegular() {
			live = true // a FIFO or a device
		}
	}
	var src *collector.PcapSource
	if live {
		lr := newLiveReader(ctx, r, func() { p.publishIdle(src) })
		defer lr.Close()
		r = lr
	}
	if prog != nil {
		r = countingReader{r, &prog.Read}
	}
	src, err := collector.NewPcapSource(r, path, p.cfg.Pcap)
	if err != nil {
		if ctx.Err() != nil {
			// A header read the cancellation interrupted (standard
			// input's writer had sent nothing yet): the stop, not a
			// broken capture.
			err = ctx.Err()
		}
		p.sum.Files = append(p.sum.Files, FileSummary{Path: path, Err: err})
		return err
	}
	defer src.Close()
	return p.replaySource(ctx, path, src)
}

// openCapture opens a file that is not regular on a goroutine the cancellation abandons, as a FIFO's open waits for a writer that may never come.
func openCapture(ctx context.Context, path string) (*os.File, error) {
	if st, err := os.Stat(path); err != nil || st.Mode().IsRegular() {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened) // unbuffered: a send succeeds only if taken
	go func() {
		f, err := os.Open(path)
		select {
		case ch <- opened{f, err}:
		case <-ctx.Done():
			if f != nil {
				f.Close()
			}
		}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// publishIdle runs when a live input is about to wait for its writer:
// it publishes the live counters of what was read so far (src is nil
// while the file header is read) and hands the flows of a partial batch
// to the outputs, so a scrape of a slow pipe sees current values.
func (p *Pipeline) publishIdle(src *collector.PcapSource) {
	if src != nil {
		st := src.Stats()
		p.live.setDecode(&p.sum.Source, &st)
		p.live.Packets.Store(p.sum.Source.Frames + st.Frames)
	}
	p.live.ActiveFlows.Store(int64(p.table.Stats().Active))
	if p.cur != nil && p.cur.n > 0 {
		p.Submit()
	}
}

// replaySource drains src into the pipeline.
func (p *Pipeline) replaySource(ctx context.Context, path string, src *collector.PcapSource) error {
	if p.cfg.OnFile != nil {
		p.cfg.OnFile(path, src)
	}
	p.file = path
	var pk collector.Packet
	var rerr error
	for n := 0; ; n++ {
		if n&0xffff == 0 {
			if ctx.Err() != nil {
				rerr = ctx.Err()
				break
			}
			select {
			case <-p.failed: // the output failed: reading on would lose every flow
				rerr = errors.New("stopped: the flow output failed")
			default:
			}
			if rerr != nil {
				break
			}
			st := src.Stats()
			p.live.setDecode(&p.sum.Source, &st)
			p.live.Packets.Store(p.sum.Source.Frames + st.Frames)
			p.live.ActiveFlows.Store(int64(p.table.Stats().Active))
		}
		err := src.NextPacket(&pk)
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			if ctx.Err() != nil {
				// A read the cancellation interrupted (a deadline on a
				// pipe, a live input's wait): the stop, not a broken
				// capture.
				rerr = ctx.Err()
			}
			break
		}
		p.Packet(&pk)
	}
	st := src.Stats()
	p.sum.Source.Add(&st)
	// Publish the file's last packets too: a scrape after the run (or
	// between files) saw the counts of up to 64 Ki packets before.
	var none collector.SourceStats
	p.live.setDecode(&p.sum.Source, &none)
	p.live.Packets.Store(p.sum.Source.Frames)
	p.live.ActiveFlows.Store(int64(p.table.Stats().Active))
	p.sum.Files = append(p.sum.Files, FileSummary{Path: path, Stats: st, Err: rerr})
	if p.cfg.FlushPerFile {
		p.table.Restart()
	}
	return rerr
}
