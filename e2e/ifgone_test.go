//go:build linux

package e2e

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCaptureInterfaceGone captures on two interfaces and deletes one: the
// source must warn once, naming it, and go on counting the other (a
// capture audit saw a deleted interface pass without a word).
func TestCaptureInterfaceGone(t *testing.T) {
	n := newNet(t)
	run(t, "ip", "-n", n.ClientNS, "link", "add", "fhgone0", "type", "veth", "peer", "name", "fhgone1")
	run(t, "ip", "-n", n.ClientNS, "link", "set", "fhgone0", "up")
	var logged syncBuffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf, "fhgone0"}, ScanInterval: 100 * time.Millisecond})
	run(t, "ip", "-n", n.ClientNS, "link", "del", "fhgone0")
	time.Sleep(500 * time.Millisecond)
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
	time.Sleep(200 * time.Millisecond)
	var icmp uint64
	for _, f := range kc.stop(t) {
		if f.Key.Proto == 1 {
			icmp += f.Packets()
		}
	}
	if icmp != 4 {
		t.Errorf("%d ICMP packets counted on %s after the other interface went, want 4", icmp, n.ClientIf)
	}
	if l := logged.String(); strings.Count(l, "interface is gone") != 1 || !strings.Contains(l, "iface=fhgone0") {
		t.Errorf("log: %q, want one warning naming fhgone0", l)
	}
}
