// Package natstest runs a real nats-server with JetStream for the tests of
// the stream exporter and of the collect command, which both need a
// broker that can be stopped, killed and started again like a real one.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// Server is a nats-server with JetStream on a loopback port, its store in
// a temporary directory that outlives restarts.
type Server struct {
	t     testing.TB
	bin   string
	port  int
	store string
	extra []string // further nats-server arguments
	cmd   *exec.Cmd
	log   *syncbuf.Buffer
}

// Binary returns the path of nats-server. When it is missing the test is
// skipped on a developer's machine and fails when CI=true: CI installs it
// (Debian package nats-server), so it must not pass by skipping.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if q, err2 := exec.LookPath("/usr/sbin/nats-server"); err2 == nil {
			return q
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("nats-server not installed (Debian package nats-server), and CI must have it: %v", err)
		}
		t.Skipf("nats-server not installed (Debian package nats-server; CI installs it): %v", err)
	}
	return bin
}

// Start starts a server with the extra nats-server arguments, killed at
// the end of the test.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), port: FreePort(t), store: t.TempDir(), extra: extra}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// FreePort returns a loopback TCP port nothing listens on (yet).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the server's client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// PID is the running server's process ID, 0 when it is stopped.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Log is what the server printed since it last started.
func (s *Server) Log() string { return s.log.String() }

// Start starts the server (again, after Stop or Kill) on the same port
// and store, and waits until it listens.
func (s *Server) Start() {
	s.t.Helper()
	s.log = &syncbuf.Buffer{}
	s.cmd = exec.Command(s.bin, append([]string{"-js", "-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-sd", s.store}, s.extra...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for range 500 {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("nats-server did not listen on %d:\n%s", s.port, s.log.String())
}

// Stop stops the server cleanly (SIGTERM), as an upgrade or a reboot does.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill stops the server abruptly, as a crash or a pulled cable would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(sig)
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// ConsumerState returns the messages the durable consumer of stream has
// not been delivered yet and those delivered but not acknowledged; (1, 0)
// while the consumer does not exist yet.
func ConsumerState(t testing.TB, js jetstream.JetStream, stream, durable string) (pending uint64, unacked int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return 1, 0 // not created yet
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending, info.NumAckPending
}
