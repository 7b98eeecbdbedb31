package report

import (
	"slices"
	"testing"
	"time"
	"unsafe"
)

// TestTimeSeriesCoarsened checks the time chart's buckets from gathered
// statistics against bucketing every flow, when the flows hold more
// distinct seconds (and then minutes) than FlowStats keeps at one
// granularity, so its buckets merged into minutes (and hours).
func TestTimeSeriesCoarsened(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		step time.Duration
		gran int64
	}{
		{"seconds to minutes", 1100 * time.Millisecond, 60},
		{"minutes to hours", 61 * time.Second, 3600},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := NewFlowStats()
			n := maxTimeKeys + maxTimeKeys/20
			var times []time.Time
			for i := range n {
				f := Flow{Time: start.Add(time.Duration(i) * c.step), Src: "a", Dst: "b", Proto: 6, Bytes: float64(i % 1500)}
				st.Add(&f)
				times = append(times, f.Time)
			}
			if st.gran != c.gran {
				t.Fatalf("granularity %d s after %d flows, want %d", st.gran, n, c.gran)
			}
			ax := newTimeAxis(st.First, st.Last)
			cnt, byt := st.series(ax)
			wc, wb := make([]float64, ax.n), make([]float64, ax.n)
			for i, tm := range times {
				wc[ax.index(tm)]++
				wb[ax.index(tm)] += float64(i % 1500)
			}
			if !slices.Equal(cnt, wc) || !slices.Equal(byt, wb) {
				t.Errorf("buckets of %v differ from bucketing each flow", ax.d)
			}
		})
	}
}

// TestFlowStatsKeysOwnTheirMemory checks a key taken from a row does not
// keep the row: the CSV reader's fields share one string per row, so
// each address kept the whole 650-byte row alive.
func TestFlowStatsKeysOwnTheirMemory(t *testing.T) {
	row := "10.0.0.1,10.0.0.2,BENIGN" + string(make([]byte, 600))
	st := NewFlowStats()
	st.Add(&Flow{Src: row[:8], Dst: row[9:17], Label: row[18:24], Bytes: 1})
	for _, m := range []map[string]float64{st.src, st.dst, st.labels} {
		for k := range m {
			if len(k) > 0 && unsafeSameData(k, row) {
				t.Errorf("key %q shares the row's memory", k)
			}
		}
	}
}

// unsafeSameData reports whether k's bytes lie within row's.
func unsafeSameData(k, row string) bool {
	pk, pr := uintptr(unsafe.Pointer(unsafe.StringData(k))), uintptr(unsafe.Pointer(unsafe.StringData(row)))
	return pk >= pr && pk < pr+uintptr(len(row))
}
