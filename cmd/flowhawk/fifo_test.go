package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/syncbuf"

	"golang.org/x/sys/unix"
)

// TestReplayFIFOSignal: SIGINT stops `flowhawk replay FIFO` whose writer
// sent part of a capture and stalls, as it stops standard input: the
// flows so far are written, the summary printed, and the status is 1. The
// read waited on, so only the writer's end or SIGKILL ended the replay.
func TestReplayFIFOSignal(t *testing.T) {
	pcap, err := os.ReadFile("../../testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "capture.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	csv := filepath.Join(dir, "flows.csv")
	var so, se syncbuf.Buffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"replay", "-o", csv, fifo}, &so, &se) }()
	// The open returns once the replay opened the FIFO, after it began
	// to catch signals.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // the stalled writer never ends the capture
	if _, err := w.Write(pcap[:100000]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let it decode what was sent
	if err := unix.Kill(os.Getpid(), unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 1 {
			t.Errorf("exit status %d, want 1", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replay still running 5 s after SIGINT")
	}
	if !strings.Contains(se.String(), fifo+": interrupted") || !strings.Contains(se.String(), "interrupted; flows so far were written") {
		t.Errorf("stderr does not say the replay was interrupted:\n%s", se.String())
	}
	rows, _ := os.ReadFile(csv)
	if n := strings.Count(string(rows), "\n"); n < 2 {
		t.Errorf("%d lines written, want the header and the flows read so far", n)
	}
}
