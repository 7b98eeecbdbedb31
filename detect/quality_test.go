package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// TestPortScanSweepSynAckRetransmitted: a source sends SYNs to port 22 on
// 100 hosts; 20 listen and, never answered, send their SYN+ACK 5 times
// (as chrissanders__synscan's open ports do). The sweep rule compared
// SYN+ACK packets (100) with SYNs (99) and called it answered; 80 of the
// 100 hosts never answered.
func TestPortScanSweepSynAckRetransmitted(t *testing.T) {
	e, c := newTest(t, only("portscan"))
	for i := range 100 {
		ts := t0 + int64(i)*sec/10
		dst := fmt.Sprintf("10.1.0.%d", i+1)
		e.OnPacket(pkt(ts, "10.0.0.9", dst, 40000, 22, 6, collector.FlagSYN, nil))
		if i%5 == 0 {
			for r := range 5 { // SYN+ACK at 0, 1, 3, 7, 15 s
				e.OnPacket(pkt(ts+int64(1<<r-1)*sec+1000, dst, "10.0.0.9", 22, 40000, 6, collector.FlagSYN|collector.FlagACK, nil))
			}
		}
	}
	e.Close()
	if c.rules()["portscan.sweep"] != 1 {
		t.Fatalf("got %v, want portscan.sweep for 10.0.0.9 (80 of 100 hosts never answered)", c.rules())
	}
	// 19: the first host's answers are fed before the source's second
	// SYN admits it (the packets come host by host).
	if a := c.alerts[0]; a.Evidence["answered_hosts"] != 19 {
		t.Errorf("answered_hosts %v, want 19", a.Evidence["answered_hosts"])
	}
}

// TestDNSNXDomainSearchList: a pod with ndots:5 and three cluster.local
// search suffixes looks up 4 external names, each tried under every
// suffix for A and AAAA first: 24 NXDOMAIN answers for 12 local names,
// then all 4 resolve. That was dns.nxdomain; 25 distinct names that do
// not exist still are.
func TestDNSNXDomainSearchList(t *testing.T) {
	e, c := newTest(t, only("dns"))
	ts, id := t0, uint16(0)
	ask := func(client, name string, qtype uint16, rcode uint8) {
		ts += sec / 20
		id++
		q := dnsQuery(id, name, false, 0)
		q[len(q)-3] = byte(qtype)
		r := dnsQuery(id, name, true, rcode)
		r[len(r)-3] = byte(qtype)
		e.OnPacket(pkt(ts, client, "10.96.0.10", 41000+id, 53, 17, 0, q))
		e.OnPacket(pkt(ts+1000, "10.96.0.10", client, 53, 41000+id, 17, 0, r))
	}
	for _, n := range []string{"api.github.com", "pypi.org", "sts.amazonaws.com", "registry.npmjs.org"} {
		for _, sfx := range []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"} {
			ask("10.244.1.7", n+"."+sfx, 1, 3)
			ask("10.244.1.7", n+"."+sfx, 28, 3)
		}
		ask("10.244.1.7", n, 1, 0)
		ask("10.244.1.7", n, 28, 0)
	}
	for i := range 25 {
		ask("10.244.1.8", fmt.Sprintf("gone%d.example.com", i), 1, 3)
		ask("10.244.1.8", fmt.Sprintf("gone%d.example.com", i), 28, 3)
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "dns.nxdomain" || c.alerts[0].Src.String() != "10.244.1.8" {
		t.Fatalf("got %v, want one dns.nxdomain for 10.244.1.8 only", c.alerts)
	}
	if ev := c.alerts[0].Evidence; ev["nxdomain_names"] != 25 || ev["nxdomain"] != uint64(50) {
		t.Errorf("evidence %v, want 25 names and 50 answers", ev)
	}
}

// TestDNSTunnelWithoutTLD: dnscat without a domain polls
// "dnscat.<34 hex digits>"; the hex was taken for the TLD, the scored
// label was "dnscat" and the tunnel part empty, so 60 polls (61 of
// ndpi__dns_exfiltration's 150 queries) raised nothing.
func TestDNSTunnelWithoutTLD(t *testing.T) {
	e, c := newTest(t, only("dns"))
	for i := range 60 {
		ts := t0 + int64(i)*sec
		name := fmt.Sprintf("dnscat.%04x01f500%08x%016x", 0xf97c+i, 0x6c798b8d^i*7919, 0x6e990002e3772bd8+i*104729)
		e.OnPacket(pkt(ts, "192.168.220.56", "192.168.203.167", 56373, 53, 17, 0, dnsQuery(uint16(i), name, false, 0)))
		e.OnPacket(pkt(ts+1000, "192.168.203.167", "192.168.220.56", 53, 56373, 17, 0, dnsQuery(uint16(i), name, true, 0)))
	}
	e.Close()
	if c.rules()["dns.tunnel"] == 0 {
		t.Fatalf("60 dnscat polls (34 hex digits of tunnel data each) raised %v, want dns.tunnel", c.rules())
	}
	for _, a := range c.alerts {
		if rd, ok := a.Evidence["registered_domain"]; ok && rd != "" {
			t.Errorf("%s: registered_domain %q for a name without a top-level domain", a.Rule, rd)
		}
		if q, _ := a.ECS()["dns"].(map[string]any); q != nil {
			if tld, ok := q["question"].(map[string]any)["top_level_domain"]; ok {
				t.Errorf("%s: top_level_domain %v for a name without one", a.Rule, tld)
			}
		}
	}
}

// TestSynFloodRateOverItsSpan: 2,000 SYNs in half a second of a 10 s
// window are 4,000/s, not 200/s (the window's average).
func TestSynFloodRateOverItsSpan(t *testing.T) {
	e, c := newTest(t, only("synflood"))
	for i := range 2000 {
		src := fmt.Sprintf("10.%d.%d.%d", 1+i/65536, i/256%256, i%256)
		e.OnPacket(pkt(t0+int64(i)*sec/4000, src, "10.9.9.9", uint16(1024+i), 80, 6, collector.FlagSYN, nil))
	}
	e.Close()
	if c.rules()["synflood"] != 1 {
		t.Fatalf("got %v, want synflood", c.rules())
	}
	if r, _ := c.alerts[0].Evidence["syn_per_s"].(float64); r < 3900 || r > 4100 {
		t.Errorf("syn_per_s %v, want about 4000", r)
	}
}

// TestTopTalkersAlikeHosts: hosts that all send about the same (cameras at
// one bit rate, replicas) have a tiny spread; a host 2 % above them
// scored z 59 and was "far above the other 29 hosts", and 30 hosts of one
// distribution (1 % spread) raised toptalkers in 39 of 200 windows. A
// talker also sends at least twice the others' mean now; a real giant
// still alerts.
func TestTopTalkersAlikeHosts(t *testing.T) {
	c := runTalkers(t, 30, 20_800, 30_600_000, func(h int) (uint64, uint64) {
		return 20_400 + uint64(h%5), 30_000_000 + uint64(h%7)*5_000
	})
	for _, a := range c.alerts {
		t.Errorf("a host 2 %% above alike hosts: %s: %s %v", a.Rule, a.Message, a.Evidence)
	}
	r := rand.New(rand.NewPCG(1, 2))
	alerted := 0
	for range 200 {
		g := func() (uint64, uint64) {
			return uint64(20_000 * (1 + 0.01*r.NormFloat64())), uint64(30e6 * (1 + 0.01*r.NormFloat64()))
		}
		gp, gb := g()
		if c := runTalkers(t, 30, gp, gb, func(int) (uint64, uint64) { return g() }); len(c.alerts) > 0 {
			alerted++
		}
	}
	if alerted > 0 {
		t.Errorf("%d of 200 windows of 30 alike hosts raised toptalkers", alerted)
	}
	if c := runTalkers(t, 30, 60_000, 90e6, func(int) (uint64, uint64) { return 20_000, 30e6 }); c.rules()["toptalkers"] != 1 {
		t.Errorf("a host sending 3 times the others: %v, want toptalkers", c.rules())
	}
}

// TestSeqRepeatShortInjection: a forged 40-byte redirect arrives before
// the server's real 1282-byte response at the same sequence number; both
// start with "HTTP/1.1 200 OK\r". Only 16 bytes of a segment were kept,
// and no prefix hash covers 40 bytes: no conflict was seen.
func TestSeqRepeatShortInjection(t *testing.T) {
	e, c := newTest(t, only("seqrepeat"))
	real := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1200\r\n\r\n<html>" + string(make([]byte, 1200)))
	forged := []byte("HTTP/1.1 200 OK\r\nLocation: http://e/\r\n\r\n")
	p := pkt(t0, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, forged)
	p.TCPSeq = 1000
	e.OnPacket(p)
	q := pkt(t0+sec/100, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, real)
	q.TCPSeq = 1000
	e.OnPacket(q)
	e.Close()
	if c.rules()["seqrepeat.conflict"] != 1 {
		t.Errorf("got %v, want one seqrepeat.conflict", c.rules())
	}
}
