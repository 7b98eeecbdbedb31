package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	flag "github.com/spf13/pflag"
)

const sec = int64(time.Second)

// t0 is an arbitrary packet-clock origin (2026-01-01), aligned to windows.
const t0 = int64(1767225600) * sec

func newTest(t *testing.T, cfg Config) (*Engine, *collect) {
	t.Helper()
	c := &collect{}
	e, err := New(cfg, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

func only(det string) Config {
	c := DefaultConfig()
	c.Detect = det
	return c
}

func TestPortScanVertical(t *testing.T) {
	e, c := newTest(t, only("portscan"))
	for i := 0; i < 150; i++ {
		ts := t0 + int64(i)*sec/10
		e.OnPacket(pkt(ts, "10.0.0.9", "10.0.0.1", 40000, uint16(1+i), 6, collector.FlagSYN, nil))
		e.OnPacket(pkt(ts+1000, "10.0.0.1", "10.0.0.9", uint16(1+i), 40000, 6, collector.FlagRST|collector.FlagACK, nil))
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "portscan.vertical" {
		t.Fatalf("got %v", c.rules())
	}
	a := c.alerts[0]
	// 149: a source's first probe only marks it in the admission filter.
	if a.Src.String() != "10.0.0.9" || a.Dst.String() != "10.0.0.1" || a.Severity != SevHigh || a.Evidence["distinct_ports"] != 149 {
		t.Errorf("alert %+v", a)
	}
}

// TestPortScanUDP checks UDP probing both ways a capture audit found
// wrong: a server on a high port (WireGuard, 51820) answering 150 clients
// on lower ephemeral ports was a high-severity vertical scan, and a real
// UDP scan of one host lost its destination ("on 0 hosts").
func TestPortScanUDP(t *testing.T) {
	e, c := newTest(t, only("portscan"))
	for i := 0; i < 150; i++ {
		ts := t0 + int64(i)*sec/10
		client := fmt.Sprintf("10.30.%d.%d", i/200, 1+i%200)
		for k := 0; k < 3; k++ {
			e.OnPacket(pkt(ts+int64(k)*1000, client, "10.30.9.9", uint16(33000+100*i), 51820, 17, 0, nil))
			e.OnPacket(pkt(ts+int64(k)*1000+500, "10.30.9.9", client, 51820, uint16(33000+100*i), 17, 0, nil))
		}
	}
	for i := 0; i < 150; i++ {
		e.OnPacket(pkt(t0+int64(i)*sec/10, "10.2.0.1", "10.2.0.2", 40000, uint16(1+i), 17, 0, nil))
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "portscan.vertical" {
		t.Fatalf("got %v, want one vertical scan (the UDP scanner, not the server)", c.rules())
	}
	a := c.alerts[0]
	if a.Src.String() != "10.2.0.1" || a.Dst.String() != "10.2.0.2" || a.Evidence["distinct_hosts"] != 1 {
		t.Errorf("alert %+v", a)
	}
}

func TestPortScanSweepAndHalfOpen(t *testing.T) {
	e, c := newTest(t, only("portscan"))
	// Sweep: port 22 on 100 hosts, unanswered.
	for i := 0; i < 100; i++ {
		e.OnPacket(pkt(t0+int64(i)*sec/10, "10.0.0.9", fmt.Sprintf("10.1.0.%d", i+1), 40000, 22, 6, collector.FlagSYN, nil))
	}
	// Ping sweep: echo requests to 80 hosts.
	for i := 0; i < 80; i++ {
		p := pkt(t0+int64(i)*sec/10, "10.0.0.6", fmt.Sprintf("10.2.0.%d", i+1), 0, 0, 1, 0, nil)
		p.ICMPType = 8
		e.OnPacket(p)
	}
	// Half-open: 300 SYNs to 3 ports of one host, answered by SYN+ACK and
	// reset by the prober (nmap -sS on open ports).
	for i := 0; i < 300; i++ {
		ts := t0 + int64(i)*sec/10
		dport := uint16(80 + i%3)
		e.OnPacket(pkt(ts, "10.0.0.7", "10.0.0.1", uint16(30000+i), dport, 6, collector.FlagSYN, nil))
		e.OnPacket(pkt(ts+1, "10.0.0.1", "10.0.0.7", dport, uint16(30000+i), 6, collector.FlagSYN|collector.FlagACK, nil))
		e.OnPacket(pkt(ts+2, "10.0.0.7", "10.0.0.1", uint16(30000+i), dport, 6, collector.FlagRST, nil))
	}
	// A normal client: 300 completed connections to one server.
	for i := 0; i < 300; i++ {
		ts := t0 + int64(i)*sec/10
		e.OnPacket(pkt(ts, "10.0.0.8", "10.0.0.1", uint16(30000+i), 443, 6, collector.FlagSYN, nil))
		e.OnPacket(pkt(ts+1, "10.0.0.1", "10.0.0.8", 443, uint16(30000+i), 6, collector.FlagSYN|collector.FlagACK, nil))
		e.OnPacket(pkt(ts+2, "10.0.0.8", "10.0.0.1", uint16(30000+i), 443, 6, collector.FlagACK, nil))
	}
	e.Close()
	got := map[string]string{}
	for _, a := range c.alerts {
		got[a.Rule+" "+a.Src.String()] = a.Severity.String()
	}
	want := map[string]string{"portscan.sweep 10.0.0.9": "medium", "portscan.sweep 10.0.0.6": "low", "portscan.halfopen 10.0.0.7": "medium"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The sweep's port goes out as destination.port, with no
	// destination.ip (many hosts): it was dropped with the missing IP.
	for _, a := range c.alerts {
		if a.Rule == "portscan.sweep" && a.Src.String() == "10.0.0.9" {
			b, _ := json.Marshal(a)
			if d, _ := a.ECS()["destination"].(map[string]any); fmt.Sprint(d) != "map[port:22]" {
				t.Errorf("sweep destination %v, want port 22 alone: %s", d, b)
			}
		}
	}
}

func TestSynFlood(t *testing.T) {
	e, c := newTest(t, only("synflood"))
	// 2000 spoofed SYNs in 5 s to port 80, and a busy but healthy server
	// whose clients complete their handshakes.
	for i := 0; i < 2000; i++ {
		ts := t0 + int64(i)*sec/400
		src := fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
		e.OnPacket(pkt(ts, src, "10.0.0.1", uint16(1024+i), 80, 6, collector.FlagSYN, nil))
		handshake(e, ts, "192.0.2.1", "10.0.0.2", uint16(1024+i), 443, collector.FlagACK)
	}
	// One source flooding 10.0.0.3:22 among a little background.
	for i := 0; i < 1500; i++ {
		ts := t0 + int64(i)*sec/400
		e.OnPacket(pkt(ts, "10.0.0.66", "10.0.0.3", uint16(1024+i), 22, 6, collector.FlagSYN, nil))
		if i%10 == 0 {
			e.OnPacket(pkt(ts, fmt.Sprintf("10.0.1.%d", i/10), "10.0.0.3", 5555, 22, 6, collector.FlagSYN, nil))
		}
	}
	e.Close()
	if len(c.alerts) != 2 || c.alerts[0].Rule != "synflood" || c.alerts[1].Rule != "synflood" {
		t.Fatalf("got %v", c.rules())
	}
	a := c.alerts[0]
	if a.Dst.String() != "10.0.0.1" || a.DstPort != 80 || a.Src.IsValid() || a.Evidence["distinct_sources"] != 2000 ||
		len(a.Evidence["top_sources"].([]hostCount)) != 0 {
		t.Errorf("spoofed flood alert %+v", a)
	}
	a = c.alerts[1]
	top := a.Evidence["top_sources"].([]hostCount)
	if a.Dst.String() != "10.0.0.3" || a.Src.String() != "10.0.0.66" || len(top) == 0 || top[0].IP != "10.0.0.66" || top[0].Count < 1400 {
		t.Errorf("single-source flood alert %+v", a)
	}
}

// TestSynFloodAnswered checks the commonest flood: spoofed SYNs to a
// listening port, each answered by SYN+ACK that no one completes. Counting
// SYN+ACKs as completed handshakes called it healthy; a server whose
// clients send the final ACK stays quiet, as do clients that complete in
// a later packet with data.
func TestSynFloodAnswered(t *testing.T) {
	e, c := newTest(t, only("synflood,portscan"))
	for i := 0; i < 3000; i++ {
		ts := t0 + int64(i)*sec/500
		src := fmt.Sprintf("198.19.%d.%d", i/250, i%250+1)
		handshake(e, ts, src, "10.0.0.1", uint16(2000+i), 443, 0)
		// A healthy server beside it: same load, handshakes completed
		// (one in three by an ACK that carries the request).
		cl := fmt.Sprintf("192.0.2.%d", i%200+1)
		flags := uint8(collector.FlagACK)
		if i%3 == 0 {
			flags |= collector.FlagPSH
		}
		handshake(e, ts, cl, "10.0.0.2", uint16(2000+i), 443, flags)
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "synflood" || c.alerts[0].Dst.String() != "10.0.0.1" {
		t.Fatalf("got %v", c.alerts)
	}
	ev := c.alerts[0].Evidence
	if ev["synack_out"] != uint64(3000) || ev["completed"] != uint64(0) || ev["half_open_ratio"] != 1.0 {
		t.Errorf("evidence %v", ev)
	}
}

// TestSynFloodSampled checks the fallback for partial packets (capture
// --sample-rate above 1, or --samples below 3), where a SYN and its
// completing ACK are rarely
// both seen: SYN+ACK answers stand for completions, so a server answering
// sampled SYNs stays quiet and an unanswered flood is still raised.
func TestSynFloodSampled(t *testing.T) {
	cfg := only("synflood,portscan")
	cfg.PartialPackets = true
	e, c := newTest(t, cfg)
	for i := 0; i < 3000; i++ {
		ts := t0 + int64(i)*sec/500
		cl := fmt.Sprintf("192.0.2.%d", i%200+1)
		handshake(e, ts, cl, "10.0.0.2", uint16(2000+i), 443, 0)
		e.OnPacket(pkt(ts, fmt.Sprintf("198.19.%d.%d", i/250, i%250+1), "10.0.0.1", uint16(2000+i), 80, 6, collector.FlagSYN, nil))
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "synflood" || c.alerts[0].Dst.String() != "10.0.0.1" {
		t.Fatalf("got %v", c.alerts)
	}
}

// handshake sends a TCP handshake from cl:sport to srv:dport at ts: the
// SYN, the SYN+ACK and, unless last is 0, the client's third packet with
// the flags last.
func handshake(e *Engine, ts int64, cl, srv string, sport, dport uint16, last uint8) {
	e.OnPacket(pkt(ts, cl, srv, sport, dport, 6, collector.FlagSYN, nil))
	e.OnPacket(pkt(ts+1, srv, cl, dport, sport, 6, collector.FlagSYN|collector.FlagACK, nil))
	if last != 0 {
		e.OnPacket(pkt(ts+2, cl, srv, sport, dport, 6, last, nil))
	}
}

// dnsQuery builds a DNS message with one question.
func dnsQuery(id uint16, name string, response bool, rcode uint8) []byte {
	b := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	if response {
		b[2] |= 0x80
		b[3] = rcode
	}
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, 0, 1, 0, 1)
}

func TestDNSRules(t *testing.T) {
	e, c := newTest(t, only("dns"))
	ts := t0
	q := func(client, name string, nx bool) {
		ts += sec / 10
		e.OnPacket(pkt(ts, client, "10.0.0.53", 5353+1, 53, 17, 0, dnsQuery(1, name, false, 0)))
		rc := uint8(0)
		if nx {
			rc = 3
		}
		e.OnPacket(pkt(ts+1, "10.0.0.53", client, 53, 5354, 17, 0, dnsQuery(1, name, true, rc)))
	}
	for _, n := range cryptolockerStyle(2026, 1, 1, 30) {
		q("10.0.0.66", n, true)
	}
	q("10.0.0.67", "login.example.tk", false)
	q("10.0.0.68", "aGVsbG8gd29ybGQgdGhpcyBpcyBleGZpbHRyYXRlZCBkYXRh.x.example.com", false)
	for i := 0; i < 250; i++ {
		q("10.0.0.69", fmt.Sprintf("host%d.example.org", i), false)
	}
	for _, n := range []string{"www.google.com", "d3c33hcgiwev3.cloudfront.net", "r3---sn-4g5e6nze.googlevideo.com", "_ldap._tcp.dc.corp", "1.0.0.10.in-addr.arpa"} {
		q("10.0.0.70", n, false)
	}
	e.Close()
	got := map[string]string{}
	for _, a := range c.alerts {
		got[a.Rule] = a.Src.String()
	}
	want := map[string]string{
		"dns.dga": "10.0.0.66", "dns.nxdomain": "10.0.0.66", "dns.suspicious_tld": "10.0.0.67",
		"dns.tunnel": "10.0.0.68", "dns.many_names": "10.0.0.69",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The DGA host's alerts are aggregated: one immediate, one with the
	// count at Close, with sample names.
	var dga []*Alert
	for _, a := range c.alerts {
		if a.Rule == "dns.dga" {
			dga = append(dga, a)
		}
	}
	last := dga[len(dga)-1]
	if len(dga) != 2 || dga[0].Count != 1 || last.Count < 25 || len(last.Names) != maxAlertNames || last.First >= last.Last {
		t.Errorf("dga aggregation: %d alerts, last count %d names %v", len(dga), last.Count, last.Names)
	}
}

func TestDNSOverTCP(t *testing.T) {
	e, c := newTest(t, only("dns"))
	m := dnsQuery(7, "login.example.tk", false, 0)
	b := append([]byte{byte(len(m) >> 8), byte(len(m))}, m...)
	e.OnPacket(pkt(t0, "10.0.0.5", "10.0.0.53", 40000, 53, 6, collector.FlagPSH|collector.FlagACK, b))
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "dns.suspicious_tld" || c.alerts[0].Proto != 6 {
		t.Fatalf("got %v", c.rules())
	}
}

func TestDNSParse(t *testing.T) {
	var m dnsMsg
	// Compressed name: question "www.Example.com", then a pointer to it.
	b := dnsQuery(9, "www.Example.com", true, 3)
	if err := m.parse(b); err != nil || string(m.name) != "www.example.com" || !m.response || m.rcode != 3 || m.qtype != 1 {
		t.Fatalf("parse: %v %q %+v", err, m.name, m)
	}
	ptr := append(b[:12:12], 0xc0, 12)
	if err := m.parse(ptr); err == nil {
		t.Errorf("self-pointer accepted")
	}
	loop := append(append([]byte{}, b[:12]...), 3, 'w', 'w', 'w', 0xc0, 12, 0, 1, 0, 1)
	if err := m.parse(loop); err == nil {
		t.Errorf("pointer loop accepted: %q", m.name)
	}
	// A label containing a dot and a control byte.
	odd := append(append([]byte{}, b[:12]...), 3, 'a', '.', 1, 0, 0, 1, 0, 1)
	if err := m.parse(odd); err != nil || string(m.name) != "a??" {
		t.Errorf("odd label: %v %q", err, m.name)
	}
	for n := 0; n < len(b); n++ {
		if err := m.parse(b[:n]); err == nil && n < len(b) && m.hasQuestion {
			t.Errorf("truncated to %d bytes: parsed a question", n)
		}
	}
}

func FuzzDNSParse(f *testing.F) {
	f.Add(dnsQuery(1, "www.example.com", false, 0))
	f.Add(dnsQuery(2, "dnscat.546b03f50000000000a6023ed4df184d6ac5c2628b47714fdee584fed739", true, 3))
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	f.Add(dnsCNAMEResponse(3, "www.shop.example", "cdn.tracker.example"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m, scratch dnsMsg
		if err := m.parse(b); err != nil {
			return
		}
		if m.hasQuestion {
			m.cnames(b, &scratch, func(target []byte) {
				if len(target) > 255 {
					t.Fatalf("CNAME target of %d bytes", len(target))
				}
			})
		}
		if len(m.name) > 255 {
			t.Fatalf("name of %d bytes", len(m.name))
		}
		for _, c := range m.name {
			if c < 0x21 || c > 0x7e || (c >= 'A' && c <= 'Z') {
				t.Fatalf("byte %#x in name %q", c, m.name)
			}
		}
		// The engine path must not panic either.
		e, _ := New(only("dns"), nil)
		e.OnPacket(pkt(t0, "10.0.0.1", "10.0.0.2", 4000, 53, 17, 0, b))
		e.OnPacket(pkt(t0, "10.0.0.1", "10.0.0.2", 4000, 53, 6, 0, b))
		e.Close()
	})
}

func flowWithSizes(id uint64, src, dst string, sizes ...uint32) *collector.Flow {
	f := testFlow(id, src, dst, 40000, 80, 6, t0)
	for i, s := range sizes {
		p := pkt(t0+int64(i+1)*sec/100, src, dst, 40000, 80, 6, collector.FlagACK, nil)
		p.IPLen = s
		f.Add(p, 0)
	}
	return f
}

func TestSizeOutliers(t *testing.T) {
	e, c := newTest(t, only("size"))
	e.OnFlow(flowWithSizes(1, "10.0.0.1", "10.0.0.2", 1500, 1500, 1400))
	e.OnFlow(flowWithSizes(2, "10.0.0.3", "10.0.0.2", 9000))
	e.OnFlow(flowWithSizes(3, "10.0.0.4", "10.0.0.2", 24))
	e.OnFlow(flowWithSizes(4, "10.0.0.3", "10.0.0.2", 4000)) // same host: aggregated
	e.Close()
	got := c.rules()
	if got["size.oversize"] != 2 || got["size.undersize"] != 1 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	agg := c.alerts[len(c.alerts)-1]
	if agg.Rule != "size.oversize" || agg.Count != 2 || fmt.Sprint(agg.FlowIDs) != "[2 4]" {
		t.Errorf("aggregate %+v", agg)
	}
	// Jumbo frames configured: no alert.
	cfg := only("size")
	cfg.MTU = 9000
	e, c = newTest(t, cfg)
	e.OnFlow(flowWithSizes(2, "10.0.0.3", "10.0.0.2", 9000))
	e.Close()
	if len(c.alerts) != 0 {
		t.Errorf("jumbo MTU: got %v", c.rules())
	}
}

func TestSeqRepeat(t *testing.T) {
	e, c := newTest(t, only("seqrepeat"))
	data := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	forged := []byte("HTTP/1.1 302 Found\r\nLocation: http://evil/\r\n\r\n")
	p := pkt(t0, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, data)
	p.TCPSeq = 1000
	e.OnPacket(p)
	// Three honest retransmissions: nothing.
	for i := 1; i <= 3; i++ {
		p.Timestamp = t0 + int64(i)*sec/5
		e.OnPacket(p)
	}
	if len(c.alerts) != 0 {
		t.Fatalf("retransmissions raised %v", c.rules())
	}
	q := pkt(t0+sec, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, forged)
	q.TCPSeq = 1000
	e.OnPacket(q)
	// Keepalives (1 byte at seq-1) repeated many times: nothing.
	k := pkt(t0+sec, "10.0.0.9", "10.0.0.80", 50000, 80, 6, collector.FlagACK, []byte{0})
	for i := 0; i < 20; i++ {
		k.Timestamp = t0 + sec + int64(i)*sec
		e.OnPacket(k)
	}
	// Replayed segment: the same bytes 10 times.
	r := pkt(t0+2*sec, "10.0.0.81", "10.0.0.9", 80, 50001, 6, collector.FlagACK, data)
	r.TCPSeq = 77
	for i := 0; i < 10; i++ {
		r.Timestamp = t0 + 2*sec + int64(i)*sec/100
		e.OnPacket(r)
	}
	e.Close()
	got := map[string]string{}
	for _, a := range c.alerts {
		got[a.Rule] = a.Src.String()
	}
	want := map[string]string{"seqrepeat.conflict": "10.0.0.80", "seqrepeat.excessive": "10.0.0.81"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTopTalkers(t *testing.T) {
	e, c := newTest(t, only("toptalkers"))
	id := uint64(0)
	for h := 1; h <= 20; h++ {
		id++
		f := testFlow(id, fmt.Sprintf("10.0.1.%d", h), "10.0.0.1", 40000, 80, 6, t0+int64(h)*sec)
		f.Fwd.Packets, f.Fwd.Bytes = 100+uint64(h), 100_000+uint64(h)*1000
		if h == 7 {
			f.Fwd.Packets, f.Fwd.Bytes = 50_000, 60_000_000
		}
		e.OnFlow(f)
	}
	// Few hosts: never judged.
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "toptalkers" || c.alerts[0].Src.String() != "10.0.1.7" {
		t.Fatalf("got %d alerts: %v", len(c.alerts), c.rules())
	}
	c = runTalkers(t, 5, 1e6, 1e9, func(int) (uint64, uint64) { return 1, 100 })
	if len(c.alerts) != 0 {
		t.Fatalf("5 hosts: got %v", c.rules())
	}
	// Others all equal: no spread, so the z-scores are null (they were -1,
	// which reads as a talker below the mean).
	c = runTalkers(t, 20, 1e6, 1e9, func(int) (uint64, uint64) { return 10, 1000 })
	if len(c.alerts) != 1 || c.alerts[0].Evidence["z_bytes"] != nil || c.alerts[0].Evidence["z_packets"] != nil {
		t.Fatalf("equal others: %v, evidence %v", c.rules(), c.alerts[0].Evidence)
	}
	// A giant among hosts of small spread: the z-score is the two-pass
	// one (raw power sums lost the others' spread entirely, 1e24 against
	// a spread of 30).
	var others []float64
	c = runTalkers(t, 20, 1e6, 1e12, func(h int) (uint64, uint64) {
		others = append(others, float64(1000+h*h))
		return 10, uint64(1000 + h*h)
	})
	var mean, ss float64
	for _, v := range others {
		mean += v / float64(len(others))
	}
	for _, v := range others {
		ss += (v - mean) * (v - mean)
	}
	want := round3((1e12 - mean) / math.Sqrt(ss/float64(len(others))))
	if len(c.alerts) != 1 || c.alerts[0].Evidence["z_bytes"] != want {
		t.Fatalf("giant: %v, z_bytes %v, want %v", c.rules(), c.alerts[0].Evidence["z_bytes"], want)
	}
}

// runTalkers sends one flow from each of n hosts 10.0.1.h to a toptalkers
// engine, host 1 with giantPkts and giantBytes, the others (h = 2..n) what
// other says, and returns the alerts.
func runTalkers(t *testing.T, n int, giantPkts, giantBytes uint64, other func(h int) (pkts, bytes uint64)) *collect {
	e, c := newTest(t, only("toptalkers"))
	for h := 1; h <= n; h++ {
		f := testFlow(uint64(h), fmt.Sprintf("10.0.1.%d", h), "10.0.0.1", 40000, 80, 6, t0)
		f.Fwd.Packets, f.Fwd.Bytes = giantPkts, giantBytes
		if h > 1 {
			f.Fwd.Packets, f.Fwd.Bytes = other(h)
		}
		e.OnFlow(f)
	}
	e.Close()
	return c
}

func TestIntelBlocklists(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.txt")
	csv := filepath.Join(dir, "feed.csv")
	os.WriteFile(plain, []byte("# comment\n\n192.0.2.66\n198.51.100.0/24  # a whole net\n0.0.0.0 ads.tracker.example\n*.evil.example\n"), 0o644)
	os.WriteFile(csv, []byte("indicator,type,description\n\"203.0.113.9\",ipv4,\"botnet c2\"\nhttp://phish.example/login,url,phishing\n2001:db8::/32,ipv6,doc\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{plain, csv}
	e, c := newTest(t, cfg)
	e.OnFlow(testFlow(1, "10.0.0.5", "192.0.2.66", 40000, 443, 6, t0))
	e.OnFlow(testFlow(2, "198.51.100.7", "10.0.0.5", 40000, 22, 6, t0))
	e.OnFlow(testFlow(3, "10.0.0.5", "203.0.113.9", 40000, 80, 6, t0))
	e.OnFlow(testFlow(4, "2001:db8::1", "2001:db9::1", 40000, 80, 6, t0))
	e.OnFlow(testFlow(5, "10.0.0.5", "192.0.2.67", 40000, 443, 6, t0)) // not listed
	for i, n := range []string{"www.evil.example", "phish.example", "ads.tracker.example", "tracker.example"} {
		e.OnPacket(pkt(t0+int64(i), "10.0.0.5", "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, n, false, 0)))
	}
	// The list changes: 192.0.2.67 is added; a reload happens on the
	// packet clock after IntelReload.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(plain, []byte("192.0.2.67\n"), 0o644)
	e.OnFlow(testFlow(6, "10.0.0.5", "192.0.2.67", 40000, 443, 6, t0+31*sec))
	e.OnFlow(testFlow(7, "10.0.0.5", "192.0.2.67", 40000, 443, 6, t0+32*sec))
	// A SYN to a listed address alerts at once; its flow record, ending
	// later, only adds its ID to the aggregate.
	e.OnPacket(pkt(t0+40*sec, "10.0.0.8", "192.0.2.67", 41000, 8443, 6, collector.FlagSYN, nil))
	e.OnPacket(pkt(t0+41*sec, "10.0.0.8", "192.0.2.67", 41000, 8443, 6, collector.FlagACK|collector.FlagPSH, []byte("x")))
	syn := testFlow(8, "10.0.0.8", "192.0.2.67", 41000, 8443, 6, t0+40*sec)
	syn.End = t0 + 45*sec
	e.OnFlow(syn)
	e.OnPacket(pkt(t0+46*sec, "10.0.0.8", "192.0.2.67", 41001, 8443, 6, collector.FlagSYN, nil))
	e.Close()
	var got []string
	for _, a := range c.alerts {
		got = append(got, fmt.Sprintf("%s %s>%s %s %v", a.Rule, a.Src, a.Dst, a.DNSName, a.FlowIDs))
	}
	want := []string{
		"intel.ip 10.0.0.5>192.0.2.66  [1]",
		"intel.ip 198.51.100.7>10.0.0.5  [2]",
		"intel.ip 10.0.0.5>203.0.113.9  [3]",
		"intel.ip 2001:db8::1>2001:db9::1  [4]",
		"intel.domain 10.0.0.5>10.0.0.53 www.evil.example []",
		"intel.domain 10.0.0.5>10.0.0.53 phish.example []",
		"intel.domain 10.0.0.5>10.0.0.53 ads.tracker.example []",
		"intel.ip 10.0.0.5>192.0.2.67  [6]",   // reloaded by the time flow 6 ends
		"intel.ip 10.0.0.8>192.0.2.67  []",    // the SYN, at once
		"intel.ip 10.0.0.5>192.0.2.67  [6 7]", // aggregates flushed at Close
		"intel.ip 10.0.0.8>192.0.2.67  [8]",   // second SYN counted, flow 8 named
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c.alerts[2].Evidence["description"] != "ipv4 botnet c2" {
		t.Errorf("csv description %q", c.alerts[2].Evidence["description"])
	}
	missing := only("intel")
	missing.Blocklists = []string{filepath.Join(dir, "missing")}
	if _, err := New(missing, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing blocklist accepted")
	}
}

func TestAlertJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	s := NewJSONLSink(&buf)
	cfg := only("dns")
	cfg.Observer = "gw1"
	e, err := New(cfg, s.Write)
	if err != nil {
		t.Fatal(err)
	}
	e.OnPacket(pkt(t0, "10.0.0.5", "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, "login.example.tk", false, 0)))
	e.Close()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	ev := m["event"].(map[string]any)
	src := m["source"].(map[string]any)
	q := m["dns"].(map[string]any)["question"].(map[string]any)
	fh := m["flowhawk"].(map[string]any)
	if m["@timestamp"] != "2026-01-01T00:00:00Z" || ev["kind"] != "alert" || ev["module"] != "flowhawk" || ev["severity"] != 21.0 ||
		m["rule"].(map[string]any)["name"] != "dns.suspicious_tld" || src["ip"] != "10.0.0.5" || src["port"] != 40000.0 ||
		q["name"] != "login.example.tk" || q["registered_domain"] != "example.tk" || q["top_level_domain"] != "tk" ||
		fh["count"] != 1.0 || fh["severity"] != "low" || fh["cause"] != "dns.suspicious_tld|10.0.0.5|tk" || m["network"].(map[string]any)["transport"] != "udp" ||
		fmt.Sprint(m["observer"]) != "map[name:gw1 product:flowhawk]" {
		t.Errorf("ECS fields wrong: %s", buf.String())
	}
	// top_level_domain is the effective TLD (ECS), the public suffix; it
	// was the last label, "uk".
	q = (&Alert{DNSName: "www.xkqzvbwptrhj.co.uk"}).ECS()["dns"].(map[string]any)["question"].(map[string]any)
	if q["registered_domain"] != "xkqzvbwptrhj.co.uk" || q["top_level_domain"] != "co.uk" {
		t.Errorf("dns.question of www.xkqzvbwptrhj.co.uk: %v, want registered_domain xkqzvbwptrhj.co.uk, top_level_domain co.uk", q)
	}
	var sum bytes.Buffer
	e.Summary(&sum)
	if !strings.Contains(sum.String(), "dns.suspicious_tld") || !strings.Contains(sum.String(), "10.0.0.5") {
		t.Errorf("summary:\n%s", sum.String())
	}
}

func TestAggregationRateLimit(t *testing.T) {
	cfg := only("size")
	cfg.AlertInterval = 10 * time.Second
	e, c := newTest(t, cfg)
	// The same cause every second for 35 s: sent at 0, then aggregates
	// when the clock reaches 10, 20, 30 s (before that second's
	// occurrence), and the rest at Close.
	for i := 0; i <= 35; i++ {
		f := flowWithSizes(uint64(i+1), "10.0.0.3", "10.0.0.2", 9000)
		f.End = t0 + int64(i)*sec
		e.OnFlow(f)
	}
	e.Close()
	var counts []uint64
	for _, a := range c.alerts {
		counts = append(counts, a.Count)
	}
	if fmt.Sprint(counts) != "[1 10 20 30 36]" {
		t.Errorf("counts %v", counts)
	}
	last := c.alerts[len(c.alerts)-1]
	if last.First != t0 || last.Last != t0+35*sec || len(last.FlowIDs) != maxAlertFlowIDs {
		t.Errorf("last %+v", last)
	}
}

func TestFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg := RegisterFlags(fs)
	if err := fs.Parse([]string{"--detect", "all", "--portscan-ports", "50", "--blocklist", "a", "--blocklist", "b", "--mtu", "9000", "x.pcap"}); err != nil {
		t.Fatal(err)
	}
	on, err := cfg.Enabled()
	if err != nil || len(on) != len(AllDetectors) || cfg.PortScanPorts != 50 || len(cfg.Blocklists) != 2 || cfg.MTU != 9000 || fs.Arg(0) != "x.pcap" {
		t.Errorf("cfg %+v on %v err %v", cfg, on, err)
	}
	cfg.Detect = "portscan,dns"
	if on, _ := cfg.Enabled(); len(on) != 2 || !on[DNS] {
		t.Errorf("list: %v", on)
	}
	cfg.Detect = "portscan,bogus"
	if _, err := cfg.Enabled(); err == nil {
		t.Errorf("bogus detector accepted")
	}
	cfg.Detect = ""
	if !cfg.On() {
		t.Errorf("blocklists without --detect: detection off")
	}
	cfg.Blocklists = nil
	if cfg.On() {
		t.Errorf("empty --detect and no blocklist is on")
	}
	// toptalkers judges each host against the others (leave-one-out):
	// the help said "of all hosts".
	if u := fs.Lookup("toptalkers-k").Usage; !strings.Contains(u, "other hosts") || strings.Contains(u, "all hosts") {
		t.Errorf("--toptalkers-k help %q, want the other hosts", u)
	}
}

func TestDisabledEngineIsQuiet(t *testing.T) {
	e, c := newTest(t, DefaultConfig())
	for i := 0; i < 500; i++ {
		e.OnPacket(pkt(t0+int64(i), "10.0.0.9", "10.0.0.1", 40000, uint16(i+1), 6, collector.FlagSYN, nil))
	}
	e.Close()
	if len(c.alerts) != 0 || e.StateSize() != 0 {
		t.Errorf("disabled engine: %v, state %d", c.rules(), e.StateSize())
	}
}

func TestOpenSink(t *testing.T) {
	cfg := only("size")
	cfg.Alerts = filepath.Join(t.TempDir(), "alerts.jsonl")
	s, closeFn, err := cfg.OpenSink(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := New(cfg, s.Write)
	e.OnFlow(flowWithSizes(1, "10.0.0.3", "10.0.0.2", 9000))
	e.Close()
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(cfg.Alerts)
	if n := bytes.Count(b, []byte("\n")); n != 1 || !bytes.Contains(b, []byte(`"size.oversize"`)) || !bytes.Contains(b, []byte(`"flow_ids":[1]`)) {
		t.Errorf("alerts file: %s", b)
	}
	cfg.Alerts = filepath.Join(t.TempDir(), "no", "such", "dir", "a.jsonl")
	if _, _, err := cfg.OpenSink(nil); err == nil {
		t.Errorf("bad path accepted")
	}
}

func FuzzBlocklist(f *testing.F) {
	f.Add([]byte("# c\n192.0.2.1\n198.51.100.0/24 # net\n0.0.0.0 ads.example\n*.evil.example\n"))
	f.Add([]byte("indicator,type\n\"203.0.113.9\",ipv4\nhttp://phish.example/x,url\n2001:db8::/32;v6\n::ffff:10.0.0.0/104\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bl := newBlocklist(0)
		if err := bl.load("fuzz", bytes.NewReader(b)); err != nil {
			return
		}
		for a := range bl.ips {
			if _, ok := bl.matchIP(a); !ok {
				t.Fatalf("listed %v does not match", a)
			}
		}
		for bits, m := range bl.nets {
			for p := range m {
				if p.Bits() != bits || p.Masked() != p {
					t.Fatalf("prefix %v stored under %d", p, bits)
				}
				if _, ok := bl.matchIP(p.Addr()); !ok {
					t.Fatalf("network %v does not match its own address", p)
				}
			}
		}
		for d := range bl.domains {
			if _, _, ok := bl.matchName("x." + d); !ok {
				t.Fatalf("subdomain of %q does not match", d)
			}
		}
	})
}

// A packet-based alert raised while its flow is open gets the flow's ID
// in the cause's next aggregate, once the flow record arrives.
func TestFlowIDsForPacketAlerts(t *testing.T) {
	e, c := newTest(t, only("dns"))
	q := func(ts int64, name string) *collector.Packet {
		return pkt(ts, "10.0.0.66", "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, name, false, 0))
	}
	names := cryptolockerStyle(2026, 2, 2, 2)
	p1 := q(t0, names[0])
	e.OnPacket(p1)
	// The DNS flow ends (as the table would emit it), then the host
	// queries again: the aggregate names flow 42.
	f := testFlow(42, "10.0.0.66", "10.0.0.53", 40000, 53, 17, t0)
	e.OnFlow(f)
	e.OnPacket(q(t0+sec, names[1]))
	e.Close()
	if len(c.alerts) != 2 || c.alerts[0].Rule != "dns.dga" || len(c.alerts[0].FlowIDs) != 0 ||
		fmt.Sprint(c.alerts[1].FlowIDs) != "[42]" || c.alerts[1].Count != 2 {
		for _, a := range c.alerts {
			t.Logf("%s count %d flows %v", a.Rule, a.Count, a.FlowIDs)
		}
		t.Fatalf("flow IDs not attached")
	}
	if e.StateSize() == 0 {
		t.Errorf("state size ignores the flow index")
	}
}

// Causes quiet for an interval are forgotten, so a cause that returns
// later starts over with count 1 and is sent at once.
func TestAggregatorForgetsQuietCauses(t *testing.T) {
	cfg := only("size")
	cfg.AlertInterval = 10 * time.Second
	e, c := newTest(t, cfg)
	for _, at := range []int64{0, 30, 31} {
		f := flowWithSizes(uint64(at+1), "10.0.0.3", "10.0.0.2", 9000)
		f.End = t0 + at*sec
		e.OnFlow(f)
	}
	e.Close()
	var counts []uint64
	for _, a := range c.alerts {
		counts = append(counts, a.Count)
	}
	if fmt.Sprint(counts) != "[1 1 2]" {
		t.Errorf("counts %v, want [1 1 2]", counts)
	}
}

// TestSeqRepeatStateBounded: the docs promise at most SeqMaxTrack
// segments held (two generations of SeqMaxTrack/2). A segment found in
// the old generation is moved into the young one without the size check
// that new segments get, so a sender that keeps retransmitting (or a
// replay that keeps replaying) the segments it already sent grows the
// young generation without bound.
func TestSeqRepeatStateBounded(t *testing.T) {
	cfg := only("seqrepeat")
	cfg.SeqMaxTrack = 64 // two generations of 32
	e, _ := newTest(t, cfg)
	p := pkt(t0, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK, []byte("abcdefgh"))
	ts := t0
	send := func(i int) {
		ts += int64(time.Millisecond) // all within --seq-max-age
		p.Timestamp, p.TCPSeq = ts, uint32(i*100)
		e.OnPacket(p)
	}
	peak, next := 0, 0
	for round := 0; round < 20; round++ {
		for j := 0; j < 32; j++ { // 32 new segments
			send(next)
			next++
		}
		for i := 0; i < next; i++ { // every segment sent so far, again
			send(i)
		}
		peak = max(peak, len(e.seq.cur)+len(e.seq.old))
	}
	e.Close()
	if peak > cfg.SeqMaxTrack {
		t.Fatalf("seqrepeat held %d segments, bound %d", peak, cfg.SeqMaxTrack)
	}
}
