package classifier

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// csvBatchRows is how many CSV records a batch hands to the column
// workers at once.
const csvBatchRows = 1024

// colFeeder parses the cells of a data file's kept columns (CSV, Parquet,
// JSON Lines) on several goroutines: the reader splits records on one
// goroutine, in order, as line numbers in errors need, and the workers
// parse the numbers, each worker a fixed share of the columns, so every
// column's cells are added in file order and the frame is the one a
// single goroutine builds. Parsing the cells is about two thirds of
// reading a wide CSV such as flowhawk's or CIC-IDS2017's.
type colFeeder struct {
	keep    []int
	workers int
	in      []chan *csvBatch
	free    chan *csvBatch
	wg      sync.WaitGroup // batches not yet parsed by every worker
	cur     *csvBatch
}

// csvBatch is records' cells (the kept columns, a record after another)
// and the builders they go to.
type csvBatch struct {
	cells   []string
	raw     []*colBuilder
	pending atomic.Int32
}

// newColFeeder starts workers goroutines (0: one a CPU) for the columns
// keep; with one, cells are parsed on the caller's goroutine.
func newColFeeder(keep []int, workers int) *colFeeder {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(keep)))
	f := &colFeeder{keep: keep, workers: workers, free: make(chan *csvBatch, 4*workers)}
	if workers > 1 {
		for w := range workers {
			c := make(chan *csvBatch, 4)
			f.in = append(f.in, c)
			go f.work(w, c)
		}
	}
	return f
}

// add queues one record's kept cells for raw; the strings are kept until
// the batch is parsed, so rec's cells must not be reused (encoding/csv's
// ReuseRecord reuses only the slice).
func (f *colFeeder) add(rec []string, raw []*colBuilder) {
	b := f.cur
	if b == nil {
		select {
		case b = <-f.free:
			b.cells = b.cells[:0]
		default:
			// Grown as records come: a file of a few rows does not
			// pay for a full batch of a wide file's cells (2.6 MB).
			b = &csvBatch{cells: make([]string, 0, 16*len(f.keep))}
		}
		b.raw = raw
		f.cur = b
	}
	for _, i := range f.keep {
		b.cells = append(b.cells, rec[i])
	}
	if len(b.cells) >= csvBatchRows*len(f.keep) {
		f.send()
	}
}

// send hands the batch being filled to the workers.
func (f *colFeeder) send() {
	b := f.cur
	if b == nil {
		return
	}
	f.cur = nil
	if f.workers == 1 {
		parseCells(b, f.keep, 0, 1)
		f.recycle(b)
		return
	}
	b.pending.Store(int32(f.workers))
	f.wg.Add(1)
	for _, c := range f.in {
		c <- b
	}
}

// flush waits until every record added so far is in its builders.
func (f *colFeeder) flush() {
	f.send()
	f.wg.Wait()
}

// close stops the workers; the feeder is not used after.
func (f *colFeeder) close() {
	for _, c := range f.in {
		close(c)
	}
}

func (f *colFeeder) work(w int, in <-chan *csvBatch) {
	for b := range in {
		parseCells(b, f.keep, w, f.workers)
		if b.pending.Add(-1) == 0 {
			f.recycle(b)
			f.wg.Done()
		}
	}
}

// recycle offers a parsed batch for reuse.
func (f *colFeeder) recycle(b *csvBatch) {
	b.raw = nil
	select {
	case f.free <- b:
	default:
	}
}

// parseCells adds columns w, w+n, w+2n... of the batch's records to their
// builders.
func parseCells(b *csvBatch, keep []int, w, n int) {
	k := len(keep)
	for j := w; j < k; j += n {
		col := b.raw[j]
		for r := j; r < len(b.cells); r += k {
			col.add(b.cells[r])
		}
	}
}
