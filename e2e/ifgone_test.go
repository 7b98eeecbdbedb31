//go:build linux

package e2e

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestCaptureInterfaceGone captures on two interfaces and deletes one: the
// source must warn once, naming it, and go on counting the other (a
// capture audit saw a deleted interface pass without a word).
func TestCaptureInterfaceGone(t *testing.T) {
	n := newNet(t)
	run(t, "ip", "-n", n.ClientNS, "link", "add", "fhgone0", "type", "veth", "peer", "name", "fhgone1")
	run(t, "ip", "-n", n.ClientNS, "link", "set", "fhgone0", "up")
	var logged lockedBuffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf, "fhgone0"}, ScanInterval: 100 * time.Millisecond})
	run(t, "ip", "-n", n.ClientNS, "link", "del", "fhgone0")
	time.Sleep(500 * time.Millisecond)
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
	time.Sleep(200 * time.Millisecond)
	if icmp := protoPackets(kc.stop(t), 1); icmp != 4 {
		t.Errorf("%d ICMP packets counted on %s after the other interface went, want 4", icmp, n.ClientIf)
	}
	if l := logged.String(); strings.Count(l, "interface is gone") != 1 || !strings.Contains(l, "iface=fhgone0") {
		t.Errorf("log: %q, want one warning naming fhgone0", l)
	}
}
