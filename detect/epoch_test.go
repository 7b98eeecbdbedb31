package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestTopTalkersBeforeEpoch: a host sending 700 KB in each of two
// 60 s windows (below the 1 MiB floor in each) is no top talker, before
// 1970 as after it (docs/detect.md: windows are aligned since the epoch,
// before it too).
func TestTopTalkersBeforeEpoch(t *testing.T) {
	run := func(base int64) map[string]int {
		e, c := newTest(t, only("toptalkers"))
		id := uint64(0)
		for w := int64(0); w < 2; w++ {
			for h := 1; h <= 12; h++ {
				id++
				f := testFlow(id, fmt.Sprintf("10.0.1.%d", h), "10.0.0.1", 40000, 80, 17, base+w*60*sec+int64(h)*sec)
				f.Fwd.Packets, f.Fwd.Bytes = 10, 1000
				e.OnFlow(f)
			}
			id++
			f := testFlow(id, "10.0.9.9", "10.0.0.1", 40000, 80, 17, base+w*60*sec+30*sec)
			f.Fwd.Packets, f.Fwd.Bytes = 700, 700_000
			e.OnFlow(f)
		}
		e.Close()
		return c.rules()
	}
	if got := run(t0); len(got) != 0 {
		t.Fatalf("at t0: %v", got)
	}
	for _, base := range []int64{-3600 * sec} {
		if got := run(base); len(got) != 0 {
			t.Errorf("at %v: two windows of 700 KB raised %v", time.Unix(0, base).UTC(), got)
		}
	}
}

// TestIntelReloadBeforeEpoch: a list changed on disk is reloaded at
// the next check, every --blocklist-reload of packet time, before 1970
// as after it.
func TestIntelReloadBeforeEpoch(t *testing.T) {
	for _, base := range []int64{t0, -3600 * sec} {
		dir := t.TempDir()
		path := filepath.Join(dir, "a.txt")
		os.WriteFile(path, []byte("198.51.100.1\n"), 0o644)
		cfg := only("intel")
		cfg.Blocklists = []string{path}
		e, c := newTest(t, cfg)
		e.OnFlow(testFlow(1, "10.0.0.5", "10.0.0.6", 40000, 443, 6, base))
		os.WriteFile(path, []byte("198.51.100.1\n203.0.113.7,c2\n"), 0o644)
		for i := int64(1); i <= 5; i++ {
			e.OnFlow(testFlow(uint64(1+i), "10.0.0.5", "203.0.113.7", 40000+uint16(i), 443, 6, base+i*31*sec))
		}
		e.Close()
		if len(c.alerts) == 0 {
			t.Errorf("at %v: list changed on disk, 5 checks later still not reloaded (%d reloads)", time.Unix(0, base).UTC(), e.intel.Reloads)
		}
	}
}

// TestSynFloodHandshakesBeforeEpoch: pending SYNs that are never
// answered age out of the handshake table (two generations of 30 s), so
// the completed handshakes of a busy server minutes later are paired and
// it is not a flood, before 1970 as after it.
func TestSynFloodHandshakesBeforeEpoch(t *testing.T) {
	run := func(base int64) map[string]int {
		cfg := only("synflood")
		cfg.MaxHosts = 16
		e, c := newTest(t, cfg)
		// 20 unanswered SYNs (a few dead peers): no flood.
		for i := 0; i < 20; i++ {
			e.OnPacket(pkt(base+int64(i)*sec/100, "10.9.0.1", "10.0.0.99", uint16(50000+i), 80, 6, collector.FlagSYN, nil))
		}
		// Two minutes later a busy server: 1200 handshakes, all completed.
		for i := 0; i < 1200; i++ {
			ts := base + 120*sec + int64(i)*sec/200
			cl := fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
			sp := uint16(30000 + i)
			e.OnPacket(pkt(ts, cl, "10.0.0.80", sp, 80, 6, collector.FlagSYN, nil))
			e.OnPacket(pkt(ts+1e5, "10.0.0.80", cl, 80, sp, 6, collector.FlagSYN|collector.FlagACK, nil))
			e.OnPacket(pkt(ts+2e5, cl, "10.0.0.80", sp, 80, 6, collector.FlagACK, nil))
		}
		e.Close()
		return c.rules()
	}
	if got := run(t0); len(got) != 0 {
		t.Fatalf("at t0: %v", got)
	}
	if got := run(-3600 * sec); len(got) != 0 {
		t.Errorf("at %v: a server whose 1200 handshakes all completed raised %v", time.Unix(0, -3600*sec).UTC(), got)
	}
}

// TestSynFloodBudgetEvicted: sources of destinations evicted from
// the table are no longer kept, and give their share of the window's
// source budget back: they used it up, and a real flood later in the
// window showed distinct_sources 0, saturated.
func TestSynFloodBudgetEvicted(t *testing.T) {
	cfg := only("synflood")
	cfg.MaxHosts = 16
	e, c := newTest(t, cfg)
	ts := t0
	n := 0
	// 200 destinations, 700 SYNs each from distinct sources (140,000 in
	// all; at most 16 destinations, 11,200 sources, are kept).
	for d := 0; d < 200; d++ {
		for s := 0; s < 700; s++ {
			n++
			src := fmt.Sprintf("10.%d.%d.%d", 100+n>>16, n>>8&255, n&255)
			e.OnPacket(pkt(ts, src, fmt.Sprintf("192.0.2.%d", d%250+1), 40000, 80, 6, collector.FlagSYN, nil))
		}
	}
	kept := e.sf.srcs.used
	var held int
	for _, s := range e.sf.dsts.m {
		held += s.srcs.count()
	}
	// Then a flood on one server from 2000 distinct sources.
	for s := 0; s < 2000; s++ {
		src := fmt.Sprintf("172.16.%d.%d", s>>8, s&255)
		e.OnPacket(pkt(ts+sec, src, "198.51.100.80", 40000, 80, 6, collector.FlagSYN, nil))
	}
	e.Close()
	t.Logf("budget used %d, sources held by the kept destinations %d", kept, held)
	for _, a := range c.alerts {
		if a.Dst.String() == "198.51.100.80" {
			if ds := a.Evidence["distinct_sources"].(int); ds != 2000 {
				t.Errorf("flood from 2000 sources: distinct_sources %d (saturated %v) while only %d sources were held", ds, a.Evidence["sources_saturated"], held)
			}
			return
		}
	}
	t.Fatalf("no flood alert for 198.51.100.80: %v", c.rules())
}
