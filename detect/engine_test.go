package detect

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// A window that is not a whole number of seconds ends exactly where it
// should: with --dns-window 1500ms, NXDOMAIN answers at 1.2 s and 1.6 s
// past a window start fall in two windows, not one.
func TestWindowsEndExactly(t *testing.T) {
	const base = t0 // a multiple of 1.5 s: windows start at base, base+1.5 s, …
	if base%(3*sec/2) != 0 {
		t.Fatal("base not aligned to 1.5 s")
	}
	nx := func(offsets ...int64) map[string]int {
		cfg := only("dns")
		cfg.DNSWindow = 1500 * time.Millisecond
		cfg.NXDomain = 2
		e, c := newTest(t, cfg)
		for i, off := range offsets {
			name := fmt.Sprintf("nx%d.example.com", i)
			e.OnPacket(pkt(base+off-1, "10.0.0.9", "10.0.0.53", 30000+uint16(i), 53, 17, 0, dnsQuery(1, name, false, 0)))
			e.OnPacket(pkt(base+off, "10.0.0.53", "10.0.0.9", 53, 30000+uint16(i), 17, 0, dnsQuery(1, name, true, 3)))
		}
		e.OnPacket(pkt(base+10*sec, "10.0.0.9", "10.0.0.53", 30100, 53, 17, 0, dnsQuery(9, "end.example.com", false, 0)))
		e.Close()
		return c.rules()
	}
	ms := int64(time.Millisecond)
	if got := nx(1200*ms, 1600*ms); got["dns.nxdomain"] != 0 {
		t.Errorf("answers in two 1.5 s windows raised %v", got)
	}
	if got := nx(1600*ms, 2900*ms); got["dns.nxdomain"] != 1 {
		t.Errorf("answers in one 1.5 s window raised %v, want dns.nxdomain", got)
	}
}

// --detect all in any case enables intel without asking for a blocklist;
// only naming intel without one warns. "ALL" warned, as New compared
// with "all" while Enabled lower-cases.
func TestIntelWarningAnyCase(t *testing.T) {
	var logs strings.Builder
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	for det, warn := range map[string]bool{"all": false, "ALL": false, " All ": false, "portscan,ALL": false, "intel": true, "INTEL": true, "dns,intel": true} {
		logs.Reset()
		e, err := New(only(det), nil)
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
		if got := strings.Contains(logs.String(), "without --blocklist"); got != warn {
			t.Errorf("--detect %q: warned %v, want %v (%s)", det, got, warn, logs.String())
		}
	}
}

// TestWindowsNearEpoch: windows are aligned to multiples of their size
// since the epoch, and window.roll took start == 0 for "no window yet". A
// capture whose first packets fall in the first window after the epoch
// (times of 1970, as tools that zero or rebase times write) had start 0
// forever: that window was never judged at its end and ran into the
// next, so two windows of 60 ports each made one of 120. Before the
// epoch (a negative if_tsoffset) the engine's clock, starting at 0, never
// moved, and every window ran into one judged at Close.
func TestWindowsNearEpoch(t *testing.T) {
	run := func(base int64) map[string]int {
		e, c := newTest(t, only("portscan"))
		for w := int64(0); w < 2; w++ { // two windows, 61 SYNs to 61 ports each
			for i := int64(0); i < 61; i++ {
				ts := base + w*60*sec + sec + i*sec/10
				e.OnPacket(pkt(ts, "10.0.0.9", "10.0.0.1", 40000, uint16(1+w*100+i), 6, collector.FlagSYN, nil))
			}
		}
		e.Close()
		return c.rules()
	}
	if got := run(t0); len(got) != 0 {
		t.Fatalf("at t0: %v", got) // control: nothing, as documented
	}
	for _, base := range []int64{0, -3600 * sec} {
		if got := run(base); len(got) != 0 {
			t.Errorf("at %v: two 60-port windows raised %v", time.Unix(0, base).UTC(), got)
		}
	}
}
