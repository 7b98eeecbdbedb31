package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	ctx, stop := replaySignals(in)
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
