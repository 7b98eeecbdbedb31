package classifier

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often a long training says how far it is.
var progressEvery = 10 * time.Second

// fitProgress logs, every progressEvery while a model trains, how many of
// its units (trees, boosting rounds) are done: a forest of hundreds of
// trees on millions of rows trains for minutes, which would otherwise pass
// without a word between "training" and "trained".
type fitProgress struct {
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
	start time.Time
}

// startFitProgress starts the log of total units named unit ("trees").
func startFitProgress(total int, unit string) *fitProgress {
	p := &fitProgress{stop: make(chan struct{}), start: time.Now()}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				d := p.done.Load()
				el := time.Since(p.start)
				args := []any{unit, d, "of", total, "elapsed", el.Round(time.Second).String()}
				if d > 0 {
					left := time.Duration(float64(el) * float64(int64(total)-d) / float64(d))
					args = append(args, "left", left.Round(time.Second).String())
				}
				slog.Info("training", args...)
			}
		}
	}()
	return p
}

// add counts one unit done.
func (p *fitProgress) add() { p.done.Add(1) }

// end stops the log.
func (p *fitProgress) end() {
	close(p.stop)
	p.wg.Wait()
}
