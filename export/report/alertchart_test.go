package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// alertSeries returns the series names of the alert chart of in, and the
// chart's option's size.
func alertSeries(t *testing.T, in Input) ([]string, int) {
	t.Helper()
	for _, c := range Charts(in) {
		if c.id != "alerts" {
			continue
		}
		var o struct {
			Series []struct {
				Name string `json:"name"`
				Data []struct {
					Value float64 `json:"value"`
				} `json:"data"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(c.option), &o); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range o.Series {
			names = append(names, s.Name)
		}
		return names, len(c.option)
	}
	t.Fatal("no alert chart")
	return nil, 0
}

// TestAlertChartBoundedDetectors: an alerts file whose every line names a
// detector of its own drew a series per line (5,000 lines: 7.5 MB of
// chart option; 50,000 took 1.2 GB and a 76 MB page). The chart keeps
// the detectors with the most occurrences and the rest as one series,
// and reading follows maxDetectors detectors one by one; no occurrence
// is lost on the way.
func TestAlertChartBoundedDetectors(t *testing.T) {
	var b strings.Builder
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	const n = 5000
	for i := range n {
		ts := t0.Add(time.Duration(i) * 2 * time.Hour / n).Format(time.RFC3339Nano)
		c := 1
		if i%1000 == 0 {
			c = 50 // a few detectors with many occurrences lead
		}
		fmt.Fprintf(&b, `{"@timestamp":%q,"rule":{"name":"r","category":"det%05d"},"flowhawk":{"count":%d,"cause":"c%d"}}`+"\n", ts, i, c, i)
	}
	p := filepath.Join(t.TempDir(), "alerts.jsonl")
	os.WriteFile(p, []byte(b.String()), 0o644)
	as, err := ReadAlertStats([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(as.names) > maxDetectors+1 {
		t.Errorf("%d detectors held, want at most %d and the rest as one", len(as.names), maxDetectors)
	}
	names, size := alertSeries(t, Input{AlertStats: as})
	if len(names) != maxClasses || size > 200_000 {
		t.Fatalf("%d series (option %d bytes), want %d", len(names), size, maxClasses)
	}
	// det00000 and det01000 lead among the detectors followed; det02000
	// on came past maxDetectors, into the others.
	if !slicesContains(names, "det00000") || !slicesContains(names, "det01000") || slicesContains(names, "det02000") ||
		names[len(names)-1] != fmt.Sprintf("all %d+ other detectors", maxDetectors-maxClasses+2) {
		t.Errorf("series %v: want the two leading detectors followed and the others as one", names)
	}
	// Every occurrence is in the chart.
	var sum float64
	for _, c := range Charts(Input{AlertStats: as}) {
		if c.id == "alerts" {
			var o struct {
				Series []struct {
					Data []struct {
						Value float64 `json:"value"`
					} `json:"data"`
				} `json:"series"`
			}
			json.Unmarshal([]byte(c.option), &o)
			for _, s := range o.Series {
				for _, d := range s.Data {
					sum += d.Value
				}
			}
		}
	}
	if want := float64(n - 5 + 5*50); sum != want || as.Occurrences != want {
		t.Errorf("chart holds %v occurrences, stats %v, want %v", sum, as.Occurrences, want)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestAlertDetectorNamedLikeObjectMethod: ECharts keeps a legend's
// selection in a plain object and calls its hasOwnProperty, so a
// detector named hasOwnProperty in an alerts file threw, and the page
// drew no chart after it. Such names get a suffix in the legend, and a
// chart that throws no longer stops the others (checked in Chromium when
// it is installed).
func TestAlertDetectorNamedLikeObjectMethod(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	in := Input{
		Flows:  []Flow{{Time: t0, Src: "10.0.0.1", Dst: "10.0.0.2", DstPort: 53, Proto: 17, Bytes: 100, Packets: 2, Label: "BENIGN"}},
		Alerts: []Alert{{Time: t0, Detector: "hasOwnProperty"}, {Time: t0, Detector: "portscan"}, {Time: t0, Detector: "__proto__"}},
	}
	names, _ := alertSeries(t, in)
	if strings.Join(names, ",") != "__proto__ (detector),hasOwnProperty (detector),portscan" {
		t.Errorf("series %q", names)
	}
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (Debian package chromium; CI installs it)")
	}
	path := filepath.Join(t.TempDir(), "r.html")
	os.WriteFile(path, b.Bytes(), 0o644)
	dom, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", "file://"+path).Output()
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`<body[^>]*>`).Find(dom)
	if !bytes.Contains(body, []byte(`data-charts-ready="true"`)) {
		t.Errorf("page did not draw every chart: %s; status %s", body, regexp.MustCompile(`<div id="fh-status">[^<]*</div>`).Find(dom))
	}
}

// TestFlowTimesBeforeYearOne: flows all before 0001-01-01 (a time the
// CSV reader takes) were said to end at 0001-01-01, a time no flow has,
// and the time chart drew the empty months to it.
func TestFlowTimesBeforeYearOne(t *testing.T) {
	const head = "Source IP,Destination IP,Destination Port,Protocol,Timestamp,Total Fwd Packets,Total Backward Packets,Total Length of Fwd Packets,Total Length of Bwd Packets,Label\n"
	p := filepath.Join(t.TempDir(), "f.csv")
	os.WriteFile(p, []byte(head+"10.0.0.1,10.0.0.2,80,6,0000-06-01 00:00:00,1,1,10,20,BENIGN\n10.0.0.1,10.0.0.2,80,6,0000-06-01 00:00:07,1,1,10,20,BENIGN\n"), 0o644)
	st, err := ReadFlowStats(p)
	if err != nil {
		t.Fatal(err)
	}
	const l = "2006-01-02 15:04:05"
	if a, z := st.First.UTC().Format(l), st.Last.UTC().Format(l); a != "0000-06-01 00:00:00" || z != "0000-06-01 00:00:07" {
		t.Errorf("flows from %s to %s", a, z)
	}
}

// TestReadFlowsRefusesDottedAlerts: an alerts file among the flow files
// is refused naming --alerts, with ECS's dotted keys too ("rule.name"),
// which the alert reader takes; it was "no Source IP field".
func TestReadFlowsRefusesDottedAlerts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts-1.jsonl")
	os.WriteFile(p, []byte(`{"@timestamp":"2026-11-23T09:00:00Z","rule.name":"dns.dga","flowhawk.detector":"dns","source.ip":"10.0.0.1"}`+"\n"), 0o644)
	if _, err := ReadFlows(p); err == nil || !strings.Contains(err.Error(), "--alerts") {
		t.Errorf("ReadFlows = %v, want the alert line refused naming --alerts", err)
	}
}
