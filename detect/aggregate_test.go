package detect

import (
	"fmt"
	"testing"
	"time"
)

// Aggregates that fall due at the same tick go out in first-seen order,
// not in the order of a map walk, so two replays of one capture write the
// same alerts in the same order.
func TestAggregateTickOrder(t *testing.T) {
	run := func() []string {
		cfg := only("dns")
		cfg.AlertInterval = 10 * time.Second
		e, c := newTest(t, cfg)
		// 40 clients each query a .tk name twice: the first is sent at
		// once, the second waits for the interval.
		for round := int64(0); round < 2; round++ {
			for i := 0; i < 40; i++ {
				ts := t0 + round*sec + int64(i)*sec/100
				e.OnPacket(pkt(ts, fmt.Sprintf("10.0.1.%d", i+1), "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, "login.example.tk", false, 0)))
			}
		}
		// The clock passes the interval: all 40 aggregates are due at
		// one tick, before Close.
		e.OnPacket(pkt(t0+20*sec, "10.0.2.1", "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, "www.example.com", false, 0)))
		n := len(c.alerts)
		e.Close()
		if len(c.alerts) != n {
			t.Fatalf("%d aggregates left for Close", len(c.alerts)-n)
		}
		var got []string
		for _, a := range c.alerts {
			got = append(got, fmt.Sprintf("%s %d %d", a.Src, a.First, a.Count))
		}
		return got
	}
	first := run()
	if len(first) != 80 {
		t.Fatalf("%d alerts, want 80", len(first))
	}
	for i := 40; i < 80; i++ {
		if want := fmt.Sprintf("10.0.1.%d %d 2", i-39, t0+int64(i-40)*sec/100); first[i] != want {
			t.Fatalf("aggregate %d is %q, want %q (first-seen order)", i-40, first[i], want)
		}
	}
	for r := 0; r < 3; r++ {
		if again := run(); fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatalf("replay %d sent a different stream", r+2)
		}
	}
}
