package collector

import "testing"

// TestBulkAnyTime: a run of data packets is a bulk whatever its times. A
// run starting at time 0 was taken for "no run" and never counted, and
// before 1970 the other direction's "no data yet" (time 0) came after
// every run's start, so each packet started a new one: the bulk columns
// were 0 for flows stamped 0 or before 1970.
func TestBulkAnyTime(t *testing.T) {
	for _, base := range []float64{1.7e9, -1000, 0} {
		step := 0.01
		if base == 0 {
			step = 0 // every packet at time 0
		}
		var got *Flow
		tab := NewTable(TableConfig{}, func(f *Flow) { got = f })
		tab.Add(&[]Packet{pkt(base, "10.0.0.5", "10.0.0.80", 40000, 80, 6, FlagSYN, 0)}[0])
		for i := range 6 {
			p := pkt(base+float64(i)*step, "10.0.0.5", "10.0.0.80", 40000, 80, 6, FlagACK|FlagPSH, 1000)
			tab.Add(&p)
		}
		tab.Flush()
		if got == nil || got.Fwd.BulkCount != 1 || got.Fwd.BulkPackets != 6 || got.Fwd.BulkBytes != 6000 {
			t.Errorf("flow at %v s: fwd bulks %d, packets %d, bytes %d; want 1, 6, 6000", base,
				got.Fwd.BulkCount, got.Fwd.BulkPackets, got.Fwd.BulkBytes)
		}
	}
}

// TestBulkDurationOutOfOrder: a data packet older than the run's latest
// (a capture out of time order) makes a gap of 0, as it does in the IAT
// statistics: it made the bulk's time negative (a rate of 0) or moved
// the run's latest time back and shortened it (a rate 30 times too high).
func TestBulkDurationOutOfOrder(t *testing.T) {
	for _, c := range []struct {
		times []float64
		want  int64
	}{
		{[]float64{100.010, 100.020, 100.030, 100.005}, 20e6},
		{[]float64{100.010, 100.020, 100.030, 100.040, 100.011}, 30e6},
		{[]float64{100.010, 100.020, 100.030, 100.040, 100.011, 100.050}, 40e6},
	} {
		var got *Flow
		tab := NewTable(TableConfig{}, func(f *Flow) { got = f })
		for _, ts := range c.times {
			p := pkt(ts, "10.0.0.5", "10.0.0.80", 40000, 80, 6, FlagACK|FlagPSH, 1000)
			tab.Add(&p)
		}
		tab.Flush()
		if got.Fwd.BulkCount != 1 || got.Fwd.BulkDuration != c.want {
			t.Errorf("times %v: %d bulks lasting %d ns; want 1 lasting %d", c.times, got.Fwd.BulkCount, got.Fwd.BulkDuration, c.want)
		}
	}
}
