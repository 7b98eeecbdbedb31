package detect

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// TestSeqRepeatInjectionSameHead: an injected HTTP response and the real
// one share their first 16 bytes ("HTTP/1.1 200 OK\r") and differ in
// length; comparing only those bytes called them a retransmission. A
// retransmission that TCP repacketized (the lost segment and the next one
// in one larger segment, or a smaller one after a PMTU drop) still
// raises nothing.
func TestSeqRepeatInjectionSameHead(t *testing.T) {
	e, c := newTest(t, only("seqrepeat"))
	real := append([]byte("HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 1234\r\n\r\n"), bytes.Repeat([]byte("r"), 1300)...)
	forged := []byte("HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n<script src=http://evil.example/x.js></script>")
	p := pkt(t0, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, forged)
	p.TCPSeq = 1000
	e.OnPacket(p)
	q := pkt(t0+sec/100, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, real)
	q.TCPSeq = 1000
	e.OnPacket(q)

	// Honest repacketized retransmissions on another connection.
	stream := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 200)
	for i, n := range []int{1448, 2896, 1200, 1448, 100} {
		r := pkt(t0+2*sec+int64(i)*sec, "10.0.0.81", "10.0.0.9", 443, 50001, 6, collector.FlagACK, stream[:n])
		r.TCPSeq = 5000
		e.OnPacket(r)
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "seqrepeat.conflict" || c.alerts[0].Src.String() != "10.0.0.80" {
		t.Fatalf("got %v %+v", c.rules(), c.alerts)
	}
}

// TestPortScanVerticalNeedsPortsPerHost: a peer-to-peer client connecting
// to 150 peers, each on its own port, reached 149 distinct ports and was a
// vertical scan, though it opened one port per host and completed every
// handshake. A scan of 150 ports on 3 hosts, and one of 1000 ports on a
// /26 it pinged first, are still raised.
func TestPortScanVerticalNeedsPortsPerHost(t *testing.T) {
	e, c := newTest(t, only("portscan"))
	for i := 0; i < 150; i++ {
		ts := t0 + int64(i)*sec/10
		dst := fmt.Sprintf("100.64.0.%d", i+1)
		dp, sp := uint16(20000+i*211), uint16(40000+i)
		e.OnPacket(pkt(ts, "10.0.0.9", dst, sp, dp, 6, collector.FlagSYN, nil))
		e.OnPacket(pkt(ts+1000, dst, "10.0.0.9", dp, sp, 6, collector.FlagSYN|collector.FlagACK, nil))
		e.OnPacket(pkt(ts+2000, "10.0.0.9", dst, sp, dp, 6, collector.FlagACK, nil))
	}
	for i := 0; i < 450; i++ {
		ts := t0 + int64(i)*sec/10
		dst := fmt.Sprintf("10.0.1.%d", i%3+1)
		e.OnPacket(pkt(ts, "10.0.0.66", dst, 40000, uint16(1+i/3), 6, collector.FlagSYN, nil))
		e.OnPacket(pkt(ts+1000, dst, "10.0.0.66", uint16(1+i/3), 40000, 6, collector.FlagRST|collector.FlagACK, nil))
	}
	for i := 0; i < 64; i++ {
		p := pkt(t0+int64(i)*sec/100, "10.0.0.77", fmt.Sprintf("10.0.2.%d", i+1), 0, 0, 1, 0, nil)
		p.ICMPType = 8
		e.OnPacket(p)
	}
	for i := 0; i < 1000; i++ {
		ts := t0 + sec + int64(i)*sec/100
		e.OnPacket(pkt(ts, "10.0.0.77", "10.0.2.5", 40001, uint16(1+i), 6, collector.FlagSYN, nil))
		e.OnPacket(pkt(ts+1000, "10.0.2.5", "10.0.0.77", uint16(1+i), 40001, 6, collector.FlagRST|collector.FlagACK, nil))
	}
	e.Close()
	got := map[string]string{}
	for _, a := range c.alerts {
		got[a.Src.String()] = a.Rule
	}
	want := map[string]string{"10.0.0.66": "portscan.vertical", "10.0.0.77": "portscan.vertical"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestSizeUndersizeIPv6: --min-ip-size is an IPv4 size; an IPv6 datagram
// has a 40-byte header, so an ICMPv6 message cut to its 4-byte header (44
// bytes) was never below 28. IPv6 is judged at the minimum + 20; an echo
// request with no data (48 bytes) is not undersized.
func TestSizeUndersizeIPv6(t *testing.T) {
	e, c := newTest(t, only("size"))
	short := testFlow(1, "2001:db8::1", "2001:db8::2", 0, 0, 58, t0)
	if short.Fwd.IPLen.Min != 40 || short.Fwd.MinL4HeaderLen == 0 {
		t.Fatalf("test flow: min %v, l4 %d", short.Fwd.IPLen.Min, short.Fwd.MinL4HeaderLen)
	}
	short.Fwd.IPLen.Min = 44
	e.OnFlow(short)
	echo := testFlow(2, "2001:db8::3", "2001:db8::2", 0, 0, 58, t0)
	echo.Fwd.IPLen.Min = 48
	e.OnFlow(echo)
	v4 := testFlow(3, "10.0.0.1", "10.0.0.2", 0, 0, 1, t0)
	v4.Fwd.IPLen.Min = 30 // above 28, below 48: IPv4 keeps its minimum
	e.OnFlow(v4)
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "size.undersize" || c.alerts[0].Src.String() != "2001:db8::1" ||
		c.alerts[0].Evidence["min_ip_size"] != 48 {
		t.Fatalf("got %v %+v", c.rules(), c.alerts)
	}
}

// TestBlocklistAddressPairs: a space-separated line of two addresses (an
// indicator and, say, its gateway) was taken for a hosts line, whose
// address is never an indicator, and its names, which were none: the IP
// was lost. A sink address with an address after it stays a hosts line.
func TestBlocklistAddressPairs(t *testing.T) {
	b := newBlocklist(0)
	if err := b.load("x", strings.NewReader("203.0.113.7 198.51.100.1\n0.0.0.0 0.0.0.0\n255.255.255.255 broadcasthost\n")); err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{"203.0.113.7": true, "198.51.100.1": false, "0.0.0.0": false, "255.255.255.255": false} {
		if _, ok := b.matchIP(netip.MustParseAddr(a)); ok != want {
			t.Errorf("%s listed %v, want %v", a, ok, want)
		}
	}
}

// TestPortScanVerticalUDPPeersWithSYN: the vertical rule needs ports ≥ 2 ×
// hosts so that a peer-to-peer client, one port per peer, is not a
// vertical scan. For a source that sent any SYN, hosts counted only the
// SYN (and ping) hosts, not its UDP peers: a torrent client talking uTP
// from its port 51413 to 200 peers, each on its own lower port, that also
// opened three ordinary TCP connections was a vertical scan of "200 ports
// on 3 hosts". Without those connections it was rightly quiet.
func TestPortScanVerticalUDPPeersWithSYN(t *testing.T) {
	run := func(withTCP bool) map[string]string {
		e, c := newTest(t, only("portscan"))
		for i := 0; i < 200; i++ {
			ts := t0 + int64(i)*sec/10
			peer := fmt.Sprintf("100.64.%d.%d", i/200, i%200+1)
			dp := uint16(10000 + i*97)
			e.OnPacket(pkt(ts, "10.0.0.9", peer, 51413, dp, 17, 0, []byte("d1:ad2:id20:")))
			e.OnPacket(pkt(ts+1000, peer, "10.0.0.9", dp, 51413, 17, 0, []byte("d1:rd2:id20:")))
		}
		if withTCP {
			for i, srv := range []string{"198.51.100.10", "198.51.100.11", "198.51.100.12"} {
				ts := t0 + int64(i)*sec
				sp := uint16(45000 + i)
				e.OnPacket(pkt(ts, "10.0.0.9", srv, sp, 443, 6, collector.FlagSYN, nil))
				e.OnPacket(pkt(ts+1000, srv, "10.0.0.9", 443, sp, 6, collector.FlagSYN|collector.FlagACK, nil))
				e.OnPacket(pkt(ts+2000, "10.0.0.9", srv, sp, 443, 6, collector.FlagACK, nil))
			}
		}
		e.Close()
		got := map[string]string{}
		for _, a := range c.alerts {
			got[a.Rule] = a.Message
		}
		return got
	}
	if got := run(false); len(got) != 0 {
		t.Fatalf("UDP peers alone raised %v", got)
	}
	if got := run(true); len(got) != 0 {
		t.Errorf("UDP peers plus three HTTPS connections raised %v", got)
	}
}

// TestPortScanVerticalHostsCountedOnce: a host reached by SYNs and by UDP
// is one host of a vertical scan, which then names it as the destination
// (the nmap scan of TestE2EDetectors, whose attacker also queries DNS on
// the scanned host).
func TestPortScanVerticalHostsCountedOnce(t *testing.T) {
	e, c := newTest(t, only("portscan"))
	for i := range 150 {
		ts := t0 + int64(i)*sec/100
		e.OnPacket(pkt(ts, "10.0.0.9", "10.0.0.1", 40000, uint16(1+i), 6, collector.FlagSYN, nil))
	}
	e.OnPacket(pkt(t0+2*sec, "10.0.0.9", "10.0.0.1", 41000, 53, 17, 0, []byte("query")))
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "portscan.vertical" || c.alerts[0].Dst.String() != "10.0.0.1" || !strings.Contains(c.alerts[0].Message, "on 1 hosts") {
		for _, a := range c.alerts {
			t.Logf("%s %v: %s", a.Rule, a.Dst, a.Message)
		}
		t.Errorf("want one portscan.vertical naming 10.0.0.1, on 1 hosts")
	}
}
