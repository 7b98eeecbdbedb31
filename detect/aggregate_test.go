package detect

import (
	"fmt"
	"strings"
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

// Alert causes evicted at --detect-max-hosts are counted with the other
// detector evictions, and an evicted cause's unsent occurrences are sent
// rather than lost.
func TestAggregateEvictionCounted(t *testing.T) {
	cfg := only("size")
	cfg.MaxHosts = 16
	e, c := newTest(t, cfg)
	at := func(round, host int) int64 { return t0 + int64(round)*sec + int64(host)*sec/1000 }
	id := uint64(0)
	for round := 0; round < 2; round++ {
		for h := 0; h < 40; h++ {
			id++
			f := flowWithSizes(id, fmt.Sprintf("10.0.3.%d", h+1), "10.0.0.2", 9000)
			f.End = at(round, h)
			e.OnFlow(f)
		}
	}
	e.Close()
	if n := e.Losses()["alert_causes_evicted"]; n < 24 {
		t.Errorf("alert_causes_evicted %d, want at least 24 (40 causes in 16 slots)", n)
	}
	var sum strings.Builder
	e.Summary(&sum)
	if !strings.Contains(sum.String(), "alert_causes_evicted") {
		t.Errorf("summary does not report the evictions:\n%s", sum.String())
	}
	last := map[string]int64{}
	for _, a := range c.alerts {
		last[a.Src.String()] = max(last[a.Src.String()], a.Last)
	}
	for h := 0; h < 40; h++ {
		if src := fmt.Sprintf("10.0.3.%d", h+1); last[src] != at(1, h) {
			t.Errorf("%s: last occurrence never sent (latest alert ends %d, want %d)", src, last[src]-t0, at(1, h)-t0)
		}
	}
}
