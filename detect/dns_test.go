package detect

import (
	"testing"
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
