package report

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lineOrderCounts is the alert chart's sums as they were made before
// AlertStats: every line held, and added to its detector's bucket in
// line order.
func lineOrderCounts(alerts []Alert) (first, last time.Time, names []string, counts map[string][]float64) {
	first, last = alerts[0].Time, alerts[0].Time
	dets := map[string]bool{}
	for _, a := range alerts {
		if a.Time.Before(first) {
			first = a.Time
		}
		if a.Time.After(last) {
			last = a.Time
		}
		dets[a.Detector] = true
	}
	ax := newTimeAxis(first, last)
	for k := range dets {
		names = append(names, k)
	}
	slices.Sort(names)
	counts = map[string][]float64{}
	for _, k := range names {
		counts[k] = make([]float64, ax.n)
	}
	for _, a := range alerts {
		counts[a.Detector][ax.index(a.Time)] += a.occurrences()
	}
	return first, last, names, counts
}

// checkSameChart checks st against every line of alerts bucketed in line
// order: the same span, detectors, buckets and header.
func checkSameChart(t *testing.T, st *AlertStats, alerts []Alert) {
	t.Helper()
	first, last, names, want := lineOrderCounts(alerts)
	if !st.First.Equal(first) || !st.Last.Equal(last) || st.Lines != len(alerts) {
		t.Fatalf("%d lines from %v to %v, want %d from %v to %v", st.Lines, st.First, st.Last, len(alerts), first, last)
	}
	gotNames, got := st.series(newTimeAxis(st.First, st.Last))
	if !slices.Equal(gotNames, names) {
		t.Fatalf("detectors %q, want %q", gotNames, names)
	}
	for _, k := range names {
		if !slices.Equal(got[k], want[k]) {
			for i := range want[k] {
				if got[k][i] != want[k][i] {
					t.Fatalf("%s: bucket %d of %d (per %v): %v, want %v", k, i, len(want[k]), newTimeAxis(first, last).d, got[k][i], want[k][i])
				}
			}
		}
	}
	if got, want := st.count(), alertCount(alerts); got != want {
		t.Errorf("header %q, want %q", got, want)
	}
}

// alertStream writes n lines of four detectors' causes, whose running
// counts grow, start over and go on across the files, into files in dir:
// times run out of order and over ever longer spans (seconds, then
// minutes, days, months and years), so the gathered sums merge into
// coarser seconds again and again; line uses the keys given.
func alertStream(t testing.TB, dir string, n, files int, line func(ts time.Time, det, rule, cause, start, src string, count int) string) []string {
	r := rand.New(rand.NewPCG(3, 5))
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	type cause struct {
		det, rule, src string
		start          time.Time
		count          int
	}
	var causes []*cause
	for i := range 40 {
		det := []string{"dns", "portscan", "size", "synflood"}[i%4]
		causes = append(causes, &cause{det: det, rule: det + ".rule", src: fmt.Sprintf("10.0.0.%d", i)})
	}
	bufs := make([]strings.Builder, files)
	for i := range n {
		// The span grows by powers: the first lines within seconds,
		// the last over years.
		frac := float64(i) / float64(n)
		span := time.Duration(float64(time.Second) * math.Pow(1e9, frac))
		ts := t0.Add(time.Duration(r.Float64() * float64(span)))
		if r.IntN(10) == 0 {
			ts = t0.Add(-time.Duration(r.Float64() * float64(span) / 10))
		}
		c := causes[r.IntN(len(causes))]
		if c.start.IsZero() || r.IntN(30) == 0 {
			c.start, c.count = ts, 0
		}
		c.count += 1 + r.IntN(20)
		b := &bufs[i*files/n]
		b.WriteString(line(ts, c.det, c.rule, c.rule+"|"+c.src, c.start.Format(time.RFC3339Nano), c.src, c.count))
		b.WriteByte('\n')
	}
	var paths []string
	for i := range bufs {
		p := filepath.Join(dir, fmt.Sprintf("alerts-%d.jsonl", i))
		if err := os.WriteFile(p, []byte(bufs[i].String()), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestAlertStatsSameChart reads a stream of alerts files into AlertStats
// and checks its chart against bucketing every line in line order, as
// the report did when it held every line: across rotation boundaries,
// for nested and dotted keys, through encoding/json and without, while
// the span grows from seconds to years. The nested and the dotted files
// give the same page.
func TestAlertStatsSameChart(t *testing.T) {
	pages := map[string]string{}
	for _, keys := range []struct {
		name string
		line func(ts time.Time, det, rule, cause, start, src string, count int) string
	}{{"nested", nestedLine}, {"flat", flatLine}} {
		paths := alertStream(t, t.TempDir(), 20000, 3, keys.line)
		for _, fast := range []bool{true, false} {
			name := fmt.Sprintf("%s, fast %v", keys.name, fast)
			t.Run(name, func(t *testing.T) {
				defer func(old bool) { fastAlertJSON = old }(fastAlertJSON)
				fastAlertJSON = fast
				all, err := ReadAlertFiles(paths)
				if err != nil {
					t.Fatal(err)
				}
				st, err := ReadAlertStats(paths)
				if err != nil {
					t.Fatal(err)
				}
				if st.gran != 86400 {
					t.Errorf("gathered by %d s; want the stream to have merged its sums up to days", st.gran)
				}
				checkSameChart(t, st, all)
				var b bytes.Buffer
				if err := Write(&b, Input{AlertStats: st}); err != nil {
					t.Fatal(err)
				}
				pages[name] = b.String()
			})
		}
	}
	for name, p := range pages {
		if p != pages["nested, fast true"] {
			t.Errorf("%s: page differs from the nested lines'", name)
		}
	}
}

// TestAlertStatsInexactSums checks the lines whose sums a float64 no
// longer holds exactly: there the order of the additions decides the
// bucket, and summing by second first gave 2^53+4 where adding in line
// order gives 2^53. Alerts of other occurrences than whole counts (an
// Input's own) are added in line order too.
func TestAlertStatsInexactSums(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	var lines strings.Builder
	for i, l := range []struct {
		at    time.Duration
		count int
	}{{0, 1}, {10 * time.Second, 1 << 53}, {0, 1}, {time.Hour, 5}, {20 * time.Second, 1}} {
		lines.WriteString(nestedLine(t0.Add(l.at), "dns", "dns.dga", fmt.Sprintf("c%d", i), "s", "10.0.0.1", l.count) + "\n")
	}
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := ReadAlertFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadAlertStats([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	checkSameChart(t, st, all)
	if _, c := st.series(newTimeAxis(st.First, st.Last)); c["dns"][0] != 1<<53 {
		t.Errorf("first bucket %v, want 2^53 as line order gives", c["dns"][0])
	}

	var alerts []Alert
	for i := range 200 {
		alerts = append(alerts, Alert{Time: t0.Add(time.Duration(i*7%60) * time.Second), Detector: []string{"a", "b"}[i%2], Occurrences: 0.1 * float64(1+i%3)})
	}
	alerts = append(alerts, Alert{Time: t0.Add(time.Hour), Detector: "a"})
	checkSameChart(t, gatherAlerts(alerts), alerts)
}

// BenchmarkReadAlerts reads 20,000 alert lines as detect writes them,
// nested (10% with dotted keys), into AlertStats; encoding-json decodes
// each line into a map, as the report did before parseAlertLine, and
// every-line holds every line (ReadAlertFiles).
func BenchmarkReadAlerts(b *testing.B) {
	dir := b.TempDir()
	i := 0
	paths := alertStream(b, dir, 20000, 1, func(ts time.Time, det, rule, cause, start, src string, count int) string {
		if i++; i%10 == 0 {
			return flatLine(ts, det, rule, cause, start, src, count)
		}
		return nestedLine(ts, det, rule, cause, start, src, count)
	})
	st, err := os.Stat(paths[0])
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fast bool
		read func([]string) error
	}{
		{"stats", true, func(p []string) error { _, err := ReadAlertStats(p); return err }},
		{"encoding-json", false, func(p []string) error { _, err := ReadAlertStats(p); return err }},
		{"every-line", true, func(p []string) error { _, err := ReadAlertFiles(p); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			defer func(old bool) { fastAlertJSON = old }(fastAlertJSON)
			fastAlertJSON = c.fast
			b.ReportAllocs()
			b.SetBytes(st.Size())
			for b.Loop() {
				if err := c.read(paths); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
