package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"
)

// stdin is what a "-" capture argument reads; tests substitute a pipe.
var stdin = os.Stdin

// stdinInput is standard input read as a capture. It notes its end, so a
// signal after it is an ordinary stop, and it can cut short a read that
// waits on a writer.
type stdinInput struct {
	f *os.File
	// piped is set when standard input is a pipe or socket, which has a
	// writer that a Ctrl-C reaches too; a file redirected with < has
	// none, and its reads end on their own.
	piped   bool
	ended   atomic.Bool
	restore func()
}

// openStdin opens standard input for a "-" capture. A pipe or socket is
// made non-blocking and pollable, so that interrupt can end a read in
// progress; restore puts the descriptor back as it was.
func openStdin() (*stdinInput, error) {
	in := &stdinInput{f: stdin, restore: func() {}}
	if stdin != os.Stdin {
		if st, err := stdin.Stat(); err == nil {
			in.piped = st.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
		}
		return in, nil
	}
	fd := syscall.Stdin
	if term.IsTerminal(fd) {
		return nil, fmt.Errorf("%w: capture -: standard input is a terminal; pipe a capture into it (tcpdump -w - | flowhawk replay -)", errUsage)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("capture -: standard input: %w", err)
	}
	if kind := st.Mode & syscall.S_IFMT; kind == syscall.S_IFIFO || kind == syscall.S_IFSOCK {
		in.piped = true
		if err := syscall.SetNonblock(fd, true); err == nil {
			in.f = os.NewFile(uintptr(fd), "stdin")
			in.restore = func() { _ = syscall.SetNonblock(fd, false) }
		}
	}
	return in, nil
}

func (s *stdinInput) Read(b []byte) (int, error) {
	n, err := s.f.Read(b)
	if err == io.EOF {
		s.ended.Store(true)
	}
	return n, err
}

// interrupt ends a read in progress (on a pipe or socket; a regular file
// never waits).
func (s *stdinInput) interrupt() { _ = s.f.SetReadDeadline(time.Now()) }

// replaySignals returns the replay's context, cancelled by SIGINT or
// SIGTERM. While in (standard input, nil when not read) is a pipe or
// socket that has not ended, the first signal only says so: in a shell
// pipeline the writer (tcpdump -w -) got the same signal and ends the pipe
// after its last packets, which the replay then reads. A second signal
// stops at once, as the first does for a file redirected with <, which
// has no writer to wait for. A signal after the stop (the flows being
// written to an output that does not take them: a stalled pipe, a hung
// network file system) exits at once with status 1, and so does one after
// the third function returned is called, when the captures are read and
// the flows are written: the first signal there cancelled a context no
// one watched any more, and did nothing.
func replaySignals(in *stdinInput) (context.Context, func(), func()) {
	var read atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		warned := false
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if in != nil && in.piped && !in.ended.Load() && !warned {
					warned = true
					slog.Warn("reading standard input to its end (its writer got the signal too); signal again to stop now", "signal", s.String())
					continue
				}
				if ctx.Err() == nil && !read.Load() {
					// Said, as the stop may wait on an output that does
					// not take the rows (the reading waits for a batch).
					slog.Warn("stopping: writing the flows read so far; signal again to exit now", "signal", s.String())
					cancel()
					if in != nil {
						in.interrupt()
					}
					continue
				}
				slog.Error("signalled while writing the flows read so far: exiting now; the outputs may end mid-row", "signal", s.String())
				exitNow(1)
				return
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}, func() { read.Store(true) }
}

// exitNow ends the process; a variable so that a test can see the call.
var exitNow = os.Exit

// checkStdinArgs refuses "-" given more than once: standard input can be
// read only once.
func checkStdinArgs(args []string) error {
	n := 0
	for _, a := range args {
		if a == "-" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w: capture - (standard input) given %d times; it can be read once", errUsage, n)
	}
	return nil
}
