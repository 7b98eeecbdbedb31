package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// TestDashboardMatchesMetrics checks that every metric and every grouping
// label the Grafana dashboard queries exists, so the dashboard cannot
// drift from the exporter.
func TestDashboardMatchesMetrics(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "grafana-dashboard.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	e := New(Config{NoRuntime: true})
	e.Export(testFlow(6, 1, 1, 1, 1, collector.EndIdle))
	e.Classified("x")
	e.Alert("y")
	e.AddLossSource("k", LossFunc(func() map[string]uint64 { return map[string]uint64{"a": 1} }))
	e.AddDecodeErrorSource("p", LossFunc(func() map[string]uint64 { return map[string]uint64{"b": 1} }))
	e.AddWindowSource(LossFunc(func() map[string]uint64 { return map[string]uint64{"observed": 1} }))
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{}
	for _, f := range fams {
		ls := map[string]bool{"instance": true, "job": true}
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				ls[lp.GetName()] = true
			}
		}
		labels[f.GetName()] = ls
	}

	nameRe := regexp.MustCompile(`flowhawk_[a-z_]+`)
	byRe := regexp.MustCompile(`by \(([^)]*)\)`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			names := nameRe.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q uses no flowhawk metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				ls, ok := labels[n]
				if !ok {
					t.Errorf("panel %q: metric %s does not exist", p.Title, n)
					continue
				}
				for _, g := range byRe.FindAllStringSubmatch(tg.Expr, -1) {
					for _, l := range strings.Split(g[1], ",") {
						if l = strings.TrimSpace(l); !ls[l] {
							t.Errorf("panel %q: metric %s has no label %q", p.Title, n, l)
						}
					}
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("dashboard has only %d queries", queries)
	}
}
