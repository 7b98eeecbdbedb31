package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/testshared"
)

// TestReportNumbersMatchFiles replays real captures with the detectors and
// a model, writes the report, and checks every number the report shows
// against the flow CSV and the alert file, computed here on their own with
// encoding/csv and encoding/json: flow and alert totals and time range in
// the header, the top sources and destinations by bytes, protocol and
// application mix, flows and bytes per time bucket, flows by predicted
// class, and alerts per detector per time bucket. The same flows written
// as JSON Lines and Parquet give the same charts.
func TestReportNumbersMatchFiles(t *testing.T) {
	pcaps := []string{demoPcap}
	for _, n := range []string{"chrissanders__synscan.pcapng", "ndpi__fuzz-2006-06-26-2594.pcap", "stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng", "ndpi__dns_exfiltration.pcap"} {
		pcaps = append(pcaps, filepath.Join(testshared.Path(t, "pcaps"), n))
	}
	for _, pcap := range pcaps {
		t.Run(filepath.Base(pcap), func(t *testing.T) {
			dir := t.TempDir()
			flows, alerts, page := filepath.Join(dir, "flows.csv"), filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "report.html")
			code, _, summary := runCLI(t, "replay", "--detect", "all", "--alerts", alerts, "--model", "../../testdata/model.json", pcap, "-o", flows)
			if code != 0 {
				t.Fatalf("replay: exit %d: %s", code, summary)
			}
			if code, _, stderr := runCLI(t, "report", flows, "--alerts", alerts, "-o", page); code != 0 {
				t.Fatalf("report: exit %d: %s", code, stderr)
			}
			checkReportNumbers(t, flows, alerts, page)
			// The occurrences the engine counted: the last line of the
			// summary's alert table holds its totals.
			if as := readAlertFile(t, alerts); len(as) > 0 {
				tot := regexp.MustCompile(`(?m)^ +(\d+) +(\d+) *$`).FindAllStringSubmatch(summary, -1)
				if len(tot) == 0 {
					t.Fatalf("no alert table totals in the replay's summary:\n%s", summary)
				}
				occ := 0
				for _, a := range as {
					occ += a.occ
				}
				if want := tot[len(tot)-1][1]; strconv.Itoa(occ) != want {
					t.Errorf("the alert file adds up to %d occurrences, the replay's summary counted %s", occ, want)
				}
			}
			// The same flows as JSON Lines and Parquet chart the same.
			csvPage, _ := os.ReadFile(page)
			for _, ext := range []string{"jsonl", "parquet"} {
				other, otherPage := filepath.Join(dir, "flows."+ext), filepath.Join(dir, ext+".html")
				if code, _, stderr := runCLI(t, "replay", "-q", "--model", "../../testdata/model.json", pcap, "-o", other); code != 0 {
					t.Fatalf("replay: exit %d: %s", code, stderr)
				}
				if code, _, stderr := runCLI(t, "report", other, "--alerts", alerts, "-o", otherPage); code != 0 {
					t.Fatalf("report %s: exit %d: %s", ext, code, stderr)
				}
				b, _ := os.ReadFile(otherPage)
				if !reflect.DeepEqual(pageCharts(t, string(b)), pageCharts(t, string(csvPage))) {
					t.Errorf("the report of flows.%s charts other numbers than that of flows.csv", ext)
				}
			}
		})
	}
}

type csvFlow struct {
	t          time.Time
	src, dst   string
	port       int
	proto      int
	bytes, pks float64
	class      string
}

func readFlowCSV(t *testing.T, path string) []csvFlow {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		if _, dup := col[strings.TrimSpace(h)]; !dup {
			col[strings.TrimSpace(h)] = i
		}
	}
	num := func(r []string, name string) float64 {
		i, ok := col[name]
		if !ok {
			t.Fatalf("%s: no column %q", path, name)
		}
		v, err := strconv.ParseFloat(r[i], 64)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		return v
	}
	var out []csvFlow
	for _, r := range recs[1:] {
		ts, err := time.Parse("2006-01-02 15:04:05.000000", r[col["Timestamp"]])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, csvFlow{
			t: ts, src: r[col["Source IP"]], dst: r[col["Destination IP"]],
			port: int(num(r, "Destination Port")), proto: int(num(r, "Protocol")),
			bytes: num(r, "fwd_bytes") + num(r, "bwd_bytes"),
			pks:   num(r, "Total Fwd Packets") + num(r, "Total Backward Packets"),
			class: r[col["Predicted Label"]],
		})
	}
	return out
}

type fileAlert struct {
	t   time.Time
	det string
	occ int // occurrences the line adds: its count less its cause's previous line's
}

func readAlertFile(t *testing.T, path string) []fileAlert {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fileAlert
	last := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var a struct {
			TS   time.Time `json:"@timestamp"`
			Rule struct {
				Name string `json:"name"`
			} `json:"rule"`
			Source, Destination struct {
				IP string `json:"ip"`
			}
			Flowhawk struct {
				Detector string `json:"detector"`
				Count    int    `json:"count"`
				Cause    string `json:"cause"`
			} `json:"flowhawk"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		// flowhawk.count is the cause's running total; a cause forgotten
		// or evicted starts over at 1. One sensor's file: the cause
		// alone tells causes apart (its event.start may move back).
		cause := a.Flowhawk.Cause
		occ := a.Flowhawk.Count - last[cause]
		if occ <= 0 {
			occ = a.Flowhawk.Count
		}
		last[cause] = a.Flowhawk.Count
		out = append(out, fileAlert{a.TS, a.Flowhawk.Detector, occ})
	}
	return out
}

// alertTotals is what the header and the alert chart say of an alert
// file: occurrences, then lines.
func alertTotals(alerts []fileAlert) string {
	occ := 0
	for _, a := range alerts {
		occ += a.occ
	}
	n := func(v int, one string) string {
		if v == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", v, one)
	}
	return n(occ, "alert occurrence") + " in " + n(len(alerts), "alert line")
}

// pageCharts returns the chart options embedded in a report, by chart id.
func pageCharts(t *testing.T, page string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, m := range regexp.MustCompile(`\{id:"([a-z0-9-]+)",option:`).FindAllStringSubmatchIndex(page, -1) {
		var o map[string]any
		if err := json.NewDecoder(strings.NewReader(page[m[1]:])).Decode(&o); err != nil {
			t.Fatalf("chart %s: %v", page[m[2]:m[3]], err)
		}
		out[page[m[2]:m[3]]] = o
	}
	return out
}

// path walks a decoded JSON value by map keys and list indexes.
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// values returns a series' data as numbers ({"value":v} items).
func values(t *testing.T, s any) []float64 {
	var out []float64
	for _, d := range s.([]any) {
		out = append(out, d.(map[string]any)["value"].(float64))
	}
	return out
}

// texts returns a JSON list of strings.
func texts(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func checkReportNumbers(t *testing.T, flowsPath, alertsPath, pagePath string) {
	flows := readFlowCSV(t, flowsPath)
	alerts := readAlertFile(t, alertsPath)
	b, err := os.ReadFile(pagePath)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	cs := pageCharts(t, page)

	// Header line.
	var first, last time.Time
	var totB, totP float64
	for i, f := range flows {
		totB += f.bytes
		totP += f.pks
		if i == 0 || f.t.Before(first) {
			first = f.t
		}
		if f.t.After(last) {
			last = f.t
		}
	}
	head := regexp.MustCompile(`<header><h1>[^<]*</h1><p>([^<]*)</p>`).FindStringSubmatch(page)
	if head == nil {
		t.Fatal("no header line")
	}
	want := fmt.Sprintf("flows.csv: %d flows, ", len(flows))
	if len(flows) == 1 {
		want = "flows.csv: 1 flow, "
	}
	if !strings.HasPrefix(head[1], want) {
		t.Errorf("header %q, want it to start %q", head[1], want)
	}
	span := fmt.Sprintf("%s – %s UTC", first.Format("2006-01-02 15:04:05"), last.Format("2006-01-02 15:04:05"))
	if !strings.Contains(head[1], span) {
		t.Errorf("header %q, want the span %q", head[1], span)
	}
	if len(alerts) > 0 && !strings.Contains(head[1], ", "+alertTotals(alerts)) {
		t.Errorf("header %q, want %q", head[1], alertTotals(alerts))
	}
	for _, c := range []struct {
		v          float64
		unit, tail string
	}{{totP, "", " packets"}, {totB, "B", ""}} {
		s := fmt.Sprintf("%.0f %s", c.v, c.unit)
		switch {
		case c.v >= 1e9:
			s = fmt.Sprintf("%.2f G%s", c.v/1e9, c.unit)
		case c.v >= 1e6:
			s = fmt.Sprintf("%.2f M%s", c.v/1e6, c.unit)
		case c.v >= 1e3:
			s = fmt.Sprintf("%.2f k%s", c.v/1e3, c.unit)
		}
		s = strings.TrimSpace(s) + c.tail
		if !strings.Contains(head[1], " "+s+",") {
			t.Errorf("header %q, want %q", head[1], s)
		}
	}

	// Top sources and destinations: the 15 largest by bytes, ties by name.
	for _, side := range []struct {
		id  string
		key func(csvFlow) string
	}{{"top-src", func(f csvFlow) string { return f.src }}, {"top-dst", func(f csvFlow) string { return f.dst }}} {
		sum := map[string]float64{}
		for _, f := range flows {
			sum[side.key(f)] += f.bytes
		}
		var keys []string
		for k := range sum {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if sum[keys[i]] != sum[keys[j]] {
				return sum[keys[i]] > sum[keys[j]]
			}
			return keys[i] < keys[j]
		})
		keys = keys[:min(15, len(keys))]
		o := cs[side.id]
		names := texts(path(o, "yAxis", 0, "data"))
		vals := values(t, path(o, "series", 0, "data"))
		if len(names) != len(keys) || len(vals) != len(keys) {
			t.Fatalf("%s: %d names, %d values, want %d", side.id, len(names), len(vals), len(keys))
		}
		for i, k := range keys { // drawn largest at the top: last in the data
			j := len(keys) - 1 - i
			if names[j] != k || vals[j] != sum[k] {
				t.Errorf("%s #%d: %s %v, want %s %v", side.id, i+1, names[j], vals[j], k, sum[k])
			}
		}
		if sub := path(o, "title", "subtext").(string); sub != fmt.Sprintf("top %d of %d addresses", len(keys), len(sum)) {
			t.Errorf("%s: subtitle %q", side.id, sub)
		}
	}

	// Protocol and application mix: each slice's bytes (ten at most, the
	// tenth "all others"), adding up to the total.
	protoName := map[int]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
	byProto := map[string]float64{}
	for _, f := range flows {
		n, ok := protoName[f.proto]
		if !ok {
			n = fmt.Sprintf("IP proto %d", f.proto)
		}
		byProto[n] += f.bytes
	}
	got := map[string]float64{}
	for _, d := range path(cs["proto-mix"], "series", 0, "data").([]any) {
		got[d.(map[string]any)["name"].(string)] = d.(map[string]any)["value"].(float64)
	}
	if len(byProto) <= 10 && fmt.Sprint(got) != fmt.Sprint(byProto) {
		t.Errorf("protocol mix %v, want %v", got, byProto)
	}
	var appSum float64
	for _, v := range values(t, path(cs["app-mix"], "series", 0, "data")) {
		appSum += v
	}
	if appSum != totB {
		t.Errorf("application mix adds up to %v bytes, want %v", appSum, totB)
	}

	// Flows and bytes per bucket of the width the subtitle names.
	bucketed := func(id string, times []time.Time, weight []float64, subRe string) (d time.Duration, n []float64, w []float64) {
		o := cs[id]
		sub := path(o, "title", "subtext").(string)
		m := regexp.MustCompile(subRe).FindStringSubmatch(sub)
		if m == nil {
			t.Fatalf("%s: subtitle %q", id, sub)
		}
		d, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := times[0], times[0]
		for _, x := range times {
			if x.Before(lo) {
				lo = x
			}
			if x.After(hi) {
				hi = x
			}
		}
		start := lo.Truncate(d)
		k := int(hi.Sub(start)/d) + 1
		n, w = make([]float64, k), make([]float64, k)
		for i, x := range times {
			j := int(x.Sub(start) / d)
			n[j]++
			if weight != nil {
				w[j] += weight[i]
			}
		}
		if xs := texts(path(o, "xAxis", 0, "data")); len(xs) != k {
			t.Errorf("%s: %d points, want %d buckets of %v", id, len(xs), k, d)
		}
		return d, n, w
	}
	times := make([]time.Time, len(flows))
	bytes := make([]float64, len(flows))
	for i, f := range flows {
		times[i], bytes[i] = f.t, f.bytes
	}
	d, n, w := bucketed("over-time", times, bytes, `^per (\S+), by flow start`)
	if g := values(t, path(cs["over-time"], "series", 0, "data")); fmt.Sprint(g) != fmt.Sprint(n) {
		t.Errorf("flows per %v: %v, want %v", d, g, n)
	}
	if g := values(t, path(cs["over-time"], "series", 1, "data")); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("bytes per %v: %v, want %v", d, g, w)
	}

	// Flows by predicted class.
	byClass := map[string]float64{}
	for _, f := range flows {
		byClass[f.class]++
	}
	names := texts(path(cs["class-mix"], "xAxis", 0, "data"))
	vals := values(t, path(cs["class-mix"], "series", 0, "data"))
	got = map[string]float64{}
	for i := range names {
		got[names[i]] = vals[i]
	}
	if fmt.Sprint(got) != fmt.Sprint(byClass) {
		t.Errorf("flows by class %v, want %v", got, byClass)
	}

	// Alerts per detector per bucket.
	if len(alerts) == 0 {
		if _, ok := cs["alerts"]; ok {
			t.Error("alerts chart without alerts")
		}
		return
	}
	dets := map[string][]fileAlert{}
	var all []time.Time
	for _, a := range alerts {
		dets[a.det] = append(dets[a.det], a)
		all = append(all, a.t)
	}
	d, _, _ = bucketed("alerts", all, nil, `lines?, per (\S+) \(UTC\)`)
	if sub := path(cs["alerts"], "title", "subtext").(string); !strings.HasPrefix(sub, alertTotals(alerts)+",") {
		t.Errorf("alerts subtitle %q, want %q", sub, alertTotals(alerts))
	}
	lo := all[0]
	for _, x := range all {
		if x.Before(lo) {
			lo = x
		}
	}
	start := lo.Truncate(d)
	series := path(cs["alerts"], "series").([]any)
	if len(series) != len(dets) {
		t.Errorf("%d detector series, want %d", len(series), len(dets))
	}
	for _, s := range series {
		name := s.(map[string]any)["name"].(string)
		g := values(t, s.(map[string]any)["data"])
		want := make([]float64, len(g))
		for _, a := range dets[name] {
			want[int(a.t.Sub(start)/d)] += float64(a.occ)
		}
		if fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("alerts of %s per %v: %v, want %v", name, d, g, want)
		}
	}
}
