package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowhawk/flowhawk/export/ipfix"
)

// writeManyFlows writes a pcap of n one-packet UDP flows.
func writeManyFlows(t *testing.T, path string, n int) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	w := pcapgo.NewWriter(fh)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, byte(i>>8), byte(i)).To4(), DstIP: net.IPv4(10, 1, 0, 1).To4()}
		udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload("abcd")); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
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
