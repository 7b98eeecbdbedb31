package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/features"
)

// TestReplayFIFOCancel: a cancelled replay of a FIFO given by its path
// stops within seconds, keeping the flows read so far, both while no
// writer has opened the FIFO (open(2) waits for one) and while its writer
// has sent part of a capture and stalls (the read waits); either ignored
// Ctrl-C until the writer went away, where standard input stopped.
func TestReplayFIFOCancel(t *testing.T) {
	pcap, err := os.ReadFile(demo(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		send int // bytes of the capture the writer sends before it stalls; 0: no writer
	}{
		{"no writer", 0},
		{"stalled writer", 100000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "capture.fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			// A writer that opens and leaves releases an open(2) still
			// waiting, so no goroutine is left behind.
			t.Cleanup(func() {
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			})
			ex := &atomicExporter{}
			p, err := New(Config{Features: features.DefaultConfig(), Workers: 1, Out: &memWriter{}, Exporters: []FlowExporter{ex}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- p.ReplayFiles(ctx, []string{fifo}, nil) }()
			if tc.send > 0 {
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close() // the stalled writer never ends the capture
				if _, err := w.Write(pcap[:tc.send]); err != nil {
					t.Fatal(err)
				}
				// The replay publishes what it decoded before it waits.
				for deadline := time.Now().Add(5 * time.Second); p.Live().Packets.Load() == 0; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("no packet decoded 5 s after the writer sent them")
					}
				}
			} else {
				time.Sleep(100 * time.Millisecond) // the open is waiting by now
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("ReplayFiles: %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("replay still running 5 s after the cancel")
			}
			sum, err := p.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Files) != 1 || !errors.Is(sum.Files[0].Err, context.Canceled) {
				t.Errorf("summary files %+v, want one stopped by the cancel", sum.Files)
			}
			if tc.send == 0 {
				return
			}
			if sum.Source.Frames == 0 || sum.Flows == 0 || ex.flows.Load() != sum.Flows {
				t.Errorf("%d frames, %d flows, %d exported: want the flows of the frames read so far written", sum.Source.Frames, sum.Flows, ex.flows.Load())
			}
		})
	}
}
