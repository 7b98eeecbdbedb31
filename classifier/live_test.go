package classifier

import (
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

func TestRowPredictorOnExtractorColumns(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := 300
	dur := make([]float64, n)
	proto := make([]string, n)
	labels := make([]string, n)
	for i := 0; i < n; i++ {
		dur[i] = float64(i % 50)
		proto[i] = []string{"tcp", "udp"}[i%2]
		labels[i] = "BENIGN"
		if proto[i] == "udp" && dur[i] > 20 {
			labels[i] = "DDoS"
		}
	}
	f := &Frame{Names: []string{"Flow Duration", "protocol_type"}, Num: [][]float64{dur, nil}, Cat: [][]string{nil, proto},
		Labels: labels, Rows: n}
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 10})
	p, err := NewRowPredictor(m, x.Columns(), 0.6)
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	row.Num[x.Index("Flow Duration")] = 40
	row.Str[x.Index("protocol_type")] = append(row.Str[x.Index("protocol_type")][:0], "udp"...)
	if lab, conf := p.Predict(row); lab != "DDoS" || conf < 0.6 {
		t.Errorf("predicted %s %v, want DDoS", lab, conf)
	}
	row.Str[x.Index("protocol_type")] = append(row.Str[x.Index("protocol_type")][:0], "tcp"...)
	if lab, _ := p.Predict(row); lab != "BENIGN" {
		t.Errorf("predicted %s, want BENIGN", lab)
	}
	if a := testing.AllocsPerRun(100, func() { p.Predict(row) }); a != 0 {
		t.Errorf("RowPredictor.Predict allocates %v per row", a)
	}
	// an NSL-KDD model needs columns the extractor does not produce
	g := &Frame{Names: []string{"hot", "num_failed_logins", "count"}, Num: [][]float64{dur, dur, dur},
		Cat: make([][]string, 3), Labels: labels, Rows: n}
	m2 := trainOrFatal(t, g, Config{Kind: "dt"})
	_, err = NewRowPredictor(m2, x.Columns(), 0)
	if err == nil || !strings.Contains(err.Error(), `"hot"`) || !strings.Contains(err.Error(), `"num_failed_logins"`) || strings.Contains(err.Error(), `"count"`) {
		t.Errorf("error %v should name hot and num_failed_logins only", err)
	}
}
