package features

import (
	"bufio"
	"bytes"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/internal/testshared"
	"gonum.org/v1/gonum/stat"
)

func TestCICHeaderMatchesDataset(t *testing.T) {
	path := testshared.Path(t, "datasets/cicids2017/Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.TrafficLabelling.csv")
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	line, err := bufio.NewReader(fh).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimRight(line, "\r\n"), ",")
	if want[len(want)-1] != " Label" {
		t.Fatalf("last CIC column %q, want \" Label\"", want[len(want)-1])
	}
	want = want[:len(want)-1]
	x, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	cols := x.Columns()
	if len(cols) != len(want) {
		t.Fatalf("%d CIC columns, dataset has %d", len(cols), len(want))
	}
	for i, c := range cols {
		if c.Header != want[i] {
			t.Errorf("column %d header %q, dataset %q", i+1, c.Header, want[i])
		}
		if c.Group != GroupCIC {
			t.Errorf("column %d group %v", i+1, c.Group)
		}
	}
	// The MachineLearningCVE layout is the same set without the six
	// identifier columns.
	path = testshared.Path(t, "datasets/cicids2017/Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ml := strings.Split(strings.SplitN(string(data), "\n", 2)[0], ",")
	ml = ml[:len(ml)-1]
	var ours []string
	for _, c := range cols {
		switch c.Name {
		case "Flow ID", "Source IP", "Source Port", "Destination IP", "Protocol", "Timestamp":
			continue
		}
		ours = append(ours, c.Header)
	}
	if strings.Join(ours, ",") != strings.Join(ml, ",") {
		t.Errorf("MachineLearningCVE header differs:\nours %q\ncic  %q", ours, ml)
	}
}

func TestDocUpToDate(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("..", "docs", "features.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Doc()) {
		t.Fatal("docs/features.md is stale: run go generate ./features")
	}
}

func TestColumnsUnique(t *testing.T) {
	x, err := New(Config{SPLT: 20, Extras: true, Windows: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range x.Columns() {
		if c.Index != i || c.Name == "" || c.Doc == "" || c.Formula == "" {
			t.Errorf("column %d incomplete: %+v", i, c)
		}
		if x.Index(c.Name) != i {
			t.Errorf("Index(%q) = %d, want %d", c.Name, x.Index(c.Name), i)
		}
	}
	if _, err := New(Config{SPLT: -1}); err == nil {
		t.Error("negative SPLT accepted")
	}
}

var (
	client = netip.MustParseAddr("10.0.0.1")
	server = netip.MustParseAddr("10.0.0.2")
)

// pkt describes a crafted packet: time in microseconds from 0, direction,
// TCP flags, transport header and payload length.
type pkt struct {
	us      int64
	fwd     bool
	flags   uint8
	l4, pay uint32
	win     uint16
}

const t0 = int64(1_500_000_000_000_000_000) // 2017-07-14T02:40:00Z

func mkPacket(src, dst netip.Addr, sport, dport uint16, proto uint8, p pkt) collector.Packet {
	s, d := src.As16(), dst.As16()
	if !p.fwd {
		s, d = d, s
		sport, dport = dport, sport
	}
	k, lo := collector.MakeKey(&s, &d, sport, dport, proto, 0, 0)
	return collector.Packet{
		Timestamp: t0 + p.us*1000, Key: k, SrcIsLo: lo,
		IPLen: 20 + p.l4 + p.pay, IPHeaderLen: 20, L4HeaderLen: uint16(p.l4), PayloadLen: p.pay,
		TCPFlags: p.flags, TCPWindow: p.win,
	}
}

// runTable feeds packets through a collector.Table and returns the flows
// in emission order.
func runTable(t testing.TB, pkts []collector.Packet, samples int) []*collector.Flow {
	t.Helper()
	var out []*collector.Flow
	tab := collector.NewTable(collector.TableConfig{Samples: samples}, func(f *collector.Flow) { out = append(out, f) })
	for i := range pkts {
		tab.Add(&pkts[i])
	}
	tab.Flush()
	return out
}

const (
	fin = collector.FlagFIN
	syn = collector.FlagSYN
	rst = collector.FlagRST
	psh = collector.FlagPSH
	ack = collector.FlagACK
	urg = collector.FlagURG
)

// session is a TCP handshake, a request, a four-segment response (a
// backward bulk), an urgent byte and a FIN exchange.
var session = []pkt{
	{0, true, syn, 40, 0, 64240},
	{1000, false, syn | ack, 40, 0, 65160},
	{2000, true, ack, 32, 0, 502},
	{3000, true, psh | ack, 32, 100, 502},
	{5000, false, ack, 32, 0, 509},
	{6000, false, psh | ack, 32, 1000, 509},
	{7000, false, ack, 32, 1000, 509},
	{8500, false, ack, 32, 1000, 509},
	{9000, false, psh | ack, 32, 1000, 509},
	{10000, true, ack | urg, 32, 1, 502},
	{20000, true, fin | ack, 32, 0, 502},
	{21000, false, fin | ack, 32, 0, 509},
	{22000, true, ack, 32, 0, 502},
}

func sessionFlow(t testing.TB) *collector.Flow {
	t.Helper()
	pkts := make([]collector.Packet, len(session))
	for i, p := range session {
		pkts[i] = mkPacket(client, server, 40000, 80, 6, p)
	}
	flows := runTable(t, pkts, 10)
	if len(flows) != 1 {
		t.Fatalf("%d flows, want 1", len(flows))
	}
	return flows[0]
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// sel picks the session packets matching dir (0 both, 1 fwd, 2 bwd).
func sel(dir int) []pkt {
	var out []pkt
	for _, p := range session {
		if dir == 0 || (dir == 1) == p.fwd {
			out = append(out, p)
		}
	}
	return out
}

func payloads(ps []pkt) []float64 {
	var v []float64
	for _, p := range ps {
		v = append(v, float64(p.pay))
	}
	return v
}

func gaps(ps []pkt) []float64 {
	var v []float64
	for i := 1; i < len(ps); i++ {
		v = append(v, float64(ps[i].us-ps[i-1].us))
	}
	return v
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func maxOf(v []float64) float64 { return v[maxIdx(v)] }
func maxIdx(v []float64) int {
	m := 0
	for i := range v {
		if v[i] > v[m] {
			m = i
		}
	}
	return m
}
func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// g1 and g2 are the biased skewness and excess kurtosis, from gonum's
// central moments.
func g1(v []float64) float64 {
	return stat.Moment(3, v, nil) / math.Pow(stat.Moment(2, v, nil), 1.5)
}
func g2(v []float64) float64 {
	m2 := stat.Moment(2, v, nil)
	return stat.Moment(4, v, nil)/(m2*m2) - 3
}

func TestCraftedSession(t *testing.T) {
	f := sessionFlow(t)
	x, err := New(Config{SPLT: 16, Extras: true, Windows: true})
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	w := NewWindows(WindowConfig{})
	wv := w.Observe(f)
	x.Fill(f, &wv, row)

	all, fw, bw := sel(0), sel(1), sel(2)
	durUs := 22000.0
	totPay := sum(payloads(all))
	want := map[string]float64{
		"Source Port": 40000, "Destination Port": 80, "Protocol": 6,
		"Flow Duration":               durUs,
		"Total Fwd Packets":           float64(len(fw)),
		"Total Backward Packets":      float64(len(bw)),
		"Total Length of Fwd Packets": sum(payloads(fw)),
		"Total Length of Bwd Packets": sum(payloads(bw)),
		"Fwd Packet Length Max":       maxOf(payloads(fw)),
		"Fwd Packet Length Min":       0,
		"Fwd Packet Length Mean":      stat.Mean(payloads(fw), nil),
		"Fwd Packet Length Std":       stat.StdDev(payloads(fw), nil),
		"Bwd Packet Length Max":       1000,
		"Bwd Packet Length Mean":      stat.Mean(payloads(bw), nil),
		"Bwd Packet Length Std":       stat.StdDev(payloads(bw), nil),
		"Flow Bytes/s":                totPay / (durUs / 1e6),
		"Flow Packets/s":              float64(len(all)) / (durUs / 1e6),
		"Flow IAT Mean":               stat.Mean(gaps(all), nil),
		"Flow IAT Std":                stat.StdDev(gaps(all), nil),
		"Flow IAT Max":                maxOf(gaps(all)),
		"Flow IAT Min":                minOf(gaps(all)),
		"Fwd IAT Total":               sum(gaps(fw)),
		"Fwd IAT Mean":                stat.Mean(gaps(fw), nil),
		"Fwd IAT Std":                 stat.StdDev(gaps(fw), nil),
		"Fwd IAT Max":                 maxOf(gaps(fw)),
		"Fwd IAT Min":                 minOf(gaps(fw)),
		"Bwd IAT Total":               sum(gaps(bw)),
		"Bwd IAT Mean":                stat.Mean(gaps(bw), nil),
		"Bwd IAT Std":                 stat.StdDev(gaps(bw), nil),
		"Fwd PSH Flags":               1, "Bwd PSH Flags": 2, "Fwd URG Flags": 1, "Bwd URG Flags": 0,
		"Fwd Header Length":   40 + 32*5,
		"Fwd Header Length.1": 40 + 32*5,
		"Bwd Header Length":   40 + 32*6,
		"Fwd Packets/s":       float64(len(fw)) / (durUs / 1e6),
		"Min Packet Length":   0, "Max Packet Length": 1000,
		"Packet Length Mean":     stat.Mean(payloads(all), nil),
		"Packet Length Std":      stat.StdDev(payloads(all), nil),
		"Packet Length Variance": stat.Variance(payloads(all), nil),
		"FIN Flag Count":         2, "SYN Flag Count": 2, "RST Flag Count": 0, "PSH Flag Count": 3,
		"ACK Flag Count": 12, "URG Flag Count": 1, "CWE Flag Count": 0, "ECE Flag Count": 0,
		"Down/Up Ratio":        float64(len(bw)) / float64(len(fw)),
		"Average Packet Size":  totPay / float64(len(all)),
		"Avg Fwd Segment Size": stat.Mean(payloads(fw), nil),
		// Backward data packets at 6, 7, 8.5 and 9 ms form one bulk; the
		// forward side has only two data packets, so no bulk.
		"Fwd Avg Bytes/Bulk": 0, "Fwd Avg Packets/Bulk": 0, "Fwd Avg Bulk Rate": 0,
		"Bwd Avg Bytes/Bulk": 4000, "Bwd Avg Packets/Bulk": 4, "Bwd Avg Bulk Rate": 4000 / 0.003,
		"Subflow Fwd Packets": float64(len(fw)), "Subflow Fwd Bytes": sum(payloads(fw)),
		"Subflow Bwd Packets": float64(len(bw)), "Subflow Bwd Bytes": sum(payloads(bw)),
		"Init_Win_bytes_forward": 64240, "Init_Win_bytes_backward": 65160,
		"act_data_pkt_fwd": 2, "min_seg_size_forward": 0,
		// One active period from the first to the last packet, no idle.
		"Active Mean": durUs, "Active Std": 0, "Active Max": durUs, "Active Min": durUs,
		"Idle Mean": 0, "Idle Max": 0,

		"fwd_bytes":            sum(payloads(fw)) + 20*float64(len(fw)) + 40 + 32*5,
		"fwd_bwd_packet_ratio": float64(len(fw)) / float64(len(bw)),
		"pkt_len_skew":         g1(payloads(all)), "pkt_len_kurt": g2(payloads(all)),
		"fwd_pkt_len_skew": g1(payloads(fw)), "fwd_pkt_len_kurt": g2(payloads(fw)),
		"bwd_pkt_len_skew": g1(payloads(bw)), "bwd_pkt_len_kurt": g2(payloads(bw)),
		"iat_skew": g1(gaps(all)), "iat_kurt": g2(gaps(all)),
		"fwd_iat_skew": g1(gaps(fw)), "fwd_iat_kurt": g2(gaps(fw)),
		"bwd_iat_skew": g1(gaps(bw)), "bwd_iat_kurt": g2(gaps(bw)),
		"fwd_l4_header_min": 32, "subflow_count": 1, "partial": 0, "sampling": 1,
		"splt_len_1": 60, "splt_dir_1": 1, "splt_gap_1": 0,
		"splt_len_2": 60, "splt_dir_2": -1, "splt_gap_2": 1000,
		"splt_len_6": 1052, "splt_dir_6": -1, "splt_gap_6": 1000,
		"splt_len_13": 52, "splt_dir_13": 1, "splt_gap_13": 1000,
		"splt_len_14": 0, "splt_dir_14": 0, "splt_gap_14": 0,
		"duration": durUs / 1e6, "src_bytes": 101, "dst_bytes": 4000, "land": 0, "urgent": 1,
		// The only flow: alone in its windows, an SF connection.
		"count": 1, "dst_host_count": 1, "same_srv_rate": 1, "serror_rate": 0, "dst_host_same_src_port_rate": 1,
	}
	// The table keeps 10 samples: packets 11..16 read as missing.
	want["splt_len_13"], want["splt_dir_13"], want["splt_gap_13"] = 0, 0, 0
	want["fwd_bwd_byte_ratio"] = want["fwd_bytes"] / (sum(payloads(bw)) + 20*float64(len(bw)) + 40 + 32*6)
	for name, v := range want {
		i := x.Index(name)
		if i < 0 {
			t.Errorf("no column %q", name)
			continue
		}
		if got := row.Num[i]; !near(got, v) {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	str := map[string]string{
		"Flow ID": "10.0.0.1-10.0.0.2-40000-80-6", "Source IP": "10.0.0.1", "Destination IP": "10.0.0.2",
		"Timestamp": "2017-07-14 02:40:00.000000", "end_reason": "fin",
		"protocol_type": "tcp", "service": "http", "flag": "SF",
	}
	for name, v := range str {
		if got := row.Text(x.Index(name)); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
}

// TestKeyColumns checks that the parts of the flow key beyond the 5-tuple
// reach their columns, so records that differ only there can be told apart.
func TestKeyColumns(t *testing.T) {
	p := mkPacket(client, server, 5353, 53, 17, pkt{0, true, 0, 8, 40, 0})
	p.Key.VLANOuter, p.Key.VLANInner = 100, 200
	p.Key.SetTunnelID(5001)
	flows := runTable(t, []collector.Packet{p}, 10)
	x, _ := New(DefaultConfig())
	row := x.NewRow()
	x.Fill(flows[0], nil, row)
	for name, want := range map[string]float64{"vlan_outer": 100, "vlan_inner": 200, "tunnel_id": 5001} {
		if got := row.Num[x.Index(name)]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestZeroDurationAndEmptyDirections(t *testing.T) {
	// One UDP packet: zero duration, no backward packets.
	p := mkPacket(client, server, 5353, 53, 17, pkt{0, true, 0, 8, 40, 0})
	flows := runTable(t, []collector.Packet{p}, 10)
	x, _ := New(DefaultConfig())
	row := x.NewRow()
	x.Fill(flows[0], nil, row)
	for i, c := range x.Columns() {
		v := row.Num[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s = %v", c.Name, v)
		}
	}
	check := map[string]float64{
		"Flow Bytes/s": 0, "Flow Packets/s": 0, "Down/Up Ratio": 0, "Init_Win_bytes_forward": -1,
		"Init_Win_bytes_backward": -1, "fwd_bwd_byte_ratio": 68, "fwd_bwd_packet_ratio": 1,
		"Flow IAT Mean": 0, "pkt_len_skew": 0, "Active Mean": 0,
	}
	for name, v := range check {
		if got := row.Num[x.Index(name)]; got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if got := row.Text(x.Index("service")); got != "domain_u" {
		t.Errorf("service %q", got)
	}
}

// TestFlagCountsOver32Bits checks that flag columns read the 64-bit
// counts: an elephant flow of more than 2^32 ACKs (2.4 Mpps for the
// 1800 s active timeout) wrapped when they were 32 bits.
func TestFlagCountsOver32Bits(t *testing.T) {
	p := mkPacket(client, server, 50000, 443, 6, pkt{0, true, ack, 20, 0, 1})
	flows := runTable(t, []collector.Packet{p}, 10)
	f := flows[0]
	const n = 5_000_000_000
	f.Fwd.Packets, f.Fwd.FlagCounts[3], f.Fwd.FlagCounts[4] = n, n, n
	f.Bwd.Packets, f.Bwd.FlagCounts[3], f.Bwd.FlagCounts[4] = n, n, n
	x, _ := New(DefaultConfig())
	row := x.NewRow()
	x.Fill(f, nil, row)
	for name, want := range map[string]float64{"ACK Flag Count": 2 * n, "Fwd PSH Flags": n, "Bwd PSH Flags": n} {
		i := x.Index(name)
		if i < 0 {
			t.Fatalf("no %q column", name)
		}
		if got := row.Num[i]; got != want {
			t.Errorf("%q = %v, want %v", name, got, want)
		}
	}
}

func TestFlowState(t *testing.T) {
	cases := []struct {
		name string
		pkts []pkt
		want ConnState
	}{
		{"S0", []pkt{{0, true, syn, 40, 0, 1}}, StateS0},
		{"REJ", []pkt{{0, true, syn, 40, 0, 1}, {10, false, rst | ack, 20, 0, 0}}, StateREJ},
		{"S1", []pkt{{0, true, syn, 40, 0, 1}, {10, false, syn | ack, 40, 0, 1}, {20, true, ack, 20, 0, 1}}, StateS1},
		{"RSTO", []pkt{{0, true, syn, 40, 0, 1}, {10, false, syn | ack, 40, 0, 1}, {20, true, rst, 20, 0, 1}}, StateRSTO},
		{"S2", []pkt{{0, true, syn, 40, 0, 1}, {10, false, syn | ack, 40, 0, 1}, {20, true, fin | ack, 20, 0, 1}}, StateS2},
		{"OTH", []pkt{{0, true, ack, 20, 10, 1}}, StateOTH},
		{"SH", []pkt{{0, true, syn | fin, 20, 0, 1}}, StateSH},
	}
	for _, c := range cases {
		var ps []collector.Packet
		for _, p := range c.pkts {
			ps = append(ps, mkPacket(client, server, 1234, 80, 6, p))
		}
		fl := runTable(t, ps, 0)
		if got := FlowState(fl[0]); got != c.want {
			t.Errorf("%s: state %v, want %v", c.name, got, c.want)
		}
	}
}

// TestErrorStatesMatchNSLKDD checks SError and RError against KDDTrain+:
// in a row whose time window holds only itself (count 1), serror_rate and
// rerror_rate are its own state's, so every such row of a state must have
// the same, and the same as SError and RError say.
func TestErrorStatesMatchNSLKDD(t *testing.T) {
	fh, err := os.Open(testshared.Path(t, "datasets/nsl-kdd/KDDTrain+.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	state := map[string]ConnState{}
	for i, n := range stateNames {
		state[n] = ConnState(i)
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		// Columns: flag is the 4th, count the 23rd, serror_rate the 25th,
		// rerror_rate the 27th.
		col := strings.Split(sc.Text(), ",")
		if len(col) < 43 || col[22] != "1" {
			continue
		}
		st, ok := state[col[3]]
		if !ok {
			t.Fatalf("unknown flag %q", col[3])
		}
		want := func(b bool) string { return map[bool]string{false: "0.00", true: "1.00"}[b] }
		if col[24] != want(st.SError()) || col[26] != want(st.RError()) {
			t.Fatalf("%s row with count 1: serror_rate %s, rerror_rate %s; SError %v, RError %v", col[3], col[24], col[26], st.SError(), st.RError())
		}
		seen[col[3]]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"SF", "S0", "S1", "S2", "S3", "REJ", "RSTO", "RSTR", "RSTOS0", "SH", "OTH"} {
		if seen[n] == 0 {
			t.Errorf("no %s row with count 1", n)
		}
	}
	if st := StateRSTRH; st.SError() || st.RError() {
		t.Error("RSTRH, absent from NSL-KDD, counts as an error")
	}
	if st := StateSHR; st.SError() || st.RError() {
		t.Error("SHR, absent from NSL-KDD, counts as an error")
	}
}

func TestAppendTimestamp(t *testing.T) {
	for _, ns := range []int64{0, 1, 999, 1_500_000_000_123_456_789, 1_700_000_000_999_999_999, -1_000_000_001, 9_000_000_000_000_000_000} {
		want := time.Unix(0, ns).UTC().Format(TimestampLayout)
		if got := string(appendTimestamp(nil, ns)); got != want {
			t.Errorf("%d: %q, want %q", ns, got, want)
		}
	}
}

// TestAppendStartCache checks the per-row timestamp cache against
// time.Format on starts that stay in, leave and come back to a second.
func TestAppendStartCache(t *testing.T) {
	var c calc
	var f collector.Flow
	c.f = &f
	for _, ns := range []int64{1_500_000_000_123_456_789, 1_500_000_000_999_999_999, 1_500_000_001_000_000_000, 1_500_000_000_000_000_001,
		1_500_000_000_000_000_001, 0, 999, -1_000_000_001, -1, 86_399_999_999_999, 86_400_000_000_000, 9_000_000_000_000_000_000} {
		f.Start = ns
		want := time.Unix(0, ns).UTC().Format(TimestampLayout)
		if got := string(c.appendStart([]byte("x"))); got != "x"+want {
			t.Errorf("%d: %q, want %q", ns, got, "x"+want)
		}
	}
}

// TestActiveIdleSubflows checks activity periods and subflows on a UDP
// flow with two long pauses: packets at 0, 0.5, 1 s, then 7, 7.2 s, then 20 s.
func TestActiveIdleSubflows(t *testing.T) {
	var ps []collector.Packet
	for _, ms := range []int64{0, 500, 1000, 7000, 7200, 20000} {
		ps = append(ps, mkPacket(client, server, 4000, 4001, 17, pkt{ms * 1000, true, 0, 8, 100, 0}))
	}
	f := runTable(t, ps, 10)[0]
	x, _ := New(Config{Extras: true})
	row := x.NewRow()
	x.Fill(f, nil, row)
	active := []float64{1e6, 0.2e6} // us
	idle := []float64{6e6, 12.8e6}
	want := map[string]float64{
		"Active Mean": stat.Mean(active, nil), "Active Std": stat.StdDev(active, nil), "Active Max": 1e6, "Active Min": 0.2e6,
		"Idle Mean": stat.Mean(idle, nil), "Idle Std": stat.StdDev(idle, nil), "Idle Max": 12.8e6, "Idle Min": 6e6,
		"subflow_count": 3, "Subflow Fwd Packets": 2, "Subflow Fwd Bytes": 200, "Subflow Bwd Packets": 0,
		"Flow Duration": 20e6, "Flow Packets/s": 6.0 / 20, "Flow Bytes/s": 600.0 / 20,
		"Init_Win_bytes_forward": -1, "fwd_bwd_packet_ratio": 6, "Bwd Packet Length Max": 0,
		// Five forward data packets in a row, but the 6 s gap breaks the
		// run: 0, 0.5, 1 s make 3 (no bulk), 7, 7.2, 20 s restart it.
		"Fwd Avg Bytes/Bulk": 0,
	}
	for name, v := range want {
		if got := row.Num[x.Index(name)]; !near(got, v) {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if got := row.Text(x.Index("end_reason")); got != "flush" {
		t.Errorf("end_reason %q", got)
	}
}

// TestForwardBulk: five forward data packets 10 ms apart form one bulk
// (CICFlowMeter reports 0 for every forward bulk column).
func TestForwardBulk(t *testing.T) {
	var ps []collector.Packet
	for i := range int64(5) {
		ps = append(ps, mkPacket(client, server, 4000, 4001, 17, pkt{i * 10_000, true, 0, 8, 500, 0}))
	}
	ps = append(ps, mkPacket(client, server, 4000, 4001, 17, pkt{50_000, false, 0, 8, 20, 0}))
	f := runTable(t, ps, 10)[0]
	x, _ := New(Config{})
	row := x.NewRow()
	x.Fill(f, nil, row)
	want := map[string]float64{"Fwd Avg Bytes/Bulk": 2500, "Fwd Avg Packets/Bulk": 5, "Fwd Avg Bulk Rate": 2500 / 0.04,
		"Bwd Avg Bytes/Bulk": 0, "Down/Up Ratio": 0.2, "act_data_pkt_fwd": 5, "min_seg_size_forward": 500}
	for name, v := range want {
		if got := row.Num[x.Index(name)]; !near(got, v) {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
}

// TestFillConcurrent fills rows from one Extractor on several goroutines
// (run with -race) and compares them with a serial fill.
func TestFillConcurrent(t *testing.T) {
	x, _ := New(DefaultConfig())
	f := sessionFlow(t)
	wv := WindowValues{Count: 7, SErrorRate: 0.5}
	want := x.NewRow()
	x.Fill(f, &wv, want)
	done := make(chan *Row)
	for range 4 {
		go func() {
			r := x.NewRow()
			for range 200 {
				x.Fill(f, &wv, r)
			}
			done <- r
		}()
	}
	for range 4 {
		r := <-done
		for i := range want.Num {
			if r.Num[i] != want.Num[i] || string(r.Str[i]) != string(want.Str[i]) {
				t.Fatalf("column %d differs", i)
			}
		}
	}
}

// checkSPLTGaps runs one UDP flow of packets at times us (µs, capture
// order) through a table and checks its splt_gap columns against want; it
// returns the extractor and row for further checks.
func checkSPLTGaps(t *testing.T, us []int64, want []float64) (*Extractor, *Row) {
	t.Helper()
	var ps []collector.Packet
	for _, u := range us {
		ps = append(ps, mkPacket(client, server, 40000, 53, 17, pkt{u, true, 0, 8, 10, 0}))
	}
	f := runTable(t, ps, 10)[0]
	x, _ := New(Config{SPLT: len(want)})
	row := x.NewRow()
	x.Fill(f, nil, row)
	for i, w := range want {
		if got := row.Num[x.Index("splt_gap_"+strconv.Itoa(i+1))]; !near(got, w) {
			t.Errorf("splt_gap_%d = %v, want %v", i+1, got, w)
		}
	}
	return x, row
}

// TestSPLTGapOutOfOrder checks the first-packet gaps of a capture out of
// time order (packets at 0, 10, 5 and 12 ms): each gap runs from the
// latest packet time before it, as Flow IAT's do, so they add up to the
// 12 ms duration; the fourth gap was taken from the older third packet.
func TestSPLTGapOutOfOrder(t *testing.T) {
	checkSPLTGaps(t, []int64{0, 10000, 5000, 12000}, []float64{0, 10000, 0, 2000})
}

// TestSPLTGapOlderThanFirst checks the first-packet gaps when a later
// packet is older than the flow's first (packets at 10, 0, 4 and 12 ms in
// capture order): packets 2 and 3 are older than packet 1, so their gaps
// are 0 and packet 4's runs from packet 1, as the Flow IAT gaps do. The
// sample offsets were taken from the flow's start when each packet came,
// and packet 2 moved the start back 10 ms, so packets 1 and 3 looked 4 ms
// apart the wrong way round and the gaps read 0, 0, 4000, 8000.
func TestSPLTGapOlderThanFirst(t *testing.T) {
	x, row := checkSPLTGaps(t, []int64{10000, 0, 4000, 12000}, []float64{0, 0, 0, 2000})
	if got, want := row.Num[x.Index("Flow IAT Max")], 2000.0; !near(got, want) {
		t.Errorf("Flow IAT Max = %v, want %v", got, want)
	}
}

// TestEveryColumnHasBasis checks that the registry classified every
// column: the e2e tests compare the kernel and pcap paths column by column
// by Basis, and an unclassified column would escape the comparison.
func TestEveryColumnHasBasis(t *testing.T) {
	x, err := New(Config{SPLT: 2, Extras: true, Windows: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range x.Columns() {
		if c.Basis == BasisUnknown {
			t.Errorf("column %q (unit %q) has no basis: classify its unit in basisOfUnit or mark it", c.Name, c.Unit)
		}
		if c.Basis == Timed && c.Kind != String && c.Unit != "" && c.Unit != "us" && c.Unit != "s" && !strings.HasSuffix(c.Unit, "/s") {
			t.Errorf("timed column %q has unit %q, neither a time nor a rate", c.Name, c.Unit)
		}
	}
}
