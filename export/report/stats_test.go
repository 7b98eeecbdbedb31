package report

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"

	"github.com/flowhawk/flowhawk/export/stream"
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

// TestFleetFiles checks report reads a fleet's store: the Parquet files
// flowhawk collect writes (stream.FlowRow: src_ip, start as a Parquet
// timestamp, class, ...) and the NATS JSON records, several files into
// one set of totals. It refused them ("no Source IP column").
func TestFleetFiles(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	rows := []stream.FlowRow{
		{Sensor: "gw1", Start: t0, SrcIP: "10.0.0.1", DstIP: "198.51.100.7", DstPort: 443, Proto: 6, FwdPackets: 3, FwdBytes: 300, BwdPackets: 2, BwdBytes: 1200, Class: "BENIGN"},
		{Sensor: "gw2", Start: t0.Add(90 * time.Second), SrcIP: "10.0.0.2", DstIP: "198.51.100.7", DstPort: 53, Proto: 17, FwdPackets: 1, FwdBytes: 60, BwdPackets: 1, BwdBytes: 120},
	}
	pq := filepath.Join(dir, "flows-1.parquet")
	f, err := os.Create(pq)
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.Write(f, rows); err != nil {
		t.Fatal(err)
	}
	f.Close()
	js := filepath.Join(dir, "flows-2.jsonl")
	os.WriteFile(js, []byte(`{"sensor":"gw1","start":"2026-12-05T08:05:00.5Z","src_ip":"10.0.0.1","dst_ip":"203.0.113.9","dst_port":22,"proto":6,"fwd_packets":10,"fwd_bytes":1000,"bwd_packets":10,"bwd_bytes":2000,"class":"SSH-Patator"}`+"\n"), 0o644)
	st := NewFlowStats()
	for _, p := range []string{pq, js} {
		if err := st.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	if st.N != 3 || st.Bytes != 4680 || st.Packets != 27 {
		t.Errorf("%d flows, %v bytes, %v packets; want 3, 4680, 27", st.N, st.Bytes, st.Packets)
	}
	if !st.First.Equal(t0) || !st.Last.Equal(t0.Add(5*time.Minute+500*time.Millisecond)) {
		t.Errorf("times %v .. %v", st.First, st.Last)
	}
	if st.src["10.0.0.1"] != 4500 || st.dst["198.51.100.7"] != 1680 || st.labels["SSH-Patator"] != 1 || st.labels["BENIGN"] != 1 {
		t.Errorf("sources %v, destinations %v, classes %v", st.src, st.dst, st.labels)
	}
	if st.app["https"] != 1500 || st.app["ssh"] != 3000 || st.proto["UDP"] != 180 {
		t.Errorf("applications %v, protocols %v", st.app, st.proto)
	}
}
