package detect

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// Only names with a label that starts with "_" (SRV and service names)
// are skipped: a base64url tunnel, whose labels hold "_" inside, is
// still scored.
func TestDNSUnderscoreLabels(t *testing.T) {
	e, c := newTest(t, only("dns"))
	names := map[string]string{
		"10.0.0.1": "c2vjcmv0_ZGF0YS1leGZpbHRyYXRpb24tdGVzdC0x.a9_Zq3Lk0-Pw7xY2.exfil-example.com",
		"10.0.0.2": "_ldap._tcp.dc.example.com",
		"10.0.0.3": "_dmarc.example.com",
		"10.0.0.4": "_sip._udp.qxzvbkwrtjplmn.com",
	}
	for i, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		e.OnPacket(pkt(t0+int64(i)*sec, src, "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, names[src], false, 0)))
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "dns.tunnel" || c.alerts[0].Src.String() != "10.0.0.1" {
		for _, a := range c.alerts {
			t.Log(a.Rule, a.Message)
		}
		t.Fatalf("alerts %v, want dns.tunnel from 10.0.0.1 only", c.rules())
	}
}

// dns.nxdomain and dns.many_names name the transport the messages used:
// tcp for DNS over TCP, none when a client used both.
func TestDNSWindowAlertTransport(t *testing.T) {
	cfg := only("dns")
	cfg.NXDomain, cfg.DistinctNames = 3, 3
	e, c := newTest(t, cfg)
	tcp := func(m []byte) []byte { return append([]byte{byte(len(m) >> 8), byte(len(m))}, m...) }
	for i := 0; i < 3; i++ {
		ts := t0 + int64(i)*sec
		name := fmt.Sprintf("nx%d.example.com", i)
		// 10.0.0.5 over TCP only; 10.0.0.6 over UDP then TCP.
		e.OnPacket(pkt(ts, "10.0.0.5", "10.0.0.53", 40000+uint16(i), 53, 6, collector.FlagPSH|collector.FlagACK, tcp(dnsQuery(1, name, false, 0))))
		e.OnPacket(pkt(ts+1, "10.0.0.53", "10.0.0.5", 53, 40000+uint16(i), 6, collector.FlagPSH|collector.FlagACK, tcp(dnsQuery(1, name, true, 3))))
		proto := uint8(17)
		if i == 2 {
			proto = 6
		}
		q, r := dnsQuery(2, name, false, 0), dnsQuery(2, name, true, 3)
		if proto == 6 {
			q, r = tcp(q), tcp(r)
		}
		e.OnPacket(pkt(ts+2, "10.0.0.6", "10.0.0.53", 41000+uint16(i), 53, proto, collector.FlagPSH|collector.FlagACK, q))
		e.OnPacket(pkt(ts+3, "10.0.0.53", "10.0.0.6", 53, 41000+uint16(i), proto, collector.FlagPSH|collector.FlagACK, r))
	}
	e.Close()
	got := map[string]uint8{}
	for _, a := range c.alerts {
		got[a.Rule+" "+a.Src.String()] = a.Proto
	}
	want := map[string]uint8{
		"dns.nxdomain 10.0.0.5": 6, "dns.many_names 10.0.0.5": 6,
		"dns.nxdomain 10.0.0.6": 0, "dns.many_names 10.0.0.6": 0,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("transports %v, want %v", got, want)
	}
}

// An NXDOMAIN answer counts for its client only when the sensor saw its
// query: forged answers in a resolver's name (no query, another DNS ID,
// another port, or long after the query) must not make the victim look
// like a DGA-infected host, and a repeated answer counts once. With
// partial packets (sampled capture) every answer counts.
func TestNXDomainNeedsItsQuery(t *testing.T) {
	const client, resolver = "10.0.0.9", "10.0.0.53"
	run := func(partial bool, send func(e *Engine, i int, ts int64)) []*Alert {
		cfg := only("dns")
		cfg.NXDomain = 5
		cfg.PartialPackets = partial
		e, c := newTest(t, cfg)
		for i := 0; i < 8; i++ {
			send(e, i, t0+int64(i)*sec)
		}
		e.Close()
		var out []*Alert
		for _, a := range c.alerts {
			if a.Rule == "dns.nxdomain" {
				out = append(out, a)
			}
		}
		return out
	}
	name := func(i int) string { return fmt.Sprintf("nx%d.example.com", i) }
	query := func(e *Engine, i int, ts int64, port, id uint16) {
		e.OnPacket(pkt(ts, client, resolver, port, 53, 17, 0, dnsQuery(id, name(i), false, 0)))
	}
	answer := func(e *Engine, i int, ts int64, port, id uint16) {
		e.OnPacket(pkt(ts, resolver, client, 53, port, 17, 0, dnsQuery(id, name(i), true, 3)))
	}

	matched := run(false, func(e *Engine, i int, ts int64) {
		query(e, i, ts, 30000+uint16(i), 7)
		answer(e, i, ts+int64(time.Millisecond), 30000+uint16(i), 7)
	})
	if len(matched) != 1 || matched[0].Evidence["nxdomain"] != uint64(8) || matched[0].Evidence["nxdomain_unmatched"] != nil {
		t.Fatalf("8 answered queries: alerts %+v, want one dns.nxdomain counting 8", matched)
	}

	forged := map[string]func(e *Engine, i int, ts int64){
		"no query": func(e *Engine, i int, ts int64) { answer(e, i, ts, 30000+uint16(i), 7) },
		"another id": func(e *Engine, i int, ts int64) {
			query(e, i, ts, 30000+uint16(i), 7)
			answer(e, i, ts+1, 30000+uint16(i), 8)
		},
		"another port": func(e *Engine, i int, ts int64) {
			query(e, i, ts, 30000, 7)
			answer(e, i, ts+1, 31000, 7)
		},
		"repeated answer": func(e *Engine, i int, ts int64) {
			if i == 0 {
				query(e, i, ts, 30000, 7)
			}
			answer(e, i, ts+1, 30000, 7)
		},
	}
	for what, send := range forged {
		if got := run(false, send); len(got) != 0 {
			t.Errorf("%s: dns.nxdomain raised (%s), want none", what, got[0].Message)
		}
	}
	// An answer 31 s after its query does not match; the late answers
	// are given as unmatched when the matched ones raise the alert.
	late := run(false, func(e *Engine, i int, ts int64) {
		query(e, i, ts, 30000+uint16(i), 7)
		d := int64(time.Millisecond)
		if i >= 5 {
			d = 31 * sec
		}
		answer(e, i, ts+d, 30000+uint16(i), 7)
	})
	if len(late) != 1 || late[0].Evidence["nxdomain"] != uint64(5) || late[0].Evidence["nxdomain_unmatched"] != uint64(3) {
		t.Fatalf("5 timely and 3 late answers: alerts %+v, want one dns.nxdomain counting 5, 3 unmatched", late)
	}

	if got := run(true, forged["no query"]); len(got) != 1 {
		t.Fatalf("partial packets: %d dns.nxdomain alerts for 8 unmatched answers, want 1", len(got))
	}
}

// Every dns.nxdomain alert names a domain of its own window in
// dns.question.name, the window's first answered NXDOMAIN: the first alert
// had none, and the aggregated ones the first name of the first window.
func TestNXDomainAlertName(t *testing.T) {
	const client, resolver = "10.0.0.9", "10.0.0.53"
	cfg := only("dns")
	cfg.NXDomain = 5
	e, c := newTest(t, cfg)
	for w := range 3 {
		for i := range 6 {
			ts, id := t0+int64(w)*60*sec+int64(i)*sec, uint16(w*10+i)
			name := fmt.Sprintf("nx%d-%d.example.com", w, i)
			e.OnPacket(pkt(ts, client, resolver, 30000+id, 53, 17, 0, dnsQuery(id, name, false, 0)))
			e.OnPacket(pkt(ts+int64(time.Millisecond), resolver, client, 53, 30000+id, 17, 0, dnsQuery(id, name, true, 3)))
		}
	}
	e.Close()
	var got []string
	for _, a := range c.alerts {
		if a.Rule == "dns.nxdomain" {
			d, _ := a.ECS()["dns"].(map[string]any)
			q, _ := d["question"].(map[string]any)
			got = append(got, fmt.Sprint(q["name"]))
		}
	}
	if want := "[nx0-0.example.com nx1-0.example.com nx2-0.example.com]"; fmt.Sprint(got) != want {
		t.Errorf("dns.question.name of the dns.nxdomain alerts: %v, want %s", got, want)
	}
}

// TestDNSAnsweredQueriesLeavePending: a pending query is kept "until
// answered", and dns_queries_evicted counts "queries forgotten
// unanswered because the pending table was full". Only NXDOMAIN answers
// remove their query, though: every query answered NOERROR stays, so the
// table of an ordinary client fills up and each further query evicts one
// counted as forgotten unanswered.
func TestDNSAnsweredQueriesLeavePending(t *testing.T) {
	cfg := only("dns")
	cfg.MaxHosts = 16
	e, _ := newTest(t, cfg)
	for i := 0; i < 40; i++ {
		ts := t0 + int64(i)*sec/10
		name := fmt.Sprintf("host%d.example.com", i)
		e.OnPacket(pkt(ts, "10.0.0.9", "10.0.0.53", 30000+uint16(i), 53, 17, 0, dnsQuery(uint16(i), name, false, 0)))
		e.OnPacket(pkt(ts+1000, "10.0.0.53", "10.0.0.9", 53, 30000+uint16(i), 17, 0, dnsQuery(uint16(i), name, true, 0)))
	}
	pending := e.dns.pending.len()
	e.Close()
	if n := e.Losses()["dns_queries_evicted"]; n != 0 || pending != 0 {
		t.Fatalf("40 queries, all answered: %d still pending, dns_queries_evicted %d", pending, n)
	}
}

// TestDNSLongNameCut: a name over 255 bytes (no resolver passes one; a
// tunnel's client may send it straight to its own server) keeps its last
// 255 bytes from a label boundary, where its registrable domain is. It
// was refused as malformed and escaped dns.tunnel, dns.many_names and
// intel.domain.
func TestDNSLongNameCut(t *testing.T) {
	e, c := newTest(t, only("dns"))
	var labels []string
	for i := 0; i < 6; i++ {
		labels = append(labels, fmt.Sprintf("%x", sha256.Sum256([]byte{byte(i)}))[:50])
	}
	name := strings.Join(labels, ".") + ".t.example.com" // 319 bytes
	e.OnPacket(pkt(t0, "10.0.0.9", "203.0.113.53", 40000, 53, 17, 0, dnsQuery(1, name, false, 0)))
	e.Close()
	if c.rules()["dns.tunnel"] != 1 {
		t.Fatalf("a %d-byte hex name raised %v (dnsBad %d), want dns.tunnel on its last 255 bytes", len(name), c.rules(), e.stats.dnsBad)
	}
	for _, a := range c.alerts {
		if a.Rule != "dns.tunnel" {
			continue
		}
		want := strings.Join(labels[2:], ".") + ".t.example.com" // the labels that fit whole
		if a.DNSName != want || a.Evidence["registered_domain"] != "example.com" {
			t.Errorf("dns.tunnel on %q (%d bytes) under %v, want %q under example.com", a.DNSName, len(a.DNSName), a.Evidence["registered_domain"], want)
		}
	}
}
