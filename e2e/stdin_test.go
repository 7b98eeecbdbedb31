//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// TestReplayStdinSignal pipes a capture into `flowhawk replay -` and
// signals it halfway, as Ctrl-C does to `tcpdump -w - | flowhawk replay -`:
// the first SIGINT lets it read the pipe to its end (the writer got the
// signal too and ends it), so the rows are the whole file's; a second
// SIGINT stops it at once, in a read that waits on a writer still
// holding the pipe, and the flows so far are written.
func TestReplayStdinSignal(t *testing.T) {
	bin := flowhawkBin(t)
	pcap, err := os.ReadFile("../testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	want := filepath.Join(dir, "file.csv")
	if out, err := exec.Command(bin, "replay", "-q", "-o", want, "../testdata/demo.pcap").CombinedOutput(); err != nil {
		t.Fatalf("replay file: %v\n%s", err, out)
	}
	wantRows, _ := os.ReadFile(want)

	// start runs replay - with a pipe on stdin, writes the first half of
	// the capture and waits until the replay has read it (so its signal
	// handler is in place), then sends SIGINT.
	start := func(t *testing.T, out string) (*exec.Cmd, *syncbuf.Buffer, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		cmd := exec.Command(bin, "replay", "-o", out, "-")
		cmd.Stdin = r
		stderr := startCmd(t, cmd)
		r.Close()
		if _, err := w.Write(pcap[:len(pcap)/2]); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ) // FIONREAD
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replay - did not read its input: %d bytes wait\n%s", n, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(os.Interrupt)
		waitFor(t, stderr, "reading standard input to its end")
		return cmd, stderr, w
	}

	t.Run("reads to the end", func(t *testing.T) {
		out := filepath.Join(dir, "end.csv")
		cmd, stderr, w := start(t, out)
		if _, err := w.Write(pcap[len(pcap)/2:]); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("replay -: %v\n%s", err, stderr.String())
		}
		got, _ := os.ReadFile(out)
		if len(wantRows) == 0 || !bytes.Equal(got, wantRows) {
			t.Errorf("replay - after one SIGINT wrote %d bytes, the file's replay %d; they differ", len(got), len(wantRows))
		}
	})

	t.Run("second signal stops", func(t *testing.T) {
		out := filepath.Join(dir, "stop.csv")
		cmd, stderr, _ := start(t, out)
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("replay - after two SIGINTs: %v, want exit status 1\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "interrupted; flows so far were written") ||
			!strings.Contains(stderr.String(), "stopped    stdin: interrupted") || strings.Contains(stderr.String(), "context canceled") {
			t.Errorf("stderr does not say it was interrupted (the summary said 'error context canceled'):\n%s", stderr.String())
		}
		got, _ := os.ReadFile(out)
		rows := strings.Count(string(got), "\n") - 1
		all := strings.Count(string(wantRows), "\n") - 1
		if rows < 1 || rows > all {
			t.Errorf("%d rows written from half the capture, want 1..%d", rows, all)
		}
	})
}

// waitFor waits until the process's stderr says s.
func waitFor(t *testing.T, stderr *syncbuf.Buffer, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("stderr never said %q:\n%s", s, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
