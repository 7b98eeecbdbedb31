package collector

import "testing"

// TestTableTimesFarApart: packets in 1678 and 2261 (two pcapng interfaces'
// if_tsoffset, or a corrupt record) are more than 2^63 ns apart, and the
// table's differences of times wrapped: one flow of both, a duration of
// -56,744,072,709,552 s. They are two flows, as any jump of over a day
// makes.
func TestTableTimesFarApart(t *testing.T) {
	for _, times := range [][]float64{{-9.19e9, -9.19e9 + 1, 9.2e9, 9.2e9 + 1}, {9.2e9, 9.2e9 + 1, -9.19e9, -9.19e9 + 1}} {
		var got []*Flow
		tab := NewTable(TableConfig{}, func(f *Flow) { got = append(got, f) })
		for _, ts := range times {
			p := pkt(ts, "10.0.0.1", "10.0.1.1", 1000, 2000, 17, 0, 2)
			tab.Add(&p)
		}
		tab.Flush()
		if len(got) != 2 {
			t.Errorf("times %v: %d flows, want 2", times, len(got))
		}
		for _, f := range got {
			if f.Duration() < 0 || f.Duration() > 2e9 {
				t.Errorf("times %v: flow %d: duration %d ns", times, f.ID, f.Duration())
			}
		}
	}
}
