package detect

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// v4Packet returns a packet from src to dst (IPv4 addresses as numbers).
func v4Packet(ts int64, src, dst uint32, sport, dport uint16, proto, flags uint8) collector.Packet {
	var s, d [16]byte
	s[10], s[11], d[10], d[11] = 0xff, 0xff, 0xff, 0xff
	binary.BigEndian.PutUint32(s[12:], src)
	binary.BigEndian.PutUint32(d[12:], dst)
	k, lo := collector.MakeKey(&s, &d, sport, dport, proto, 0, 0)
	return collector.Packet{Timestamp: ts, Key: k, SrcIsLo: lo, IPLen: 40, IPHeaderLen: 20, L4HeaderLen: 20, TCPFlags: flags}
}

// TestPortScanValuesBudget: real scanners (each probing many hosts and
// ports, so each earns full state) in one window. Each host's distinct
// sets are capped (400 values at the defaults), but until 2026-12-07
// nothing bounded them over all hosts: 65,536 such scanners held 1.8 GB
// of live heap while the table said 65,536 entries. The sets now hold at
// most 2^20 values together, the refused ones counted, and an evicted
// host's values are given back.
func TestPortScanValuesBudget(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Detect = "portscan"
	cfg.MaxHosts = 3000
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const scanners, probes = 3000, 400 // 2.4M values without a budget
	ts := t0
	step := int64(50e9) / (scanners * probes) // one 60 s window
	for j := range probes {
		for h := range uint32(scanners) {
			p := v4Packet(ts, 0x0a000000|h, 0xc0a80000|uint32(j), 40000, uint16(1+j), 6, collector.FlagSYN)
			e.OnPacket(&p)
			ts += step
		}
	}
	// New scanners (admitted at their second probe) evict old ones,
	// whose values are given back.
	for j := range 2 {
		for h := range uint32(500) {
			p := v4Packet(ts, 0x0b000000|h, 0xc0a80000|uint32(j), 40000, uint16(1+j), 6, collector.FlagSYN)
			e.OnPacket(&p)
			ts += step
		}
	}
	held := 0
	for _, s := range e.ps.hosts.m {
		held += s.ports.count() + s.dsts.count() + s.udpDsts.count() + s.answered.count()
	}
	l := e.Losses()
	t.Logf("hosts %d (evicted %d), values held %d, refused %d", e.ps.hosts.len(), e.ps.hosts.Evicted, held, l["portscan_values_refused"])
	if held > 1<<20 {
		t.Errorf("the portscan sets hold %d values, want at most 2^20", held)
	}
	if l["portscan_values_refused"] == 0 || e.ps.hosts.Evicted == 0 {
		t.Errorf("no refused value counted in the losses: %v", l)
	}
	if held != e.ps.vals.used {
		t.Errorf("the budget counts %d values used, the sets hold %d", e.ps.vals.used, held)
	}
	e.Close()
	if e.ps.vals.used != 0 {
		t.Errorf("after the window the budget counts %d used", e.ps.vals.used)
	}
}

// TestDNSNamesBudget: as TestPortScanValuesBudget, for the clients'
// distinct query names (800 each at the defaults).
func TestDNSNamesBudget(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Detect = "dns"
	cfg.MaxHosts = 1350
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const clients, names = 1350, 800 // 1.08M names without a budget
	qs := make([][]byte, names)
	for j := range qs {
		qs[j] = dnsQuery(uint16(j), fmt.Sprintf("host%d.example.com", j), false, 0)
	}
	ts := t0
	step := int64(50e9) / (clients * names)
	for j := range names {
		for c := range uint32(clients) {
			p := v4Packet(ts, 0x0a000000|c, 0x08080808, 40000, 53, 17, 0)
			pl := qs[j]
			p.IPLen, p.L4HeaderLen, p.PayloadLen, p.Payload = 28+uint32(len(pl)), 8, uint32(len(pl)), pl
			e.OnPacket(&p)
			ts += step
		}
	}
	for c := range uint32(10) { // new clients evict old ones
		p := v4Packet(ts, 0x0b000000|c, 0x08080808, 40000, 53, 17, 0)
		pl := qs[0]
		p.IPLen, p.L4HeaderLen, p.PayloadLen, p.Payload = 28+uint32(len(pl)), 8, uint32(len(pl)), pl
		e.OnPacket(&p)
	}
	held := 0
	for _, h := range e.dns.hosts.m {
		held += h.names.count() + h.nxDistinct.count()
	}
	l := e.Losses()
	t.Logf("clients %d (evicted %d), names held %d, refused %d", e.dns.hosts.len(), e.dns.hosts.Evicted, held, l["dns_names_refused"])
	if held > 1<<20 {
		t.Errorf("the dns sets hold %d names, want at most 2^20", held)
	}
	if l["dns_names_refused"] == 0 || e.dns.hosts.Evicted == 0 {
		t.Errorf("no refused name counted in the losses: %v", l)
	}
	if held != e.dns.names.used {
		t.Errorf("the budget counts %d names used, the sets hold %d", e.dns.names.used, held)
	}
}
