package export

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

type pkt struct {
	us      int64
	fwd     bool
	flags   uint8
	l4, pay uint32
}

func mkPacket(src, dst string, sport, dport uint16, proto uint8, p pkt) collector.Packet {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	if !p.fwd {
		s, d = d, s
		sport, dport = dport, sport
	}
	k, lo := collector.MakeKey(&s, &d, sport, dport, proto, 0, 0)
	return collector.Packet{Timestamp: 1_500_000_000_123_456_789 + p.us*1000, Key: k, SrcIsLo: lo,
		IPLen: 20 + p.l4 + p.pay, IPHeaderLen: 20, L4HeaderLen: uint16(p.l4), PayloadLen: p.pay, TCPFlags: p.flags, TCPWindow: 512}
}

// testFlows returns a few varied flows in emission order: a TCP session,
// a one-packet UDP flow (zero duration), an IPv6 S0 and a REJ.
func testFlows(t testing.TB) []*collector.Flow {
	t.Helper()
	const fin, syn, rst, psh, ack = collector.FlagFIN, collector.FlagSYN, collector.FlagRST, collector.FlagPSH, collector.FlagACK
	var ps []collector.Packet
	for _, p := range []pkt{{0, true, syn, 40, 0}, {1000, false, syn | ack, 40, 0}, {2000, true, ack, 32, 0},
		{3000, true, psh | ack, 32, 120}, {4500, false, psh | ack, 32, 1448}, {7000, false, psh | ack, 32, 333},
		{9000, true, fin | ack, 32, 0}, {9100, false, fin | ack, 32, 0}, {9300, true, ack, 32, 0}} {
		ps = append(ps, mkPacket("192.168.1.10", "93.184.216.34", 51000, 443, 6, p))
	}
	ps = append(ps, mkPacket("192.168.1.10", "192.168.1.1", 5353, 53, 17, pkt{10000, true, 0, 8, 37}))
	ps = append(ps, mkPacket("2001:db8::1", "2001:db8::2", 40000, 22, 6, pkt{11000, true, syn, 40, 0}))
	ps = append(ps, mkPacket("10.1.1.1", "10.1.1.2", 40001, 23, 6, pkt{12000, true, syn, 40, 0}))
	ps = append(ps, mkPacket("10.1.1.1", "10.1.1.2", 40001, 23, 6, pkt{12100, false, rst | ack, 20, 0}))
	var out []*collector.Flow
	tab := collector.NewTable(collector.TableConfig{Samples: 10}, func(f *collector.Flow) { out = append(out, f) })
	for i := range ps {
		tab.Add(&ps[i])
	}
	tab.Flush()
	if len(out) != 4 {
		t.Fatalf("%d flows", len(out))
	}
	return out
}

// rows fills one row per flow (copies, since Fill reuses buffers).
func rows(t testing.TB, x *features.Extractor, flows []*collector.Flow) []*features.Row {
	w := features.NewWindows(features.WindowConfig{})
	var out []*features.Row
	for _, f := range flows {
		wv := w.Observe(f)
		r := x.NewRow()
		x.Fill(f, &wv, r)
		out = append(out, r)
	}
	return out
}

// defaultRows returns the columns of the default features and the rows
// of testFlows in them.
func defaultRows(t testing.TB) ([]features.Column, []*features.Row) {
	t.Helper()
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return x.Columns(), rows(t, x, testFlows(t))
}

var labels = [][]string{{"BENIGN", "BENIGN", "0.97"}, {"DNS, \"odd\" label", "BENIGN", "0.5"}, {"PortScan", "PortScan", "1"}, {"ünï\tcode", "x", ""}}

func TestRoundTrip(t *testing.T) {
	cols, rs := defaultRows(t)
	extra := []string{"Label", "Predicted Label", "Confidence"}
	dir := t.TempDir()
	for _, ext := range []string{".csv", ".jsonl", ".parquet"} {
		path := filepath.Join(dir, "flows"+ext)
		w, err := Create(path, cols, extra)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if err := w.Write(r, labels[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(rs[0], nil); err == nil {
			t.Errorf("%s: missing extra values accepted", ext)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		if ext != ".parquet" {
			for _, bad := range []string{"NaN", "Inf"} {
				if bytes.Contains(raw, []byte(bad)) {
					t.Errorf("%s contains %s", ext, bad)
				}
			}
		}

		rd, err := OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		names := rd.Columns()
		if len(names) != len(cols)+len(extra) {
			t.Fatalf("%s: %d columns, want %d", ext, len(names), len(cols)+len(extra))
		}
		for i, c := range cols {
			if names[i] != c.Name {
				t.Errorf("%s: column %d named %q, want %q", ext, i, names[i], c.Name)
			}
		}
		var rec Record
		for k, r := range rs {
			if err := rd.Next(&rec); err != nil {
				t.Fatalf("%s row %d: %v", ext, k, err)
			}
			for i, c := range cols {
				want := string(r.Str[i])
				if c.Numeric() {
					want = string(AppendValue(nil, r.Num[i], c.Kind))
					if rec.Num[i] != r.Num[i] {
						t.Errorf("%s row %d %s: %v, want %v", ext, k, c.Name, rec.Num[i], r.Num[i])
					}
				}
				if rec.Str[i] != want {
					t.Errorf("%s row %d %s: %q, want %q", ext, k, c.Name, rec.Str[i], want)
				}
			}
			for i, e := range labels[k] {
				if got := rec.Str[len(cols)+i]; got != e {
					t.Errorf("%s row %d extra %d: %q, want %q", ext, k, i, got, e)
				}
			}
		}
		if err := rd.Next(&rec); err != io.EOF {
			t.Errorf("%s: after last row: %v", ext, err)
		}
		if err := rd.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestCSVHeaderIsCIC checks the header against CIC-IDS2017's own, for the
// "Label" column the commands add: written as "Label", a reader keyed by
// CIC's raw names (row[" Label"]) found no label in a dataset.
func TestCSVHeaderIsCIC(t *testing.T) {
	path := testshared.Path(t, "datasets/cicids2017/Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.TrafficLabelling.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cicHeader := strings.SplitN(string(data), "\n", 2)[0]
	x, _ := features.New(features.Config{})
	var buf bytes.Buffer
	w, err := NewCSVWriter(&buf, x.Columns(), []string{"Label"})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if got := strings.TrimSuffix(buf.String(), "\n"); got != cicHeader {
		t.Errorf("header differs:\nours %q\ncic  %q", got, cicHeader)
	}
}

func TestReadCICCSV(t *testing.T) {
	path := testshared.Path(t, "datasets/cicids2017/Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	r, err := OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	names := r.Columns()
	if names[0] != "Destination Port" || names[len(names)-1] != "Label" {
		t.Errorf("names %q ... %q", names[0], names[len(names)-1])
	}
	dup := 0
	for _, n := range names {
		if n == "Fwd Header Length.1" {
			dup++
		}
	}
	if dup != 1 {
		t.Errorf("Fwd Header Length.1 found %d times", dup)
	}
	var rec Record
	n, inf, nan := 0, 0, 0
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		for i := range rec.Num[:len(rec.Num)-1] {
			switch {
			case math.IsInf(rec.Num[i], 1):
				inf++
			case math.IsNaN(rec.Num[i]):
				nan++
			}
		}
	}
	if n != 1000 || inf != 1 || nan != 1 {
		t.Errorf("rows %d, Infinity %d, NaN %d; want 1000, 1, 1", n, inf, nan)
	}
}

func TestAppendValue(t *testing.T) {
	cases := []struct {
		v    float64
		kind features.Kind
		want string
	}{
		{3, features.Int, "3"}, {-1, features.Int, "-1"}, {3, features.Float, "3"}, {0.5, features.Float, "0.5"},
		{666666.6666666666, features.Float, "666666.6666666666"}, {1e-7, features.Float, "1e-07"},
		{1e22, features.Float, "1e+22"}, {123456789012, features.Float, "123456789012"},
		{math.NaN(), features.Float, "0"}, {math.Inf(1), features.Float, "0"}, {math.Inf(-1), features.Int, "0"},
		{math.Copysign(0, -1), features.Float, "0"},
	}
	for _, c := range cases {
		if got := string(AppendValue(nil, c.v, c.kind)); got != c.want {
			t.Errorf("AppendValue(%v, %v) = %q, want %q", c.v, c.kind, got, c.want)
		}
	}
}

// appendValueRef is AppendValue as it was before its fast paths, the
// reference they must match byte for byte.
func appendValueRef(b []byte, v float64, kind features.Kind) []byte {
	if v != v || math.IsInf(v, 0) {
		return append(b, '0')
	}
	if (kind == features.Int && v >= -(1<<63) && v < 1<<63) || (v == math.Trunc(v) && math.Abs(v) < 1e15) {
		if v == 0 {
			return append(b, '0')
		}
		return strconv.AppendInt(b, int64(v), 10)
	}
	if a := math.Abs(v); a < 1e-6 || a >= 1e21 {
		return strconv.AppendFloat(b, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// TestAppendValueMatchesStrconv compares AppendValue with the plain
// strconv encoding on the kinds of values features produce (integers,
// ratios of integers, nanoseconds in seconds and microseconds, moments)
// and on random bit patterns, at both signs and both kinds.
func TestAppendValueMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	for _, v := range []float64{0, 1, 9, 10, 99, 100, 999, 1000, 65535, 1e14, 1e15 - 1, 1e15, 1e15 + 0.5, 1e16, 1 << 53, 1<<53 + 2,
		1e-6, 1e-6 * (1 + 1e-15), 1e-7, 0.1, 0.2, 0.3, 0.5, 1.5, 2.5, 0.015001, 7500.5, 1e14 + 0.5, 999999999999999.9,
		99999999999999.99, 0.000001, 0.0000015, 123456.789, 1.0 / 3, 2.0 / 3, 1e21, 1e22, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.Nextafter(1, 2), math.Nextafter(1, 0), 0.1 + 0.2, 4.35, 1e-5, 1.7976931348623157e308} {
		vals = append(vals, v)
	}
	for range 200000 {
		a, c := float64(rng.IntN(100000)), float64(1+rng.IntN(100000))
		ns := float64(rng.Int64N(1e13))
		vals = append(vals, a/c, ns/1e9, ns/1e3, ns/1e6, float64(rng.Uint64()>>rng.IntN(64)),
			math.Float64frombits(rng.Uint64()), math.Sqrt(a), a/c*1e-3, float64(rng.IntN(1e6))/1e6,
			float64(rng.Int64N(1e15))/pow10[rng.IntN(23)], rng.Float64()*pow10[rng.IntN(23)],
			a/(ns/1e9), math.Sqrt(ns), a/c/3)
	}
	for _, v := range vals {
		for _, v := range []float64{v, -v} {
			for _, k := range []features.Kind{features.Float, features.Int} {
				got, want := AppendValue(nil, v, k), appendValueRef(nil, v, k)
				if !bytes.Equal(got, want) {
					t.Fatalf("AppendValue(%v (%#x), %v) = %q, want %q", v, math.Float64bits(v), k, got, want)
				}
			}
		}
	}
}

// TestAppendValueHugeInt: an Int column's value beyond int64 (a corrupt
// input's) is written as a float, in its shortest digits that read back
// as the same value; int64(v) printed -9223372036854775808 for 1e19.
func TestAppendValueHugeInt(t *testing.T) {
	for v, want := range map[float64]string{
		1e19:                 "10000000000000000000",
		-1e19:                "-10000000000000000000",
		1 << 63:              "9223372036854776000",
		-(1 << 63):           "-9223372036854775808",
		1<<63 - 1024:         "9223372036854774784",
		1e300:                "1e+300",
		18446744073709551615: "18446744073709552000",
	} {
		if got := string(AppendValue(nil, v, features.Int)); got != want {
			t.Errorf("AppendValue(%g, Int) = %q, want %q", v, got, want)
		}
	}
}

func TestNonFiniteNeverWritten(t *testing.T) {
	x, _ := features.New(features.Config{SPLT: 2, Extras: true})
	cols := x.Columns()
	r := x.NewRow()
	x.Fill(testFlows(t)[0], nil, r)
	for i := range r.Num {
		if cols[i].Numeric() {
			r.Num[i] = []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[i%3]
		}
	}
	for _, f := range []Format{CSV, JSONL, Parquet} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, f, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(r, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var rd Reader
		switch f {
		case CSV:
			rd, err = NewCSVReader(&buf)
		case JSONL:
			rd, err = NewJSONLReader(&buf)
		case Parquet:
			rd, err = NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		}
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := rd.Next(&rec); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			if c.Numeric() && rec.Num[i] != 0 {
				t.Errorf("%v: %s read back %v", f, c.Name, rec.Num[i])
			}
		}
	}
}

func TestCreateErrors(t *testing.T) {
	x, _ := features.New(features.Config{})
	if _, err := Create(filepath.Join(t.TempDir(), "x.txt"), x.Columns(), nil); err == nil {
		t.Error("unknown extension accepted")
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x.csv"), x.Columns(), []string{"Flow ID"}); err == nil {
		t.Error("extra column repeating a feature name accepted")
	}
	if _, err := OpenReader(filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Error("missing file opened")
	}
}

func TestUniqueNames(t *testing.T) {
	got := uniqueNames([]string{" a", "a", "b", "a", "a.1 "})
	want := []string{"a", "a.1", "b", "a.2", "a.1.1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestParquetBatches writes more rows than one batch, with labels that
// change per row, so reused row buffers would show up as wrong values.
func TestParquetBatches(t *testing.T) {
	x, _ := features.New(features.Config{Extras: true})
	rs := rows(t, x, testFlows(t))
	var buf bytes.Buffer
	w, err := NewParquetWriter(&buf, x.Columns(), []string{"Label"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*parquetBatch + 7
	big := strings.Repeat("x", parquetArena+1)
	label := func(i int) string {
		if i == 1000 {
			return big
		}
		return "label-" + strings.Repeat("y", i%97) + string(rune('a'+i%26))
	}
	for i := range n {
		if err := w.Write(rs[i%len(rs)], []string{label(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	dur := x.Index("Flow Duration")
	id := x.Index("Flow ID")
	var rec Record
	for i := range n {
		if err := rd.Next(&rec); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		r := rs[i%len(rs)]
		if rec.Str[len(rec.Str)-1] != label(i) || rec.Num[dur] != r.Num[dur] || rec.Str[id] != string(r.Str[id]) {
			t.Fatalf("row %d differs", i)
		}
	}
	if err := rd.Next(&rec); err != io.EOF {
		t.Errorf("after last row: %v", err)
	}
}

// TestParquetRowGroups writes more rows than one row group: the file must
// hold several (so the writer's memory is bounded by a row group, not by
// the output) and read back whole, in order.
func TestParquetRowGroups(t *testing.T) {
	x, _ := features.New(features.Config{})
	rs := rows(t, x, testFlows(t))
	var buf bytes.Buffer
	w, err := NewParquetWriter(&buf, x.Columns(), []string{"Label"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*parquetRowGroup + 5
	for i := range n {
		if err := w.Write(rs[i%len(rs)], []string{strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if g := len(f.RowGroups()); g != 3 || f.NumRows() != n {
		t.Fatalf("%d rows in %d row groups, want %d in 3", f.NumRows(), g, n)
	}
	rd, err := NewParquetReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	dur := x.Index("Flow Duration")
	var rec Record
	for i := range n {
		if err := rd.Next(&rec); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if rec.Str[len(rec.Str)-1] != strconv.Itoa(i) || rec.Num[dur] != rs[i%len(rs)].Num[dur] {
			t.Fatalf("row %d differs", i)
		}
	}
	if err := rd.Next(&rec); err != io.EOF {
		t.Errorf("after last row: %v", err)
	}
}

// TestCreateAppend writes a file in two runs with CreateAppend: the second
// run's rows follow the first's (one CSV header), a last line cut short is
// cut away first, and a CSV of other columns or a Parquet file is refused.
func TestCreateAppend(t *testing.T) {
	cols, rs := defaultRows(t)
	extra := []string{"Label"}
	dir := t.TempDir()
	write := func(path string) {
		t.Helper()
		w, err := CreateAppend(path, cols, extra)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if err := w.Write(r, []string{"BENIGN"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, ext := range []string{".csv", ".jsonl"} {
		path := filepath.Join(dir, "flows"+ext)
		write(path)
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString("cut short") // a crash mid-line
		f.Close()
		write(path)
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		header := 0
		if ext == ".csv" {
			header = 1
		}
		if len(lines) != header+2*len(rs) || strings.Contains(string(b), "cut short") {
			t.Errorf("%s: %d lines, want %d with the line cut short gone", ext, len(lines), header+2*len(rs))
		}
		if ext == ".csv" && strings.Count(string(b), "Flow ID,") != 1 {
			t.Errorf("csv: %d headers", strings.Count(string(b), "Flow ID,"))
		}
	}
	if _, err := CreateAppend(filepath.Join(dir, "flows.csv"), cols[:10], extra); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("csv of other columns: %v, want a header error", err)
	}
	if _, err := CreateAppend(filepath.Join(dir, "flows.parquet"), cols, extra); err == nil {
		t.Errorf("parquet append: no error")
	}
}

// TestCreateAppendLegacyLabel checks that a CSV whose header has "Label",
// as flowhawk wrote before it wrote CIC's " Label", is still appended to,
// under its own header.
func TestCreateAppendLegacyLabel(t *testing.T) {
	cols, rs := defaultRows(t)
	extra := []string{"Label"}
	path := filepath.Join(t.TempDir(), "flows.csv")
	old := append(bytes.TrimSuffix(csvHeader(nil, cols, nil), []byte("\n")), ",Label\n"...)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := CreateAppend(path, cols, extra)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rs[0], []string{"BENIGN"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, old) || bytes.Count(b, []byte("\n")) != 2 {
		t.Errorf("appended file:\n%s", b)
	}
}

// TestCreateAppendJSONLKeys checks that appending to a JSONL file is
// refused, the file left as it was, when its first record has other keys
// or another key order (a --no-extras run after a full one made a file the
// reader rejects at the first shorter line), and allowed on an empty file.
func TestCreateAppendJSONLKeys(t *testing.T) {
	cols, rs := defaultRows(t)
	extra := []string{"Label"}
	dir := t.TempDir()
	write := func(path string, cols []features.Column, extra []string) error {
		t.Helper()
		w, err := CreateAppend(path, cols, extra)
		if err != nil {
			return err
		}
		if err := w.Write(rs[0], []string{"BENIGN"}); err != nil {
			t.Fatal(err)
		}
		return w.Close()
	}
	path := filepath.Join(dir, "flows.jsonl")
	if err := write(path, cols, extra); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	swapped := slices.Clone(cols)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	for _, c := range []struct {
		name  string
		cols  []features.Column
		extra []string
	}{
		{"fewer columns", cols[:84], extra},
		{"more columns", cols, []string{"Label", "Predicted Label"}},
		{"another extra", cols, []string{"Class"}},
		{"another order", swapped, extra},
	} {
		err := write(path, c.cols, c.extra)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not appending") {
			t.Errorf("%s: %v, want a refusal naming %s", c.name, err, path)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Errorf("a refused append changed the file")
	}
	if err := write(path, cols, extra); err != nil {
		t.Errorf("same columns: %v", err)
	}
	rd, err := OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	n := 0
	for ; rd.Next(&rec) == nil; n++ {
	}
	rd.Close()
	if n != 2 {
		t.Errorf("read %d rows back, want 2", n)
	}
	// An empty file (touched before the first run) takes any columns; so
	// does one holding only a first record cut short, which is cut away.
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	if err := write(empty, cols[:84], extra); err != nil {
		t.Errorf("empty file: %v", err)
	}
	cut := filepath.Join(dir, "cut.jsonl")
	os.WriteFile(cut, []byte(`{"Flow ID":"10.0.0.1-`), 0o644)
	if err := write(cut, cols[:84], extra); err != nil {
		t.Errorf("first record cut short: %v", err)
	}
	if b, _ := os.ReadFile(cut); bytes.Contains(b, []byte(`"10.0.0.1-`)) || bytes.Count(b, []byte("\n")) != 1 {
		t.Errorf("first record cut short: file %q, want the new record alone", b)
	}
}

// TestConfidenceIsNumeric checks that Confidence is a JSON number and a
// Parquet DOUBLE (it was a string in both, so numeric filters failed).
func TestConfidenceIsNumeric(t *testing.T) {
	x, err := features.New(features.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rs := rows(t, x, testFlows(t))
	extra := []string{"Predicted Label", "Confidence"}
	var b bytes.Buffer
	j, err := NewJSONLWriter(&b, x.Columns(), extra)
	if err != nil {
		t.Fatal(err)
	}
	j.Write(rs[0], []string{"web", "0.8500"})
	j.Close()
	if !strings.Contains(b.String(), `"Predicted Label":"web","Confidence":0.85}`) {
		t.Errorf("jsonl: %s", b.String())
	}
	schema, err := ParquetSchema(x.Columns(), extra)
	if err != nil {
		t.Fatal(err)
	}
	f := schema.Fields()
	if k := f[len(f)-1].Type().Kind(); k != parquet.Double {
		t.Errorf("parquet Confidence is %v, want DOUBLE", k)
	}
}

// TestConfidenceInfParquet checks that a Confidence of "inf" (through the
// Go API) is NaN in Parquet, as any value that is no finite number, where
// it was stored as +Inf and read back as 0.
func TestConfidenceInfParquet(t *testing.T) {
	x, err := features.New(features.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := rows(t, x, testFlows(t))[0]
	path := filepath.Join(t.TempDir(), "flows.parquet")
	w, err := Create(path, x.Columns(), []string{"Predicted Label", "Confidence"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"inf", "-Infinity", "0.5"} {
		if err := w.Write(r, []string{"web", c}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	c := len(x.Columns()) + 1
	var got []string
	for range 3 {
		var rec Record
		if err := rd.Next(&rec); err != nil {
			t.Fatal(err)
		}
		if math.IsInf(rec.Num[c], 0) {
			t.Errorf("Confidence stored as %v", rec.Num[c])
		}
		got = append(got, rec.Str[c])
	}
	if !slices.Equal(got, []string{"", "", "0.5"}) {
		t.Errorf("Confidence read back as %q, want empty, empty, 0.5", got)
	}
}

// TestCreateAppendTornLine is the systemd unit's restart after a SIGKILL
// mid-write: the last row of the file is cut short and the next run
// appends. The torn row used to stay mid-file, after which readers failed
// ("flows.jsonl:8: unexpected end of JSON input"); it must be cut back to
// the last complete line (the CSV header kept), with a warning naming the
// file and the bytes cut, and every row must read back.
func TestCreateAppendTornLine(t *testing.T) {
	cols, rs := defaultRows(t)
	extra := []string{"Label"}
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	write := func(path string) error {
		t.Helper()
		w, err := CreateAppend(path, cols, extra)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := w.Write(r, []string{"BENIGN"}); err != nil {
				t.Fatal(err)
			}
		}
		return w.Close()
	}
	readBack := func(path string) (n int, err error) {
		rd, err := OpenReader(path)
		if err != nil {
			return 0, err
		}
		defer rd.Close()
		var rec Record
		for {
			switch err := rd.Next(&rec); err {
			case nil:
				n++
			case io.EOF:
				return n, nil
			default:
				return n, err
			}
		}
	}
	for _, ext := range []string{".csv", ".jsonl"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "flows"+ext)
		if err := write(path); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		lastLen := len(b) - 1 - bytes.LastIndexByte(b[:len(b)-1], '\n')
		cut := lastLen / 2 // half the last row written when the process died
		os.WriteFile(path, b[:len(b)-cut], 0o644)
		logged.Reset()
		if err := write(path); err != nil {
			t.Fatalf("%s: append after a torn row: %v", ext, err)
		}
		n, err := readBack(path)
		if err != nil || n != 2*len(rs)-1 {
			t.Errorf("%s: read %d rows back, err %v; want %d (the torn one gone)", ext, n, err, 2*len(rs)-1)
		}
		if want := fmt.Sprintf("file=%s bytes_cut=%d", path, lastLen-cut); !strings.Contains(logged.String(), want) {
			t.Errorf("%s: log %q, want a warning with %q", ext, logged.String(), want)
		}
		if ext == ".csv" {
			if b, _ := os.ReadFile(path); bytes.Count(b, []byte("Flow ID,")) != 1 {
				t.Errorf("csv: %d headers", bytes.Count(b, []byte("Flow ID,")))
			}
		}

		// Only a header cut short (killed as it started): the file starts over.
		hdr := filepath.Join(dir, "hdr"+ext)
		os.WriteFile(hdr, []byte(`Flow ID,Src`), 0o644)
		if ext == ".jsonl" {
			os.WriteFile(hdr, []byte(`{"Flow ID":"10.0.0.1-`), 0o644)
		}
		if err := write(hdr); err != nil {
			t.Errorf("%s: append to a first line cut short: %v", ext, err)
		}
		if n, err := readBack(hdr); err != nil || n != len(rs) {
			t.Errorf("%s: first line cut short: read %d rows, err %v; want %d", ext, n, err, len(rs))
		}
	}
	// A file refused for its columns keeps its torn line: nothing is cut
	// from a file that is not appended to.
	path := filepath.Join(t.TempDir(), "other.csv")
	os.WriteFile(path, []byte("a,b\n1,2\n3,"), 0o644)
	if _, err := CreateAppend(path, cols, extra); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("other columns: %v, want a header error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "a,b\n1,2\n3," {
		t.Errorf("a refused append changed the file to %q", b)
	}
}

// TestTrimTornLine checks that an appended line-oriented file (the alerts
// file with --append) loses a last line left cut short and nothing else.
func TestTrimTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	for _, c := range []struct{ in, want string }{
		{"{\"a\":1}\n{\"a\":2}\n{\"a\":", "{\"a\":1}\n{\"a\":2}\n"},
		{"{\"a\":1}\n", "{\"a\":1}\n"},
		{"{\"a\"", ""},
		{"", ""},
	} {
		os.WriteFile(path, []byte(c.in), 0o644)
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := TrimTornLine(fh, path); err != nil {
			t.Fatal(err)
		}
		fh.WriteString("{\"a\":3}\n")
		fh.Close()
		if b, _ := os.ReadFile(path); string(b) != c.want+"{\"a\":3}\n" {
			t.Errorf("%q: file %q, want %q", c.in, b, c.want+"{\"a\":3}\n")
		}
	}
}

// TestTrimTornLineCSVQuoted checks that a CSV row cut just after a line
// break inside a quoted field is a torn row, in a rotated file's
// temporary name too: it ended in a newline and looked whole, and the
// next rows went on inside its open quote. A doubled quote does not end
// the field, and a quote within quoteWindow of the end makes the file be
// read from its start.
func TestTrimTornLineCSVQuoted(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("1,2,3\n", quoteWindow/6+10) // a quote before it is not read
	mid := strings.Repeat("1,2,3\n", 100_000/6)
	for _, c := range []struct{ in, want string }{
		{"a,b\n1,\"x\ny\"\n2,\"first\n", "a,b\n1,\"x\ny\"\n"},
		{"a,b\n1,\"say \"\"hi\"\"\nthere\"\n2,\"p \"\"q\n", "a,b\n1,\"say \"\"hi\"\"\nthere\"\n"},
		{"a,b\n1,\"x\ny\"\n", "a,b\n1,\"x\ny\"\n"},
		{"a,b\n1,\"x\n" + mid, "a,b\n"}, // the open quote 100 kB from the end
		{"a,b\n1,\"x\"\n" + long + "2,3", "a,b\n1,\"x\"\n" + long},
	} {
		for _, name := range []string{"flows.csv", ".flows-2026-12-07T00.csv.tmp"} {
			path := filepath.Join(dir, name)
			os.WriteFile(path, []byte(c.in), 0o644)
			fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := TrimTornLine(fh, path); err != nil {
				t.Fatal(err)
			}
			fh.Close()
			if b, _ := os.ReadFile(path); string(b) != c.want {
				t.Errorf("%s: %.40q...: kept %d bytes, want %d", name, c.in, len(b), len(c.want))
			}
		}
	}
}

// TestCreateAppendTornQuotedField checks --append to a CSV file whose
// last row was cut just after a line break in a quoted label (a
// --default-label with one): the row is cut away and the file stays
// readable, where the new rows went on inside the open quote.
func TestCreateAppendTornQuotedField(t *testing.T) {
	cols, rs := defaultRows(t)
	extra := []string{"Label"}
	path := filepath.Join(t.TempDir(), "flows.csv")
	write := func(label string) {
		t.Helper()
		w, err := CreateAppend(path, cols, extra)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if err := w.Write(r, []string{label}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("first\nsecond")
	b, _ := os.ReadFile(path)
	// Killed right after writing `"first\n` of the last row.
	cut := bytes.LastIndex(b, []byte("\"first\n")) + len("\"first\n")
	os.WriteFile(path, b[:cut], 0o644)
	write("BENIGN")
	rd, err := OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var rec Record
	n := 0
	for {
		err := rd.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", n, err)
		}
		n++
	}
	if want := 2*len(rs) - 1; n != want {
		t.Fatalf("read %d rows, want %d (the torn row cut away)", n, want)
	}
}

// TestJSONLRejectsBadRows checks that a row with a repeated key, a cut
// object or text after it is an error naming its line: a repeated key
// used to stand in for a missing one, whose column kept the previous
// row's value ({"a":3,"a":4} after {"a":1,"b":2} read as a=4, b=2).
func TestJSONLRejectsBadRows(t *testing.T) {
	for _, bad := range []string{`{"a":3,"a":4}`, `{"a":3,"b":4`, `{"a":3,"b":4} x`, `{"a":3,"b":4}{"a":5,"b":6}`} {
		r, err := NewJSONLReader(strings.NewReader("{\"a\":1,\"b\":2}\n" + bad + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := r.Next(&rec); err != nil {
			t.Fatal(err)
		}
		if err := r.Next(&rec); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: row %q, error %v; want an error naming line 2", bad, rec.Str, err)
		}
	}
	if _, err := NewJSONLReader(strings.NewReader(`{"a":1} {"b":2}` + "\n")); err == nil {
		t.Error("a first line of two objects accepted")
	}
}

// TestToInt64: a Parquet Int64 cell saturates beyond int64 instead of
// wrapping, and non-finite values are 0, as in the CSV.
func TestToInt64(t *testing.T) {
	for v, want := range map[float64]int64{
		0: 0, 3.9: 3, -3.9: -3, 1e19: math.MaxInt64, -1e19: math.MinInt64, math.Inf(1): 0, math.Inf(-1): 0,
		math.NaN(): 0, -(1 << 63): math.MinInt64, 1<<63 - 1024: 1<<63 - 1024,
	} {
		if got := toInt64(v); got != want {
			t.Errorf("toInt64(%g) = %d, want %d", v, got, want)
		}
	}
}

// TestInvalidUTF8OneValue checks that a string that is not UTF-8, in a
// feature column or an extra one, reads back from CSV, JSON Lines and
// Parquet as one value, each bad byte U+FFFD: JSON Lines replaced it, CSV
// wrote it raw and Parquet wrote it into a UTF-8 column, which Arrow's
// validation refuses.
func TestInvalidUTF8OneValue(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cols := x.Columns()
	r := rows(t, x, testFlows(t))[0]
	str := slices.IndexFunc(cols, func(c features.Column) bool { return c.Kind == features.String })
	r.Str[str] = []byte("caf\xe9, \"q\"")
	extra := []string{"Label", "Predicted Label"}
	vals := []string{"caf\xe9", "ok\xff\xfe"}
	want := []string{"caf\uFFFD, \"q\"", "caf\uFFFD", "ok\uFFFD\uFFFD"}
	for _, ext := range []string{".csv", ".jsonl", ".parquet"} {
		path := filepath.Join(t.TempDir(), "flows"+ext)
		w, err := Create(path, cols, extra)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(r, vals); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		rd, err := OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := rd.Next(&rec); err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		rd.Close()
		got := []string{rec.Str[str], rec.Str[len(cols)], rec.Str[len(cols)+1]}
		if !slices.Equal(got, want) {
			t.Errorf("%s: read back %q, want %q", ext, got, want)
		}
	}
	// Valid text, quoted or not, costs no allocation.
	var b []byte
	if n := testing.AllocsPerRun(100, func() {
		b = appendCSVString(appendCSVField(b[:0], []byte("ünï, code")), "Café")
	}); n != 0 {
		t.Errorf("%v allocations per valid field", n)
	}
}
