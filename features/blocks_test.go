package features

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// TestBlocksMatchColumns checks that Fill's blocks (runs of columns
// computed in one call) give, bit for bit, what each column's own code
// gives, on the flows of real captures (window values included) and on
// flows whose samples are out of time order, for several SPLT lengths.
func TestBlocksMatchColumns(t *testing.T) {
	var flows []*collector.Flow
	for _, name := range []string{"chrissanders__synscan.pcapng", "pcapplusplus__four_ipv6_http_streams.pcap", "ndpi__fuzz-2006-06-26-2594.pcap", "ndpi__dns_exfiltration.pcap"} {
		f, _ := replay(t, name)
		flows = append(flows, f...)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 200 {
		f := *sessionFlow(t)
		f.Samples = append([]collector.Sample(nil), f.Samples...)
		for j := range f.Samples {
			f.Samples[j].Offset = rng.Int64N(5_000_000)
		}
		f.Samples = f.Samples[:i%(len(f.Samples)+1)]
		flows = append(flows, &f)
	}
	blocks := 0
	for _, splt := range []int{0, 1, 3, 10, 32} {
		cfg := DefaultConfig()
		cfg.SPLT = splt
		x, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cols := &Extractor{cfg: cfg, cols: x.cols, ops: opsOf(registry(cfg), false)}
		for _, op := range x.ops {
			if op.block != nil {
				blocks += op.n
			}
		}
		a, b := x.NewRow(), x.NewRow()
		w := NewWindows(WindowConfig{})
		for k, f := range flows {
			wv := w.Observe(f)
			x.Fill(f, &wv, a)
			cols.Fill(f, &wv, b)
			for i := range a.Num {
				if math.Float64bits(a.Num[i]) != math.Float64bits(b.Num[i]) || string(a.Str[i]) != string(b.Str[i]) {
					t.Fatalf("splt %d flow %d column %s: block %v %q, column %v %q", splt, k, x.cols[i].Name, a.Num[i], a.Str[i], b.Num[i], b.Str[i])
				}
			}
		}
	}
	if blocks == 0 {
		t.Error("no column is computed by a block")
	}
}
