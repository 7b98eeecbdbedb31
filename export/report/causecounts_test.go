package report

import (
	"fmt"
	"testing"
)

// TestCauseCountsBounded checks that the causes followed grow with the
// causes of about a day, not with every cause ever seen: 200,000 scanners
// one minute apart (139 days) held them all, 42 MB, before the
// sweep. A cause that goes on through all of it, a line an hour, keeps
// its count: each line adds one occurrence, never its whole count again.
func TestCauseCountsBounded(t *testing.T) {
	cc := newCauseCounts()
	const t0 = int64(1_700_000_000)
	var long float64
	peak := 0
	for i := range 200_000 {
		now := t0 + int64(i)*60
		cause := fmt.Appendf(nil, "portscan.vertical|10.%d.%d.%d|192.0.2.1", i>>16, i>>8&255, i&255)
		if got := cc.occurrences(cause, []byte("s"), 1, now); got != 1 {
			t.Fatalf("scanner %d adds %v, want 1", i, got)
		}
		if i%60 == 0 {
			long++
			if got := cc.occurrences([]byte("synflood.halfopen|192.0.2.9"), []byte("s0"), long, now); got != 1 {
				t.Fatalf("the long cause's line %v adds %v, want 1", long, got)
			}
		}
		peak = max(peak, len(cc.byStart))
	}
	if peak > 2*(1440+24)+minSweep {
		t.Errorf("up to %d causes held, want at most about twice a day's %d", peak, 1440+24)
	}
	if len(cc.latest) > peak {
		t.Errorf("%d latest entries for %d counts", len(cc.latest), len(cc.byStart))
	}
}

// TestCauseCountsClockJump checks that one line far in the future (a
// capture's bogus timestamp, such as pcapng-example's year 2061) does not
// make every cause look stale: a sweep at that line is skipped, and the
// causes going on around it keep their counts.
func TestCauseCountsClockJump(t *testing.T) {
	cc := newCauseCounts()
	const t0 = int64(1_700_000_000)
	for i := range minSweep {
		cc.occurrences(fmt.Appendf(nil, "c%d", i), []byte("s"), 1, t0)
	}
	// The bogus line is the one that would sweep.
	if got := cc.occurrences([]byte("bogus"), []byte("s"), 1, t0+50*365*86400); got != 1 {
		t.Fatalf("bogus line adds %v", got)
	}
	if len(cc.byStart) != minSweep+1 {
		t.Fatalf("%d causes after the bogus line, want all %d kept", len(cc.byStart), minSweep+1)
	}
	for i := range 10 {
		if got := cc.occurrences(fmt.Appendf(nil, "c%d", i), []byte("s"), 5, t0+60); got != 4 {
			t.Errorf("cause c%d after the jump adds %v, want 4", i, got)
		}
	}
}
