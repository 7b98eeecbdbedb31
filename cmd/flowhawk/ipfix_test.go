package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/flowhawk/flowhawk/export/ipfix"
)

// writeManyFlows writes a pcap of n one-packet UDP flows.
func writeManyFlows(t *testing.T, path string, n int) {
	t.Helper()
	writeUDP := udpPcap(t, path)
	ts := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		writeUDP(ts.Add(time.Duration(i)*time.Microsecond), net.IPv4(10, 0, byte(i>>8), byte(i)).To4(), net.IPv4(10, 1, 0, 1).To4(), 40000, 53, gopacket.Payload("abcd"))
	}
}

// TestReplayIPFIXRateLosesNothing replays more flows than the IPFIX queue
// holds with --ipfix-rate: the replay must wait for the paced sender, not
// drop what the queue cannot hold (it lost over half of a 37,669-flow
// capture at --ipfix-rate 2000).
func TestReplayIPFIXRateLosesNothing(t *testing.T) {
	const flows = 16000 // the queue holds 8192
	dir := t.TempDir()
	pcap := filepath.Join(dir, "many.pcap")
	writeManyFlows(t, pcap, flows)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan int)
	go func() {
		n, tpl, buf := 0, map[uint16][]ipfix.Field{}, make([]byte, 65536)
		for {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, err := c.Read(buf)
			if err != nil {
				got <- n
				return
			}
			if m, err := ipfix.Decode(buf[:k], tpl); err == nil {
				n += len(m.Records)
			}
		}
	}()
	code, _, stderr := runCLI(t, "replay", "-o", "none", "--ipfix", c.LocalAddr().String(), "--ipfix-rate", "1000", pcap)
	if code != 0 {
		t.Fatalf("replay exit %d\n%s", code, stderr)
	}
	want := fmt.Sprintf("ipfix      %d records in", flows)
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "dropped 0 ") {
		t.Errorf("summary does not show %d records sent and none dropped:\n%s", flows, stderr)
	}
	if n := <-got; n != flows {
		t.Errorf("collector decoded %d records, want %d", n, flows)
	}
}
