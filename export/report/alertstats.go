package report

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// AlertStats is what the alert chart and the header need, gathered one
// alert line at a time: its memory grows with the detectors, the causes
// whose running counts are followed and the chart's time buckets, not with
// the lines (a 400,000-line alerts file took 140-170 MB, and weeks of a
// busy sensor's alerts are millions of lines, when every line was kept).
type AlertStats struct {
	// Lines is the number of alert lines; Occurrences the occurrences
	// they add, summed in line order.
	Lines       int
	Occurrences float64
	// First and Last are the earliest and latest @timestamp.
	First, Last time.Time

	seen  *causeCounts // each cause's last running count, across files
	index map[string]int
	names []string // detectors, by index
	// sums holds each detector's occurrences by Unix second rounded down
	// to gran (see add), while every sum is exact.
	sums  []map[int64]float64
	gran  int64
	exact uint64 // the occurrences in sums, a whole number
	// late holds the lines from the first whose occurrences could make a
	// sum inexact on, in line order, to be added as they come.
	late    []alertRec
	ordered bool // late is in use
	// folded counts the lines of detectors past maxDetectors, which go
	// to one entry (otherDetectors).
	folded int
}

// maxDetectors bounds the detectors followed one by one: an alerts file
// whose lines each name a detector of their own held a map of sums per
// line (50,000 such lines took 1.2 GB). Past it, new detectors' lines
// are summed as one.
const maxDetectors = 1024

// otherDetectors is the entry of the detectors past maxDetectors.
const otherDetectors = "\x00others"

// alertRec is one line in AlertStats.late.
type alertRec struct {
	sec int64 // @timestamp, Unix seconds
	det int32
	occ float64
}

func newAlertStats() *AlertStats {
	return &AlertStats{seen: newCauseCounts(), index: map[string]int{}, gran: 1}
}

// ReadAlertStats reads alerts files in the order given as one stream, as
// ReadAlertFiles does, gathering what the report shows as it goes.
func ReadAlertStats(paths []string) (*AlertStats, error) {
	st := newAlertStats()
	for _, path := range paths {
		if err := readAlerts(path, st.seen, func(l *alertLine) { st.add(l.t, l.detector, l.occ) }); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// gatherAlerts returns the statistics of alerts, in their order.
func gatherAlerts(alerts []Alert) *AlertStats {
	st := newAlertStats()
	for i := range alerts {
		st.add(alerts[i].Time, []byte(alerts[i].Detector), alerts[i].occurrences())
	}
	return st
}

// maxExact is the largest sum of whole numbers a float64 holds exactly,
// whatever the order they are added in.
const maxExact = 1 << 53

// add counts one line of detector det adding occ occurrences at t.
//
// The chart adds each line's occurrences to its detector's bucket, the
// line's second less the first bucket's start over the bucket width, in
// line order; the width comes from the span of all lines (newTimeAxis).
// Sums by detector and second, rounded down to gran, give the same
// buckets: gran is the width the span so far would get, at most a day;
// each width bucket gives divides every larger one up to a day, and
// those past a day are whole days; the first bucket starts on a multiple
// of the width since the zero time, which is a whole number of days
// before the Unix epoch. So no rounded second straddles two of the
// chart's buckets, and gran only grows. A line's occurrences are whole
// numbers (1 to 2^53) from alerts files, and while they add up to 2^53 at
// most every sum is exact, in any order, as the chart's are; the first
// line past that, or with other occurrences (an Alert's own), and every
// line after it are kept in order (late), to be added as the chart added
// them.
func (s *AlertStats) add(t time.Time, det []byte, occ float64) {
	s.Lines++
	s.Occurrences += occ
	if s.Lines == 1 || t.Before(s.First) {
		s.First = t
	}
	if s.Lines == 1 || t.After(s.Last) {
		s.Last = t
	}
	d, ok := s.index[string(det)]
	if !ok && len(s.names) >= maxDetectors {
		s.folded++
		det = []byte(otherDetectors)
		d, ok = s.index[otherDetectors]
	}
	if !ok {
		d = len(s.names)
		name := string(det)
		s.index[name] = d
		s.names = append(s.names, name)
		s.sums = append(s.sums, map[int64]float64{})
	}
	if !s.ordered && (occ < 1 || occ > maxExact || occ != math.Trunc(occ) || uint64(occ) > maxExact-s.exact) {
		s.ordered = true
	}
	if s.ordered {
		s.late = append(s.late, alertRec{t.Unix(), int32(d), occ})
		return
	}
	s.exact += uint64(occ)
	if g := min(int64(axisStep(s.First, s.Last)/time.Second), 86400); g > s.gran {
		s.coarsen(g)
	}
	s.sums[d][floorTo(t.Unix(), s.gran)] += occ
}

// coarsen merges the sums into seconds rounded down to g, a multiple of
// gran.
func (s *AlertStats) coarsen(g int64) {
	if g%s.gran != 0 {
		panic(fmt.Sprintf("report: alert buckets of %d s do not merge into %d s", s.gran, g))
	}
	for i, m := range s.sums {
		merged := make(map[int64]float64, len(m))
		for k, v := range m {
			merged[floorTo(k, g)] += v
		}
		s.sums[i] = merged
	}
	s.gran = g
}

// series returns the detectors, sorted, and each one's occurrences in
// the buckets of ax.
func (s *AlertStats) series(ax timeAxis) ([]string, map[string][]float64) {
	if ax.sec%s.gran != 0 || floorTo(ax.start, s.gran) != ax.start {
		// add's reasoning rules this out; a chart of wrong buckets
		// would be worse than none.
		panic(fmt.Sprintf("report: alert bucket %v from %d is not made of the gathered %d s", ax.d, ax.start, s.gran))
	}
	counts := make(map[string][]float64, len(s.names))
	byIndex := make([][]float64, len(s.names))
	for i, name := range s.names {
		byIndex[i] = make([]float64, ax.n)
		counts[name] = byIndex[i]
		keys := make([]int64, 0, len(s.sums[i]))
		for k := range s.sums[i] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			byIndex[i][(k-ax.start)/ax.sec] += s.sums[i][k]
		}
	}
	for _, r := range s.late {
		byIndex[r.det][(r.sec-ax.start)/ax.sec] += r.occ
	}
	return slices.Sorted(slices.Values(s.names)), counts
}
