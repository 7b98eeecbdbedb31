package detect

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// talkerTraffic is a 60 s window with 14 sending hosts, one of which
// (10.6.0.1) sends 1.5 MB of UDP in its first 30 s, and a host that sends
// a packet every second until end, keeping the packet clock going. The flow
// table emits the big UDP flow an idle timeout after its last packet,
// long after its window ended.
func talkerTraffic(end int64) []*collector.Packet {
	var ps []*collector.Packet
	for i := range 12 {
		c, ts := fmt.Sprintf("10.5.0.%d", i+1), t0+int64(i+1)*sec
		sp := uint16(3000 + i)
		ps = append(ps,
			pkt(ts, c, "10.0.0.9", sp, 80, 6, collector.FlagSYN, nil),
			pkt(ts+1e6, "10.0.0.9", c, 80, sp, 6, collector.FlagSYN|collector.FlagACK, nil),
			pkt(ts+2e6, c, "10.0.0.9", sp, 80, 6, collector.FlagRST, nil))
	}
	payload := make([]byte, 972) // 1000-byte datagrams
	for i := range 1500 {
		ps = append(ps, pkt(t0+sec+int64(i)*20e6, "10.6.0.1", "10.0.0.9", 40000, 5000, 17, 0, payload))
	}
	for ts := t0 + sec/2; ts < end; ts += sec {
		ps = append(ps, pkt(ts, "10.7.0.1", "10.7.0.2", 7000, 7001, 17, 0, []byte("k")))
	}
	slices.SortStableFunc(ps, func(a, b *collector.Packet) int { return cmpInt(a.Timestamp, b.Timestamp) })
	return ps
}

// TestTopTalkersWindowOfEnd: a record counts in the window where it ends,
// not the one open when the flow table lets it go. With the default idle
// timeout the 1.5 MB sender's record came 120 s after its end, into a
// window of 2 hosts, and nothing was raised; with --idle-timeout 5s it
// was. The engine's default flow delay is the default table's.
func TestTopTalkersWindowOfEnd(t *testing.T) {
	e, c := newTest(t, only("toptalkers"))
	tab := collector.NewTable(collector.DefaultTableConfig(), e.OnFlow)
	var raisedAt int64
	for _, p := range talkerTraffic(t0 + 300*sec) {
		e.OnPacket(p)
		tab.Add(p)
		if raisedAt == 0 && len(c.alerts) > 0 {
			raisedAt = p.Timestamp
		}
	}
	if raisedAt == 0 {
		t.Fatalf("no alert before the end of the input: %v", c.rules())
	}
	tab.Flush()
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Src.String() != "10.6.0.1" {
		t.Fatalf("got %v", c.rules())
	}
	a := c.alerts[0]
	if a.Evidence["hosts"] != 14 || a.Evidence["bytes"] != uint64(1_500_000) {
		t.Errorf("evidence %v, want 14 hosts and 1500000 bytes", a.Evidence)
	}
	// Judged once the clock is the flow delay (idle timeout + close
	// grace) past the window's end, at the input after that.
	if d := time.Duration(raisedAt - t0); d < 60*time.Second+defaultFlowDelay() || d > 60*time.Second+defaultFlowDelay()+2*time.Second {
		t.Errorf("raised %v after the window's start, want just after %v", d, 60*time.Second+defaultFlowDelay())
	}
}

// TestTopTalkersLateRecord: a record that comes after its window was
// judged (a table holding flows longer than the engine was told) counts
// in the oldest window not yet judged.
func TestTopTalkersLateRecord(t *testing.T) {
	e, c := newTest(t, only("toptalkers"))
	e.SetFlowDelay(10 * time.Second)
	id := uint64(0)
	flow := func(h int, end int64, pkts, bytes uint64) {
		id++
		f := testFlow(id, fmt.Sprintf("10.0.1.%d", h), "10.0.0.1", 40000, 80, 17, end)
		f.Fwd.Packets, f.Fwd.Bytes = pkts, bytes
		e.OnFlow(f)
	}
	for h := 1; h <= 12; h++ {
		flow(h, t0+int64(h)*sec, 10, 1000+uint64(h))
	}
	// The clock passes the first window's end + 10 s: it is judged (no
	// outlier).
	e.OnPacket(pkt(t0+71*sec, "10.0.2.1", "10.0.2.2", 1, 2, 17, 0, nil))
	e.OnPacket(pkt(t0+72*sec, "10.0.2.1", "10.0.2.2", 1, 2, 17, 0, nil))
	if len(c.alerts) != 0 {
		t.Fatalf("first window: %v", c.rules())
	}
	// The second window's hosts, and a record of the first window that
	// came late: it counts in the second.
	for h := 1; h <= 12; h++ {
		flow(h, t0+70*sec+int64(h)*sec, 10, 1000+uint64(h))
	}
	flow(13, t0+30*sec, 5000, 5e6)
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Src.String() != "10.0.1.13" || c.alerts[0].Evidence["hosts"] != 13 {
		t.Fatalf("got %d alerts %v", len(c.alerts), c.rules())
	}
}

// TestAdvanceJudgesWithoutInput: a window whose records are all in is
// judged when the clock is advanced past its end and the flow delay with
// no further packet or record, as capture advances it after each map
// scan; without Advance the alert waited for the next input (on the
// kernel path, the next new flow or ended record).
func TestAdvanceJudgesWithoutInput(t *testing.T) {
	e, c := newTest(t, only("toptalkers"))
	e.SetFlowDelay(10 * time.Second)
	for h := 1; h <= 12; h++ {
		f := testFlow(uint64(h), fmt.Sprintf("10.0.1.%d", h), "10.0.0.1", 40000, 80, 17, t0+int64(h)*sec)
		f.Fwd.Packets, f.Fwd.Bytes = 10, 1000+uint64(h)
		e.OnFlow(f)
	}
	f := testFlow(13, "10.0.1.13", "10.0.0.1", 40000, 80, 17, t0+30*sec)
	f.Fwd.Packets, f.Fwd.Bytes = 5000, 5e6
	e.OnFlow(f)
	e.Advance(t0 + 65*sec) // the window's end, not yet its flow delay
	if len(c.alerts) != 0 {
		t.Fatalf("judged before the flow delay passed: %v", c.rules())
	}
	e.Advance(t0 + 72*sec)
	e.Advance(t0 + 73*sec)
	if len(c.alerts) != 1 || c.alerts[0].Src.String() != "10.0.1.13" {
		t.Fatalf("after Advance past the window's end and flow delay: %v, want 10.0.1.13", c.rules())
	}
	e.Advance(t0) // behind the clock: ignored
	e.Close()
}

// TestTopTalkersBoundPerWindow: with --detect-max-hosts 64 and windows of
// 40 hosts each, no host is evicted, however many windows await their
// judgment (four at the default flow delay, more with a longer one): the
// pending windows shared one table of 64 entries, which evicted 125 hosts
// and judged windows on 14 to 28 of their 40.
func TestTopTalkersBoundPerWindow(t *testing.T) {
	for _, delay := range []time.Duration{0, 10 * time.Minute} {
		cfg := only("toptalkers")
		cfg.MaxHosts = 64
		e, _ := newTest(t, cfg)
		if delay > 0 {
			e.SetFlowDelay(delay)
		}
		id := uint64(0)
		for w := range int64(6) {
			for h := 1; h <= 40; h++ {
				id++
				f := testFlow(id, fmt.Sprintf("10.0.%d.%d", w, h), "10.0.0.1", 40000, 80, 17, t0+w*60*sec+int64(h)*sec)
				f.Fwd.Packets, f.Fwd.Bytes = 10, 1000
				e.OnFlow(f)
			}
		}
		if ev := e.top.hosts.Evicted; ev != 0 {
			t.Errorf("flow delay %v: %d hosts evicted, want 0 (40 a window, 64 allowed a window)", delay, ev)
		}
		e.Close()
	}
}
