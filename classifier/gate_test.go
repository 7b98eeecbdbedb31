package classifier

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// gateFrame: "dga" flows are UDP with short durations, "ping" flows long,
// half ICMP, half UDP, so duration alone separates the classes and a tree
// answers "dga" for a short ICMP flow, which no dga flow ever was.
func gateFrame() *Frame {
	n := 200
	dur := make([]float64, n)
	proto := make([]string, n)
	labels := make([]string, n)
	for i := range n {
		if i%2 == 0 {
			dur[i], proto[i], labels[i] = float64(i%10), "udp", "dga"
		} else {
			dur[i], proto[i], labels[i] = float64(100+i%10), []string{"icmp", "udp"}[i/2%2], "ping"
		}
	}
	return &Frame{Names: []string{"Flow Duration", "protocol_type"}, Num: [][]float64{dur, nil}, Cat: [][]string{nil, proto},
		Labels: labels, Rows: n, Hash: "test"}
}

func TestGateTurnsUnsupportedClassesUnknown(t *testing.T) {
	f := gateFrame()
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	set := func(d float64, proto string) {
		row.Num[x.Index("Flow Duration")] = d
		row.Str[x.Index("protocol_type")] = append(row.Str[x.Index("protocol_type")][:0], proto...)
	}
	for _, gate := range [][]string{nil, {"protocol_type"}} {
		m := trainOrFatal(t, f, Config{Kind: "dt", Gate: gate})
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("gate %v: reload: %v", gate, err)
		}
		for _, mm := range []*Model{m, m2} {
			p, err := NewRowPredictor(mm, x.Columns(), 0.5)
			if err != nil {
				t.Fatal(err)
			}
			set(3, "udp")
			if lab, _ := p.Predict(row); lab != "dga" {
				t.Errorf("gate %v: short UDP flow predicted %s, want dga", gate, lab)
			}
			set(3, "icmp") // a dga by duration, with a protocol no dga had
			lab, conf := p.Predict(row)
			want := "dga"
			if gate != nil {
				want = "Unknown"
			}
			if lab != want {
				t.Errorf("gate %v: short ICMP flow predicted %s (%.2f), want %s", gate, lab, conf, want)
			}
			set(3, "sctp") // a category never seen in training
			if lab, _ := p.Predict(row); gate != nil && lab != "Unknown" {
				t.Errorf("gate %v: unseen protocol predicted %s, want Unknown", gate, lab)
			}
			if a := testing.AllocsPerRun(50, func() { p.Predict(row) }); a != 0 && !raceEnabled {
				t.Errorf("Predict with a gate allocates %v per row", a)
			}
		}
		// flowhawk predict's path: WritePredictions over a frame.
		q := &Frame{Names: f.Names, Num: [][]float64{{3, 3}, nil}, Cat: [][]string{nil, {"udp", "icmp"}}, Rows: 2}
		var out bytes.Buffer
		if err := WritePredictions(&out, m2, q, 0.5); err != nil {
			t.Fatal(err)
		}
		recs, _ := csv.NewReader(&out).ReadAll()
		if len(recs) != 3 || recs[1][1] != "dga" || (recs[2][1] == "Unknown") != (gate != nil) {
			t.Errorf("gate %v: predictions %v", gate, recs)
		}
	}
}

func TestGateRejectsBadColumnsAndFiles(t *testing.T) {
	f := gateFrame()
	for _, gate := range []string{"Flow Duration", "no such column"} {
		if _, err := Train(f, Config{Kind: "rf", Trees: 2, Gate: []string{gate}}); err == nil || !strings.Contains(err.Error(), gate) {
			t.Errorf("gate on %q: error %v, want one naming it", gate, err)
		}
	}
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 2, Gate: []string{"protocol_type"}})
	var buf bytes.Buffer
	m.Save(&buf)
	var obj map[string]any
	for name, mutate := range map[string]func(s map[string]any){
		"unknown column":   func(s map[string]any) { s["Flow Duration"] = s["protocol_type"] },
		"unknown category": func(s map[string]any) { s["protocol_type"].(map[string]any)["dga"] = []any{"gre"} },
		"missing class":    func(s map[string]any) { delete(s["protocol_type"].(map[string]any), "ping") },
		"extra class":      func(s map[string]any) { s["protocol_type"].(map[string]any)["web"] = []any{} },
	} {
		json.Unmarshal(buf.Bytes(), &obj)
		mutate(obj["support"].(map[string]any))
		b, _ := json.Marshal(obj)
		if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "support") {
			t.Errorf("%s: error %v, want one naming support", name, err)
		}
	}
}
