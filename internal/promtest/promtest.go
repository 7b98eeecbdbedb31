// Package promtest reads Prometheus text files in tests, as node_exporter's
// textfile collector does: the --metrics-textfile tests of export/metrics,
// cmd/flowhawk and e2e share it.
package promtest

import (
	"os"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ReadTextfile parses the Prometheus text file at path, failing tb if it
// cannot be read or parsed.
func ReadTextfile(tb testing.TB, path string) map[string]*dto.MetricFamily {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(f)
	if err != nil {
		tb.Fatalf("parse %s: %v", path, err)
	}
	return mf
}

// Label is the value of m's label name, "" if it has none.
func Label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// Sum adds the values of family name's series (counters and gauges) that
// carry every label of want.
func Sum(mf map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
next:
	for _, m := range mf[name].GetMetric() {
		for k, v := range want {
			if Label(m, k) != v {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// SeriesID names a series of family name by its sorted labels, to tell
// series apart across scrapes and files.
func SeriesID(name string, m *dto.Metric) string {
	var ls []string
	for _, lp := range m.GetLabel() {
		ls = append(ls, lp.GetName()+"="+lp.GetValue())
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}
