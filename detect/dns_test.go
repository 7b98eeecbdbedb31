package detect

import (
	"fmt"
	"testing"

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
