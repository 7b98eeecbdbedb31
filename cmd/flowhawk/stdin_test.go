package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/syncbuf"
	"github.com/flowhawk/flowhawk/pipeline"

	"golang.org/x/sys/unix"
)

// TestReplayStdinArgs checks "-" reads standard input (here a pipe) into
// the same rows as the file, and that a second "-" is a usage error.
func TestReplayStdinArgs(t *testing.T) {
	pcap, err := os.ReadFile("../../testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	want := filepath.Join(dir, "file.csv")
	var so, se bytes.Buffer
	if err := runReplay([]string{"-q", "-o", want, "../../testdata/demo.pcap"}, &so, &se); err != nil {
		t.Fatalf("replay file: %v\n%s", err, se.String())
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write(pcap)
		w.Close()
	}()
	old := stdin
	stdin = r
	defer func() { stdin = old }()
	got := filepath.Join(dir, "stdin.csv")
	se.Reset()
	if err := runReplay([]string{"-o", got, "-"}, &so, &se); err != nil {
		t.Fatalf("replay -: %v\n%s", err, se.String())
	}
	a, _ := os.ReadFile(want)
	b, _ := os.ReadFile(got)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("replay - wrote %d bytes, the file's replay %d; they differ", len(b), len(a))
	}
	for _, cmd := range []func([]string, *bytes.Buffer, *bytes.Buffer) error{
		func(a []string, o, e *bytes.Buffer) error { return runReplay(a, o, e) },
		func(a []string, o, e *bytes.Buffer) error {
			return runDataset(append([]string{"--label-rules", "/dev/null"}, a...), o, e)
		},
	} {
		err := cmd([]string{"-o", "none", "-", "-"}, &so, &se)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "given 2 times") {
			t.Errorf("- twice: %v, want a usage error", err)
		}
	}
}

// TestReplaySignalsStdinFile puts a capture file on descriptor 0, as
// `flowhawk replay - < big.pcap` does, and checks that the first SIGINT
// stops the replay: it said "reading standard input to its end (its writer
// got the signal too)", though such a file has no writer, and read on.
func TestReplaySignalsStdinFile(t *testing.T) {
	f, err := os.Open("../../testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Dup2(saved, 0)
		unix.Close(saved)
	}()
	if err := unix.Dup2(int(f.Fd()), 0); err != nil {
		t.Fatal(err)
	}
	in, err := openStdin()
	if err != nil {
		t.Fatal(err)
	}
	defer in.restore()
	ctx, stop, _ := replaySignals(in)
	defer stop()
	if err := unix.Kill(os.Getpid(), unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first SIGINT did not stop a replay of a file on standard input")
	}
}

// TestReplaySignalsSecondExits: a signal after the stop (the flows still
// being written to an output that does not take them, a stalled pipe)
// exits at once with status 1; it was taken and did nothing, so only
// SIGKILL ended such a replay.
func TestReplaySignalsSecondExits(t *testing.T) {
	codes := make(chan int, 1)
	exitNow = func(code int) { codes <- code }
	defer func() { exitNow = os.Exit }()
	ctx, stop, _ := replaySignals(nil)
	defer stop()
	if err := unix.Kill(os.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first SIGTERM did not stop the replay")
	}
	select {
	case code := <-codes:
		t.Fatalf("the first SIGTERM exited (%d)", code)
	case <-time.After(100 * time.Millisecond):
	}
	if err := unix.Kill(os.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-codes:
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second SIGTERM while stopping did not exit")
	}
}

// TestProgressUnsizedShowsBytes checks the spinner of an input without a
// size (standard input): it shows the bytes read, and its rate is taken
// from when the read started, not from its first render (which had shown
// hundreds of GB/s).
func TestProgressUnsizedShowsBytes(t *testing.T) {
	prog := &pipeline.Progress{Unsized: true}
	out := &syncbuf.Buffer{}
	done := make(chan struct{})
	finished := startProgress("always", prog, out, done)
	time.Sleep(300 * time.Millisecond)
	prog.Read.Store(3 << 20)
	// The bar renders at most every 200 ms, on a ticker: on a busy
	// machine a fixed 300 ms could pass without a render of the count.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "3.1 MB") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	<-finished
	text := out.String()
	if !strings.Contains(text, "3.1 MB") {
		t.Errorf("the spinner does not show the 3.1 MB read in 10 s: %q", text)
	}
	if m := regexp.MustCompile(`[0-9.]+ [GT]B/s`).FindString(text); m != "" {
		t.Errorf("the spinner shows a rate of %s for 3 MB in 0.6 s: %q", m, text)
	}
}

// TestReplaySignalWhileWritingExits: a signal once the captures are read,
// while the flows are written to an output that does not take them (a
// FIFO whose reader stalls), exits at once with status 1: it cancelled a
// context no one watched any more, and only a second signal ended it.
func TestReplaySignalWhileWritingExits(t *testing.T) {
	codes := make(chan int, 1)
	exitNow = func(code int) { codes <- code }
	defer func() { exitNow = os.Exit }()
	_, stop, readDone := replaySignals(nil)
	defer stop()
	readDone()
	if err := unix.Kill(os.Getpid(), unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-codes:
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a SIGINT while the flows were written did not exit")
	}
}
