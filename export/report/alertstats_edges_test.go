package report

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAlertStatsTimeEdges checks AlertStats's buckets against bucketing
// every line in line order at the edges of time: one alert, alerts all at
// one instant, times around and before the Unix epoch, in years 0 and
// 9999, spans from nothing to the whole of RFC 3339's years (past what a
// time.Duration holds), in time zones of whole hours either side of UTC
// and with sub-second times.
func TestAlertStatsTimeEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	scales := []int64{0, 1, 7, 100, 3600, 3 * 86400, 400 * 86400, 100 * 365 * 86400, 300 * 365 * 86400, hi - lo}
	for iter := range 3000 {
		n := 1 + r.IntN(40)
		c := lo + r.Int64N(hi-lo)
		if r.IntN(3) == 0 {
			c = r.Int64N(200) - 100 // around the epoch
		}
		scale := scales[r.IntN(len(scales))]
		alerts := make([]Alert, 0, n)
		for range n {
			var off int64
			if scale > 0 {
				off = r.Int64N(scale+1) - scale/2
			}
			sec := min(max(c+off, lo), hi)
			zone := time.FixedZone("", (r.IntN(27)-12)*3600)
			alerts = append(alerts, Alert{
				Time:        time.Unix(sec, int64(r.IntN(1e9))).In(zone),
				Detector:    string(rune('a' + r.IntN(3))),
				Occurrences: float64(1 + r.IntN(5)),
			})
		}
		t.Run("", func(t *testing.T) {
			defer func() {
				if e := recover(); e != nil {
					t.Fatalf("case %d, %d alerts from %v: %v", iter, n, alerts[0].Time, e)
				}
			}()
			checkSameChart(t, gatherAlerts(alerts), alerts)
		})
	}
}
