package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// synthInput is a deterministic, realistic-looking report input: ten
// minutes of a small office network with a scan and a flood, alerts from
// three detectors, and two model evaluations.
func synthInput() Input {
	r := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var in Input
	servers := []struct {
		ip    string
		port  int
		proto int
	}{{"198.51.100.10", 443, 6}, {"198.51.100.20", 80, 6}, {"192.0.2.53", 53, 17}, {"203.0.113.5", 443, 17}, {"198.51.100.30", 22, 6}, {"203.0.113.9", 123, 17}, {"198.51.100.40", 3389, 6}}
	for i := 0; i < 3000; i++ {
		s := servers[int(math.Min(float64(len(servers)-1), r.ExpFloat64()*1.5))]
		f := Flow{
			Time:    start.Add(time.Duration(r.Float64() * float64(10*time.Minute))),
			Src:     fmt.Sprintf("10.10.%d.%d", r.IntN(2), 10+int(math.Min(60, r.ExpFloat64()*12))),
			Dst:     s.ip,
			DstPort: s.port,
			Proto:   s.proto,
			Packets: float64(2 + r.IntN(60)),
			Label:   "BENIGN",
		}
		f.Bytes = f.Packets * float64(60+r.IntN(1400))
		in.Flows = append(in.Flows, f)
	}
	for i := 0; i < 600; i++ { // a port scan at minute 3
		in.Flows = append(in.Flows, Flow{Time: start.Add(3*time.Minute + time.Duration(i)*50*time.Millisecond), Src: "10.10.0.66", Dst: "10.10.1.5", DstPort: 1 + i, Proto: 6, Packets: 2, Bytes: 100, Label: "PortScan"})
	}
	for i := 0; i < 400; i++ { // a SYN flood at minute 7
		in.Flows = append(in.Flows, Flow{Time: start.Add(7*time.Minute + time.Duration(i)*100*time.Millisecond), Src: fmt.Sprintf("172.16.%d.%d", r.IntN(255), r.IntN(255)), Dst: "198.51.100.20", DstPort: 80, Proto: 6, Packets: 1, Bytes: 60, Label: "DDoS"})
	}
	for i := 0; i < 12; i++ {
		in.Alerts = append(in.Alerts, Alert{Time: start.Add(3*time.Minute + time.Duration(i)*2*time.Second), Detector: "portscan", Src: "10.10.0.66", Dst: "10.10.1.5"})
	}
	for i := 0; i < 20; i++ {
		in.Alerts = append(in.Alerts, Alert{Time: start.Add(7*time.Minute + time.Duration(i)*3*time.Second), Detector: "synflood", Dst: "198.51.100.20"})
	}
	for i := 0; i < 5; i++ {
		in.Alerts = append(in.Alerts, Alert{Time: start.Add(time.Duration(1+2*i) * time.Minute), Detector: "dns", Src: "10.10.0.23", Dst: "192.0.2.53"})
	}
	auc := 0.993
	for _, m := range []struct {
		name, kind string
		conf       [][]int
	}{
		{"forest.json", "random_forest", [][]int{{2950, 30, 20}, {12, 585, 3}, {4, 1, 395}}},
		{"gbdt.json", "gbdt", [][]int{{2975, 15, 10}, {6, 592, 2}, {2, 0, 398}}},
	} {
		var e Eval
		e.Model, e.Kind = m.name, m.kind
		e.Metrics.Labels = []string{"BENIGN", "PortScan", "DDoS"}
		e.Metrics.Confusion = m.conf
		tot, ok := 0, 0
		for i, row := range m.conf {
			for j, v := range row {
				tot += v
				if i == j {
					ok += v
				}
			}
		}
		e.Metrics.Rows, e.Metrics.Accuracy, e.Metrics.MacroF1, e.Metrics.AUC = tot, float64(ok)/float64(tot), float64(ok)/float64(tot)-0.02, &auc
		in.Evals = append(in.Evals, e)
	}
	in.Source = "office-2026-11-23.parquet"
	in.Title = "flowhawk report: office-2026-11-23"
	return in
}

func TestChartsHaveData(t *testing.T) {
	in := synthInput()
	cs := Charts(in)
	ids := map[string]bool{}
	for _, c := range cs {
		ids[c.id] = true
		var o map[string]any
		if err := json.Unmarshal([]byte(c.option), &o); err != nil {
			t.Fatalf("chart %s: option is not JSON: %v", c.id, err)
		}
		series, _ := o["series"].([]any)
		if len(series) == 0 {
			t.Errorf("chart %s has no series", c.id)
		}
		for _, s := range series {
			if d, _ := s.(map[string]any)["data"].([]any); len(d) == 0 {
				t.Errorf("chart %s has an empty series", c.id)
			}
		}
	}
	for _, want := range []string{"top-src", "top-dst", "proto-mix", "app-mix", "over-time", "class-mix", "alerts", "confusion-0", "confusion-1", "models"} {
		if !ids[want] {
			t.Errorf("chart %s missing", want)
		}
	}
}

func TestSelfContained(t *testing.T) {
	var b bytes.Buffer
	in := synthInput()
	in.Flows[0].Src = `</script><script>alert(1)</script>`
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if regexp.MustCompile(`(?i)<script[^>]+src=|<link[^>]+href=|https?://cdn`).MatchString(page) {
		t.Error("page loads something from outside")
	}
	if !strings.Contains(page, "echarts") || len(page) < 1_000_000 {
		t.Errorf("page (%d bytes) does not inline echarts", len(page))
	}
	if strings.Count(page, "</script>") != 2 {
		t.Errorf("input text closed a script element: %d </script>", strings.Count(page, "</script>"))
	}
	if err := Write(&b, Input{}); err == nil {
		t.Error("empty input rendered")
	}
}

// TestReadWrittenFiles reads flow files written by package export in all
// three formats and checks that they agree with the flows written.
func TestReadWrittenFiles(t *testing.T) {
	x, err := features.New(features.Config{Extras: true})
	if err != nil {
		t.Fatal(err)
	}
	var flows []*collector.Flow
	tab := collector.NewTable(collector.DefaultTableConfig(), func(f *collector.Flow) { flows = append(flows, f) })
	ts := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).UnixNano()
	for i := 0; i < 50; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%5)}).As16()
		b := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%3)}).As16()
		proto := []uint8{6, 17}[i%2]
		k, lo := collector.MakeKey(&a, &b, uint16(40000+i), []uint16{443, 53}[i%2], proto, 0, 0)
		for j := 0; j < 3+i%4; j++ {
			p := collector.Packet{Timestamp: ts, Key: k, SrcIsLo: lo == (j%2 == 0), IPLen: uint32(100 + i + j), IPHeaderLen: 20, L4HeaderLen: 8}
			p.PayloadLen = p.IPLen - 28
			tab.Add(&p)
			ts += int64(time.Second)
		}
	}
	tab.Flush()
	var wantBytes float64
	for _, f := range flows {
		wantBytes += float64(f.Bytes())
	}
	dir := t.TempDir()
	for _, ext := range []string{".csv", ".jsonl", ".parquet"} {
		path := filepath.Join(dir, "flows"+ext)
		w, err := export.Create(path, x.Columns(), []string{"Label"})
		if err != nil {
			t.Fatal(err)
		}
		row := x.NewRow()
		for _, f := range flows {
			x.Fill(f, nil, row)
			if err := w.Write(row, []string{"BENIGN"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFlows(path)
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if len(got) != len(flows) {
			t.Fatalf("%s: %d flows read, want %d", ext, len(got), len(flows))
		}
		var bytes float64
		for i, g := range got {
			bytes += g.Bytes
			f := flows[i]
			if g.Src != f.Src().Addr.String() || g.Dst != f.Dst().Addr.String() || g.Proto != int(f.Key.Proto) || g.DstPort != int(f.Dst().Port) || g.Label != "BENIGN" {
				t.Fatalf("%s: flow %d read as %+v, want %v", ext, i, g, f.Key)
			}
			if !g.Time.Equal(time.Unix(0, f.Start).Truncate(time.Microsecond)) {
				t.Fatalf("%s: flow %d time %v, want %v", ext, i, g.Time, time.Unix(0, f.Start).UTC())
			}
		}
		if bytes != wantBytes {
			t.Errorf("%s: %v bytes read, want %v (IP bytes)", ext, bytes, wantBytes)
		}
	}
}

func TestReadCICCSV(t *testing.T) {
	path := testshared.Path(t, "datasets/cicids2017/Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.TrafficLabelling.csv")
	fl, err := ReadFlows(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != 299 {
		t.Fatalf("%d flows, want 299", len(fl))
	}
	if fl[0].Src == "" || fl[0].Time.IsZero() || fl[0].Label == "" {
		t.Errorf("first CIC flow incomplete: %+v", fl[0])
	}
}

func TestReadAlertsAndEvals(t *testing.T) {
	dir := t.TempDir()
	al := filepath.Join(dir, "alerts.jsonl")
	os.WriteFile(al, []byte(`{"@timestamp":"2026-11-23T11:11:13.55287Z","rule":{"name":"dns.dga","category":"dns"},"flowhawk":{"detector":"dns"},"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"}}
{"@timestamp":"2026-11-23T11:11:14Z","rule.name":"portscan.vertical","source.ip":"10.0.0.9"}
`), 0o644)
	as, err := ReadAlerts(al)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Detector != "dns" || as[0].Src != "10.0.0.1" || as[0].Dst != "10.0.0.2" || as[1].Detector != "portscan.vertical" || as[1].Src != "10.0.0.9" {
		t.Errorf("alerts read as %+v", as)
	}
	os.WriteFile(al, []byte("{\"@timestamp\":\"yesterday\"}\n"), 0o644)
	if _, err := ReadAlerts(al); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("bad timestamp error %v does not name the line", err)
	}
	ev := filepath.Join(dir, "eval.json")
	os.WriteFile(ev, []byte(`{"model":"a.json","kind":"gbdt","metrics":{"rows":3,"accuracy":0.5,"macro_f1":0.4,"labels":["x","y"],"confusion":[[1,1],[0,1]]}}
{"model":"b.json","kind":"knn","metrics":{"rows":3,"accuracy":0.6,"macro_f1":0.5,"labels":["x","y"],"confusion":[[2,0],[0,1]]}}`), 0o644)
	es, err := ReadEvals(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[1].Kind != "knn" || es[0].Metrics.Confusion[0][1] != 1 {
		t.Errorf("evals read as %+v", es)
	}
	// train --test FILE --json: one evaluation per test file.
	os.WriteFile(ev, []byte(`{"model":"rf","train_seconds":1.5,"results":{"t2.csv":{"rows":2,"accuracy":1,"labels":["x"],"confusion":[[2]]},"t1.csv":{"rows":3,"accuracy":0.5,"labels":["x","y"],"confusion":[[1,1],[0,1]]}}}`), 0o644)
	if es, err := ReadEvals(ev); err != nil || len(es) != 2 || es[0].Model != "rf on t1.csv" || es[0].Kind != "rf" || es[1].Metrics.Rows != 2 {
		t.Errorf("train --json read as %+v, %v", es, err)
	}
	// Any other JSON was read as a model of accuracy 0.
	for name, doc := range map[string]string{
		"alerts":    `{"@timestamp":"2026-11-23T11:11:13Z","rule":{"name":"dns.dga"}}`,
		"junk":      `{"foo":1}`,
		"no labels": `{"model":"a","metrics":{"rows":3,"accuracy":0.5}}`,
		"ragged":    `{"model":"a","metrics":{"rows":3,"labels":["x","y"],"confusion":[[1,1],[1]]}}`,
	} {
		os.WriteFile(ev, []byte(doc), 0o644)
		if _, err := ReadEvals(ev); err == nil || !strings.Contains(err.Error(), "document 1") {
			t.Errorf("%s: error %v, want one naming document 1", name, err)
		}
	}
}

// TestChromiumRenders opens the page in headless Chromium, offline, and
// checks the marker the page sets once every chart initialised with data;
// it saves a screenshot (FLOWHAWK_REPORT_SCREENSHOT names where, e.g.
// docs/report.png; else the test's temp dir).
func TestChromiumRenders(t *testing.T) {
	bin := ""
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium not installed (Debian package chromium; CI installs it)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	fh, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(fh, synthInput()); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	want := len(Charts(synthInput()))

	chrome := func(extra ...string) ([]byte, error) {
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
			"--virtual-time-budget=5000"}, extra...)
		args = append(args, "file://"+page)
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%v: %s", err, stderr.String())
		}
		return out, nil
	}
	dom, err := chrome("--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{fmt.Sprintf(`data-charts="%d"`, want), fmt.Sprintf(`data-charts-with-data="%d"`, want), `data-charts-ready="true"`} {
		if !bytes.Contains(dom, []byte(m)) {
			st := regexp.MustCompile(`<div id="fh-status">[^<]*`).Find(dom)
			t.Fatalf("rendered DOM lacks %s (status: %s)", m, st)
		}
	}
	// Every chart drew a canvas.
	if n := bytes.Count(dom, []byte("<canvas")); n < want {
		t.Errorf("%d canvases for %d charts", n, want)
	}
	shot := os.Getenv("FLOWHAWK_REPORT_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "report.png")
	} else if !filepath.IsAbs(shot) {
		// Relative to the module root, so "docs/report.png" works from go test.
		shot = filepath.Join("..", "..", shot)
	}
	if _, err := chrome("--window-size=1400,2250", "--hide-scrollbars", "--screenshot="+shot); err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 20_000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot %s missing or too small (%d bytes): %v", shot, len(png), err)
	}
	t.Logf("screenshot: %s", shot)
}

func TestBucketBounded(t *testing.T) {
	for _, span := range []time.Duration{0, time.Second, time.Hour, 400 * 24 * time.Hour, time.Duration(math.MaxInt64)} {
		d := bucket(span)
		if d <= 0 || span/d > 130 {
			t.Errorf("span %v: bucket %v gives %d buckets", span, d, span/max(d, 1))
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("Source IP,Destination IP,Protocol,Timestamp,Total Length of Fwd Packets,Label\n10.0.0.1,10.0.0.2,6,2026-11-23 09:00:00.000000,100,BENIGN\n"))
	f.Add([]byte(" Source IP, Destination Port\n\"a,b\",x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkStatsPage(t, "fuzz.csv", func(add func(*Flow)) error { return readCSV(bytes.NewReader(b), "fuzz.csv", add) })
	})
}

// checkStatsPage reads flows with read, and checks that an error names
// the file and the page drawn from the gathered FlowStats is the page
// drawn from the flows themselves.
func checkStatsPage(t *testing.T, name string, read func(func(*Flow)) error) {
	var fl []Flow
	st := NewFlowStats()
	err := read(func(f *Flow) {
		st.Add(f)
		g := *f
		g.Src, g.Dst, g.Label = strings.Clone(g.Src), strings.Clone(g.Dst), strings.Clone(g.Label)
		fl = append(fl, g)
	})
	if err != nil && !strings.Contains(err.Error(), name) {
		t.Fatalf("error %q does not name the file", err)
	}
	if err != nil || len(fl) == 0 {
		return
	}
	var a, b bytes.Buffer
	ea := Write(&a, Input{Flows: fl})
	eb := Write(&b, Input{Stats: st})
	if (ea == nil) != (eb == nil) || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("the page from FlowStats differs from the page from the flows (errors %v, %v)", ea, eb)
	}
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"Source IP":"10.0.0.1","Destination IP":"10.0.0.2","Protocol":17,"fwd_bytes":10,"bwd_bytes":5,"Timestamp":"2026-11-23 09:00:00.000000"}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkStatsPage(t, "fuzz.jsonl", func(add func(*Flow)) error { return readJSONL(bytes.NewReader(b), "fuzz.jsonl", add) })
	})
}

// The header line puts one space between a count and its word, whatever
// the count's size.
func TestSummaryLineSpacing(t *testing.T) {
	for _, c := range []struct {
		pkts float64
		want string
	}{{126, "1 flow, 126 packets, 9 B"}, {12600, "1 flow, 12.60 k packets, 9 B"}} {
		if got := summaryLine(Input{Flows: []Flow{{Packets: c.pkts, Bytes: 9}}}); got != c.want {
			t.Errorf("summary %q, want %q", got, c.want)
		}
	}
}

// TestReadWindows1252Labels checks that a CIC-IDS2017 label saved in
// Windows-1252 ("Web Attack \x96 Brute Force") reaches the report as UTF-8:
// it used to be kept as invalid UTF-8, which the HTML showed as U+FFFD.
func TestReadWindows1252Labels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.csv")
	csv := "Source IP,Destination IP,Destination Port,Protocol,Timestamp,Label\n" +
		"172.16.0.1,192.168.10.50,80,6,6/7/2017 9:20,Web Attack \x96 Brute Force\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	fl, err := ReadFlows(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != 1 || fl[0].Label != "Web Attack \u2013 Brute Force" {
		t.Fatalf("flows %+v, want one labelled %q", fl, "Web Attack \u2013 Brute Force")
	}
}

// An aggregated alert line carries its cause's running total in
// flowhawk.count: each line adds what the total grew by, a cause evicted
// and seen again (a new event.start) starts over, and a count that is not
// a count is an error naming the line.
func TestReadAlertsOccurrences(t *testing.T) {
	line := func(ts, start, src string, count string) string {
		return `{"@timestamp":"` + ts + `","event":{"start":"` + start + `"},"rule":{"name":"dns.dga"},"source":{"ip":"` + src +
			`"},"flowhawk":{"detector":"dns","count":` + count + `}}` + "\n"
	}
	const t1, t2 = "2020-01-01T00:00:00Z", "2020-01-01T00:05:00Z"
	al := filepath.Join(t.TempDir(), "a.jsonl")
	os.WriteFile(al, []byte(line(t1, t1, "10.0.0.1", "1")+line(t1, t1, "10.0.0.2", "1")+line(t1, t1, "10.0.0.1", "10")+
		line(t2, t1, "10.0.0.1", "25")+line(t2, t2, "10.0.0.1", "1")+`{"@timestamp":"`+t2+`","rule":{"name":"x"}}`+"\n"), 0o644)
	as, err := ReadAlerts(al)
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, a := range as {
		got = append(got, a.Occurrences)
	}
	if fmt.Sprint(got) != "[1 1 9 15 1 1]" {
		t.Errorf("occurrences %v, want [1 1 9 15 1 1]", got)
	}
	if s := alertCount(as); s != "28 alert occurrences in 6 alert lines" {
		t.Errorf("alertCount %q", s)
	}
	for _, bad := range []string{"0", "-3", "2.5", "1e300"} {
		os.WriteFile(al, []byte(line(t1, t1, "10.0.0.1", "1")+line(t1, t1, "10.0.0.1", bad)), 0o644)
		if _, err := ReadAlerts(al); err == nil || !strings.Contains(err.Error(), ":2: flowhawk.count") {
			t.Errorf("count %s: %v, want an error naming line 2 and flowhawk.count", bad, err)
		}
	}
}

// A cause's lines may go on in the next file (--rotate, collect's
// alerts-<time>.jsonl): ReadAlertFiles reads the files as one stream, so
// the later file adds what the running count grew by (it added the whole
// count again), while a copy of a file, whose count starts over, still
// adds its own.
func TestReadAlertFilesContinueCauses(t *testing.T) {
	line := func(ts string, count int) string {
		return fmt.Sprintf(`{"@timestamp":%q,"event":{"start":"2020-01-01T00:00:00Z"},"rule":{"name":"dns.dga"},"source":{"ip":"10.0.0.1"},"flowhawk":{"detector":"dns","count":%d}}`+"\n", ts, count)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "alerts-1.jsonl"), filepath.Join(dir, "alerts-2.jsonl")
	os.WriteFile(a, []byte(line("2020-01-01T00:00:00Z", 1)+line("2020-01-01T00:01:00Z", 10)), 0o644)
	os.WriteFile(b, []byte(line("2020-01-01T00:02:00Z", 25)), 0o644)
	as, err := ReadAlertFiles([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if s := alertCount(as); s != "25 alert occurrences in 3 alert lines" {
		t.Errorf("rotated files: %q, want 25 alert occurrences in 3 alert lines", s)
	}
	if as, err = ReadAlertFiles([]string{a, a}); err != nil || alertCount(as) != "20 alert occurrences in 4 alert lines" {
		t.Errorf("a file and its copy: %q (%v), want 20 alert occurrences in 4 alert lines", alertCount(as), err)
	}
}

// TestReadAlertsCauseOfEngine runs the size detector on oversized flows
// from one host to two others: the engine's cause is the sender, so its
// second line (count 2) stands for one more occurrence although its
// destination changed. The report keyed causes by both hosts and read that
// line as a new cause of 2 occurrences (651 of the 645 the replay counted
// on the 1M-packet bench capture).
func TestReadAlertsCauseOfEngine(t *testing.T) {
	var buf bytes.Buffer
	sink := detect.NewJSONLSink(&buf)
	cfg := detect.DefaultConfig()
	cfg.Detect = "size" // the default --alert-interval 1m: the second occurrence goes out at Close
	eng, err := detect.New(cfg, sink.Write)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	src := collector.Addr16(netip.MustParseAddr("10.0.0.1"))
	for i, d := range []string{"10.0.0.2", "10.0.0.3"} {
		dst := collector.Addr16(netip.MustParseAddr(d))
		k, lo := collector.MakeKey(&src, &dst, 40000, 443, 6, 0, 0)
		ts := t0 + int64(i)*int64(time.Second)
		f := &collector.Flow{Key: k, FwdIsLo: lo, Start: ts, End: ts, ID: uint64(i + 1)}
		f.Fwd.Packets, f.Fwd.Bytes, f.Fwd.First, f.Fwd.Last, f.Fwd.MinL4HeaderLen = 1, 1600, ts, ts, 20
		f.Fwd.IPLen.Add(1600)
		eng.OnFlow(f)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	as, err := ReadAlerts(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := alertCount(as); s != "2 alert occurrences in 2 alert lines" {
		t.Errorf("%q, want 2 alert occurrences in 2 alert lines; the lines:\n%s", s, buf.String())
	}
}

// TestReadAlertsStartMovedBack checks two ways a cause's event.start is
// no key of its own: the engine keeps the earliest start of the
// occurrences it merges, so a long flow's moves it back while the count
// goes on (ndpi__fuzz-2006-06-26-2594.pcap: 18, then 16, of the 15
// occurrences the replay counted); and two sensors' causes of one name in
// a fleet store, with their own starts, keep their own counts. With
// observer.name (since 2026-12-07) they keep them also when a start moves
// back: sensor a's line whose start moved back went on from sensor b's
// last line, and the page said 4 occurrences of 7, as it still does for
// lines without the field.
func TestReadAlertsStartMovedBack(t *testing.T) {
	line := func(sensor, start string, count int) string {
		obs := ""
		if sensor != "" {
			obs = fmt.Sprintf(`,"observer":{"name":%q,"product":"flowhawk"}`, sensor)
		}
		return fmt.Sprintf(`{"@timestamp":"2005-07-04T09:58:00Z","event":{"start":%q},"rule":{"name":"size.oversize"},"source":{"ip":"192.168.1.2"},"flowhawk":{"detector":"size","cause":"size.oversize|192.168.1.2","count":%d}%s}`+"\n", start, count, obs)
	}
	// dotted gives observer.name as one flat key.
	dotted := func(s string) string {
		return regexp.MustCompile(`"observer":\{"name":("[a-z]*"),"product":"flowhawk"\}`).ReplaceAllString(s, `"observer.name":$1`)
	}
	const s1, s0, s2 = "2005-07-04T09:56:06Z", "2005-07-04T09:32:20Z", "2005-07-04T09:40:00Z"
	for _, c := range []struct {
		name, lines, want string
	}{
		{"start moved back", line("", s1, 1) + line("", s0, 2) + line("", s0, 3), "3 alert occurrences in 3 alert lines"},
		{"two sensors", line("", s1, 1) + line("", s2, 1) + line("", s1, 5) + line("", s2, 3) + line("", s1, 10), "13 alert occurrences in 5 alert lines"},
		{"two named sensors, start moved back", line("a", s1, 1) + line("b", s2, 3) + line("a", s0, 4), "7 alert occurrences in 3 alert lines"},
		{"dotted observer.name", dotted(line("a", s1, 1) + line("b", s2, 3) + line("a", s0, 4)), "7 alert occurrences in 3 alert lines"},
		// Unnamed: b's new start goes on from a's line, a's moved-back
		// start from b's.
		{"unnamed sensors, start moved back", line("", s1, 1) + line("", s2, 3) + line("", s0, 4), "4 alert occurrences in 3 alert lines"},
	} {
		path := filepath.Join(t.TempDir(), "alerts.jsonl")
		os.WriteFile(path, []byte(c.lines), 0o644)
		as, err := ReadAlerts(path)
		if err != nil {
			t.Fatal(err)
		}
		if s := alertCount(as); s != c.want {
			t.Errorf("%s: %q, want %q", c.name, s, c.want)
		}
	}
}

// TestReadAlertsCauseKeyUnambiguous checks that two causes whose cause
// and event.start concatenate to the same text keep their own counts: the
// key joined them with '|', which either may hold, and the second line
// added 7 - 5 = 2 occurrences instead of 7.
func TestReadAlertsCauseKeyUnambiguous(t *testing.T) {
	line := func(cause, start string, count int) string {
		return fmt.Sprintf(`{"@timestamp":"2005-07-04T09:58:00Z","event":{"start":%q},"rule":{"name":"size.oversize"},"source":{"ip":"192.168.1.2"},"flowhawk":{"detector":"size","cause":%q,"count":%d}}`+"\n", start, cause, count)
	}
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	os.WriteFile(path, []byte(line("size.oversize|192.168.1.2|", "2005-07-04T09:56:06Z", 5)+line("size.oversize|192.168.1.2", "|2005-07-04T09:56:06Z", 7)), 0o644)
	as, err := ReadAlerts(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := alertCount(as); s != "12 alert occurrences in 2 alert lines" {
		t.Errorf("%q, want 12 alert occurrences in 2 alert lines", s)
	}
}

// The class chart draws the 29 largest classes and the rest as one bar:
// a label per host gave thousands of unreadable bars.
func TestClassChartBounded(t *testing.T) {
	var in Input
	for i := 0; i < 100; i++ {
		for j := 0; j <= i%7; j++ {
			in.Flows = append(in.Flows, Flow{Time: time.Unix(1e9, 0), Src: "10.0.0.1", Dst: "10.0.0.2", Proto: 6, Bytes: 1, Packets: 1, Label: fmt.Sprintf("c%03d", i)})
		}
	}
	for _, c := range Charts(in) {
		if c.id != "class-mix" {
			continue
		}
		var o struct {
			Title struct {
				Subtext string `json:"subtext"`
			} `json:"title"`
			XAxis []struct {
				Data []string `json:"data"`
			} `json:"xAxis"`
			Series []struct {
				Data []struct {
					Value float64 `json:"value"`
				} `json:"data"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(c.option), &o); err != nil {
			t.Fatal(err)
		}
		xs, vs := o.XAxis[0].Data, o.Series[0].Data
		var sum float64
		for _, v := range vs {
			sum += v.Value
		}
		if len(xs) != 30 || xs[29] != "all 71 others" || sum != float64(len(in.Flows)) || !strings.Contains(o.Title.Subtext, "the 29 largest of 100 classes") {
			t.Errorf("%d bars, last %q, %v flows of %d, subtitle %q", len(xs), xs[len(xs)-1], sum, len(in.Flows), o.Title.Subtext)
		}
		return
	}
	t.Fatal("no class chart")
}

// TestReadFlowsRefusesAlerts checks that an alerts file given as a flow
// file (report F --alerts alerts-*.jsonl: the shell gives --alerts the
// first file only) is refused, naming --alerts, and that a JSON line
// without a source address is refused too; each alert line was charted as
// an empty flow.
func TestReadFlowsRefusesAlerts(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, line, want string }{
		{"alerts-20261205T084301.748558661Z.jsonl", `{"@timestamp":"2026-11-23T11:47:48.437274Z","rule":{"name":"portscan.vertical"},"source":{"ip":"10.0.0.1"}}`, "give alerts files with --alerts"},
		{"other.jsonl", `{"a":1}`, `no "Source IP" or "src_ip" field`},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFlows(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path+":1:") {
			t.Errorf("%s: %d flows, error %v; want one saying %q at line 1", c.name, len(got), err, c.want)
		}
	}
}

// TestReadAlertsRefusesFlows checks that a JSON Lines flow file given
// with --alerts is named as such; the error was a parse failure of an
// empty @timestamp.
func TestReadAlertsRefusesFlows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.jsonl")
	if err := os.WriteFile(path, []byte(`{"Source IP":"10.0.0.1","Destination IP":"10.0.0.2","Timestamp":"2026-11-23 10:00:00.000000"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAlerts(path); err == nil || !strings.Contains(err.Error(), "a flow record, not an alert") {
		t.Errorf("flow file as alerts: %v, want it named a flow record", err)
	}
}

// TestReadAlertsLongLineNamed reads an alerts file whose third line is past
// the reader's 16 MB line limit: the error names that line, as every other
// error of an alerts file does (it named only the file).
func TestReadAlertsLongLineNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	good := `{"@timestamp":"2026-11-23T10:00:00Z","rule":{"name":"x"}}` + "\n"
	long := `{"@timestamp":"2026-11-23T10:00:01Z","pad":"` + strings.Repeat("a", 17<<20) + `"}` + "\n"
	if err := os.WriteFile(path, []byte(good+good+long), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAlertStats([]string{path}); err == nil || !strings.Contains(err.Error(), path+":3: ") {
		t.Errorf("a line past the limit: %v, want it named %s:3", err, path)
	}
}

// TestReadFlowsEmptyCSV checks that an empty CSV file reads as no flows,
// as an empty JSON Lines file does, so that it does not fail a report of
// several files; it was an error ("header: EOF").
func TestReadFlowsEmptyCSV(t *testing.T) {
	stats := NewFlowStats()
	for _, name := range []string{"empty.csv", "empty.jsonl"} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := stats.Read(path); err != nil {
			t.Errorf("%s: %v, want no flows and no error", name, err)
		}
	}
	if stats.N != 0 {
		t.Errorf("%d flows read from empty files", stats.N)
	}
}

// readBoth reads b with and without flatjson: the flows and the error
// must be the same.
func readBoth(t *testing.T, b []byte) {
	t.Helper()
	read := func(flat bool) ([]Flow, string) {
		defer func(old bool) { flatJSON = old }(flatJSON)
		flatJSON = flat
		var out []Flow
		err := readJSONL(bytes.NewReader(b), "f.jsonl", func(f *Flow) {
			g := *f
			g.Src, g.Dst, g.Label = strings.Clone(g.Src), strings.Clone(g.Dst), strings.Clone(g.Label)
			out = append(out, g)
		})
		return out, fmt.Sprint(err)
	}
	slow, slowErr := read(false)
	fast, fastErr := read(true)
	if slowErr != fastErr || !reflect.DeepEqual(slow, fast) {
		t.Fatalf("flatjson read %d flows (error %s), encoding/json %d (error %s)\nfirst: %+v\nwant:  %+v", len(fast), fastErr, len(slow), slowErr, first(fast), first(slow))
	}
}

func first(f []Flow) any {
	if len(f) == 0 {
		return nil
	}
	return f[0]
}

// FuzzReadJSONLFlat checks that records read through flatjson give the
// flows, and the errors, that encoding/json's maps give.
func FuzzReadJSONLFlat(f *testing.F) {
	rec := `{"Source IP":"10.0.0.1","Destination IP":"10.0.0.2","Destination Port":%s,"Protocol":17,"Total Fwd Packets":%s,"Total Backward Packets":1,"Total Length of Fwd Packets":10,"Total Length of Bwd Packets":5,"Timestamp":"2026-11-23 09:00:00.000000","Label":%s}`
	for _, v := range [][3]string{{"53", "2", `"BENIGN"`}, {"1e400", "2", `"x"`}, {"53", "true", "null"}, {"5.3e1", "-0", `"caf\u00e9"`}, {"53", `"many"`, `"x"`}} {
		line := fmt.Sprintf(rec, v[0], v[1], v[2])
		f.Add([]byte(fmt.Sprintf(rec, "53", "2", `"BENIGN"`) + "\n" + line + "\n" + line + "\n"))
	}
	f.Add([]byte(`{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6,"fwd_packets":3,"bwd_packets":0,"start":"2026-11-23T09:00:00Z","class":"web"}` + "\n" + `{"src_ip":"10.0.0.3","dst_ip":"10.0.0.2","proto":6,"fwd_packets":3,"bwd_packets":0,"start":"2026-11-23T09:00:01Z","class":"web","src_ip":"10.9.9.9"}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) { readBoth(t, b) })
}

// TestReadCSVTornRow checks that a CSV row with fewer fields than the
// header (a writer killed mid-row) is an error naming the file and line,
// as a torn JSON line is; it was counted as a flow whose missing cells
// read as absent columns. A row of empty cells of any length (CIC-IDS2017
// files end in them) is skipped: it is no flow.
func TestReadCSVTornRow(t *testing.T) {
	dir := t.TempDir()
	head := "Source IP,Destination IP,Total Fwd Packets,fwd_bytes,bwd_bytes,Label\n"
	good := "10.0.0.1,10.0.0.2,3,120,80,BENIGN\n"
	for _, c := range []struct {
		name, body, want string
	}{
		{"torn.csv", head + good + "10.0.0.1,10.0.0.2,3", ":3: 3 fields, header has 6"},
		{"long.csv", head + good + good[:len(good)-1] + ",x\n" + good, ":3: 7 fields, header has 6"},
		{"blank.csv", head + good + ",,\n,,,,,\n", ""},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		st := NewFlowStats()
		err := st.Read(path)
		if c.want == "" {
			if err != nil || st.N != 1 {
				t.Errorf("%s: %d flows, error %v; want 1 flow (blank rows are not flows), no error", c.name, st.N, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), path+c.want) {
			t.Errorf("%s: %d flows, error %v; want one saying %q", c.name, st.N, err, path+c.want)
		}
	}
}

// TestReadJSONLNullIsMissing: a JSON null is the JSON Lines form of an
// empty cell: a flow whose Predicted Label is null takes its Label, as the
// same flow in CSV (an empty cell) or Parquet (a null) does; it was
// charted as the class "<nil>", and a null count refused the file.
func TestReadJSONLNullIsMissing(t *testing.T) {
	dir := t.TempDir()
	const rec = `{"Source IP":"10.0.0.1","Destination IP":"10.0.0.2","Destination Port":80,"Protocol":6,"Timestamp":"2026-01-01 00:00:00.000000","fwd_bytes":100,"bwd_bytes":%s,"Total Fwd Packets":1,"Total Backward Packets":1,"Predicted Label":%s,"Label":"DDoS"}` + "\n"
	p := filepath.Join(dir, "f.jsonl")
	os.WriteFile(p, []byte(fmt.Sprintf(rec, "50", `"BENIGN"`)+fmt.Sprintf(rec, "50", "null")+fmt.Sprintf(rec, "null", `"BENIGN"`)), 0o644)
	c := filepath.Join(dir, "f.csv")
	os.WriteFile(c, []byte("Source IP,Destination IP,Destination Port,Protocol,Timestamp,fwd_bytes,bwd_bytes,Total Fwd Packets,Total Backward Packets,Predicted Label,Label\n"+
		"10.0.0.1,10.0.0.2,80,6,2026-01-01 00:00:00.000000,100,50,1,1,BENIGN,DDoS\n"+
		"10.0.0.1,10.0.0.2,80,6,2026-01-01 00:00:00.000000,100,50,1,1,,DDoS\n"+
		"10.0.0.1,10.0.0.2,80,6,2026-01-01 00:00:00.000000,100,,1,1,BENIGN,DDoS\n"), 0o644)
	want, err := ReadFlowStats(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, flat := range []bool{true, false} {
		flatJSON = flat
		got, err := ReadFlowStats(p)
		flatJSON = true
		if err != nil {
			t.Errorf("flat %v: %v (the CSV with empty cells reads: %d flows, %v bytes, classes %v)", flat, err, want.N, want.Bytes, want.labels)
			continue
		}
		if fmt.Sprint(got.labels) != fmt.Sprint(want.labels) || got.Bytes != want.Bytes {
			t.Errorf("flat %v: classes %v, %v bytes; the CSV: %v, %v", flat, got.labels, got.Bytes, want.labels, want.Bytes)
		}
	}
}
