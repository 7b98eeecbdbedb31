package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		if got := cc.occurrences(nil, cause, []byte("s"), 1, now); got != 1 {
			t.Fatalf("scanner %d adds %v, want 1", i, got)
		}
		if i%60 == 0 {
			long++
			if got := cc.occurrences(nil, []byte("synflood.halfopen|192.0.2.9"), []byte("s0"), long, now); got != 1 {
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
		cc.occurrences(nil, fmt.Appendf(nil, "c%d", i), []byte("s"), 1, t0)
	}
	// The bogus line is the one that would sweep.
	if got := cc.occurrences(nil, []byte("bogus"), []byte("s"), 1, t0+50*365*86400); got != 1 {
		t.Fatalf("bogus line adds %v", got)
	}
	if len(cc.byStart) != minSweep+1 {
		t.Fatalf("%d causes after the bogus line, want all %d kept", len(cc.byStart), minSweep+1)
	}
	for i := range 10 {
		if got := cc.occurrences(nil, fmt.Appendf(nil, "c%d", i), []byte("s"), 5, t0+60); got != 4 {
			t.Errorf("cause c%d after the jump adds %v, want 4", i, got)
		}
	}
}

// TestCauseCountsSweepKeepsCurrentCause: a cause that recurs after a day
// of silence on the line that sets off a sweep keeps its latest entry: the
// line had read it before the sweep let it go, and did not put it back,
// so its next line (start moved back, count 2) added 2, not 1.
func TestCauseCountsSweepKeepsCurrentCause(t *testing.T) {
	line := func(ts time.Time, cause string, start time.Time, count int) string {
		return fmt.Sprintf(`{"@timestamp":%q,"event":{"start":%q},"rule":{"name":"size.oversize"},"flowhawk":{"detector":"size","cause":%q,"count":%d}}`+"\n",
			ts.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano), cause, count)
	}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var b []byte
	b = append(b, line(t0, "size.oversize|10.0.0.1", t0, 1)...)
	t1 := t0.Add(25 * time.Hour)
	for i := 0; i < minSweep-1; i++ {
		b = append(b, line(t1, fmt.Sprintf("size.oversize|10.1.%d.%d", i>>8, i&255), t1, 1)...)
	}
	b = append(b, line(t1, "size.oversize|10.0.0.1", t1, 1)...)                                    // recurs: sweep runs here
	b = append(b, line(t1.Add(time.Minute), "size.oversize|10.0.0.1", t1.Add(-time.Second), 2)...) // one more, start moved back
	p := filepath.Join(t.TempDir(), "a.jsonl")
	os.WriteFile(p, b, 0o644)
	st, err := ReadAlertStats([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(minSweep + 2); st.Occurrences != want {
		t.Errorf("%v occurrences, want %v", st.Occurrences, want)
	}
}

// TestCauseCountsSweepFleetClocks: in a fleet store (collect's
// alerts-*.jsonl) the sensors' lines interleave, each on its own packet
// clock. Sensor gwA (a 2020 capture) sends its cause's first line, count
// 1; sensor gwB (a 2021 capture) then sends minSweep lines of other
// causes, and the sweep at gwB's lines, measuring every cause against
// gwB's clock, let go of gwA's cause, still going on; gwA's next line of
// it (count 89, same event.start) then added 89, not 88. The fleet page
// must count what the sensors' own pages count together.
func TestCauseCountsSweepFleetClocks(t *testing.T) {
	line := func(obs string, ts time.Time, cause string, start time.Time, count int) string {
		return fmt.Sprintf(`{"@timestamp":%q,"event":{"start":%q},"rule":{"name":"x"},"flowhawk":{"detector":"dns","cause":%q,"count":%d},"observer":{"name":%q}}`+"\n",
			ts.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano), cause, count, obs)
	}
	a0 := time.Date(2020, 2, 6, 8, 35, 46, 0, time.UTC)
	b0 := time.Date(2021, 4, 9, 20, 26, 40, 0, time.UTC)
	a1 := line("gwA", a0, "dns.dga|192.168.220.56", a0, 1)
	var b strings.Builder
	for i := range minSweep {
		b.WriteString(line("gwB", b0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("size.undersize|10.1.%d.%d", i>>8, i&255), b0, 1))
	}
	a2 := line("gwA", a0.Add(time.Minute), "dns.dga|192.168.220.56", a0, 89)
	dir := t.TempDir()
	write := func(name string, parts ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(parts, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	occ := func(paths ...string) float64 {
		st, err := ReadAlertStats(paths)
		if err != nil {
			t.Fatal(err)
		}
		return st.Occurrences
	}
	own := occ(write("local-gwA.jsonl", a1, a2)) + occ(write("local-gwB.jsonl", b.String()))
	fleet := occ(write("alerts-1.jsonl", a1), write("alerts-2.jsonl", b.String()), write("alerts-3.jsonl", a2))
	if own != float64(89+minSweep) {
		t.Fatalf("sensors' own pages: %v occurrences, want %d", own, 89+minSweep)
	}
	if fleet != own {
		t.Errorf("fleet store: %v occurrences, the sensors' own pages %v", fleet, own)
	}
}
