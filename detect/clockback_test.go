package detect

import (
	"fmt"
	"testing"
)

// TestWindowsAfterTimeJumpBack: one record dated 2106 (a corrupt ts_sec,
// which the flow table survives by following the packets back,
// docs/reader.md) left the engine's clock in 2106, so no window rolled
// for the rest of the capture: a client asking 10 distinct names a
// minute for 30 minutes, far below --dns-names 200 per 60 s window, had
// all 300 names in one "60 s" window (dns.many_names). The windows now
// start again with the packets, and a real burst after the jump is
// still caught.
func TestWindowsAfterTimeJumpBack(t *testing.T) {
	const t0 = int64(1_700_000_000e9)
	for _, corrupt := range []bool{false, true} {
		c := &collect{}
		e, err := New(allOn(), c.sink)
		if err != nil {
			t.Fatal(err)
		}
		first := t0
		if corrupt {
			first = int64(0xFFFFFFFF) * 1e9
		}
		e.OnPacket(pkt(first, "10.0.0.9", "10.0.0.1", 40000, 123, 17, 0, make([]byte, 48)))
		query := func(ts int64, i int) {
			q := dnsQuery(uint16(i), fmt.Sprintf("host%d.example.com", i), false, 0)
			e.OnPacket(pkt(ts, "10.0.0.5", "10.0.0.53", uint16(20000+i%20000), 53, 17, 0, q))
			r := dnsQuery(uint16(i), fmt.Sprintf("host%d.example.com", i), true, 0)
			e.OnPacket(pkt(ts+2e6, "10.0.0.53", "10.0.0.5", 53, uint16(20000+i%20000), 17, 0, r))
		}
		for i := range 300 {
			query(t0+int64(i)*6e9+1e9, i)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if n := c.rules()["dns.many_names"]; n != 0 {
			t.Errorf("first record in 2106: %v: %d dns.many_names alerts for 10 names a minute", corrupt, n)
		}
		// A burst of 400 names in 4 s after the jump is still caught.
		c = &collect{}
		e, err = New(allOn(), c.sink)
		if err != nil {
			t.Fatal(err)
		}
		e.OnPacket(pkt(first, "10.0.0.9", "10.0.0.1", 40000, 123, 17, 0, make([]byte, 48)))
		for i := range 400 {
			query(t0+int64(i)*1e7, 1000+i)
		}
		e.Advance(t0 + 300e9)
		if n := c.rules()["dns.many_names"]; n != 1 {
			t.Errorf("first record in 2106: %v: %d dns.many_names alerts for a burst of 400 names in 4 s, want 1 before the end", corrupt, n)
		}
		e.Close()
	}
}
