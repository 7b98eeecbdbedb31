package report

import (
	"math"
	"strings"
	"time"
)

// FlowStats is what the flow charts and the header need, gathered one
// flow at a time: a report of any number of flows holds its distinct
// addresses, services, classes and time buckets, not the flows (a file of
// 395,000 flows took 345 MB when every row was kept).
type FlowStats struct {
	// N, Bytes and Packets are the flows' count and sums.
	N              int
	Bytes, Packets float64
	// First and Last are the earliest and latest flow start (zero when
	// no flow has a time).
	First, Last time.Time

	absBytes, absPackets float64 // for the finiteness check
	src, dst             map[string]float64
	proto, app           map[string]float64
	labels               map[string]float64
	times                map[int64]timeBucket // by start Unix second, rounded down to gran
	gran                 int64
}

// timeBucket is one time bucket's flow count and bytes.
type timeBucket struct{ flows, bytes float64 }

// maxTimeKeys bounds the time buckets held at one granularity: past it
// they merge into the next coarser one (a minute, an hour, a day). The
// chart's buckets stay exact: with more than this many distinct seconds
// the flows span 12 days or more, so the chart's bucket (about a 120th of
// the span) is a whole number of minutes and starts on one, and so on
// for hours and days.
const maxTimeKeys = 1 << 20

// NewFlowStats returns empty statistics.
func NewFlowStats() *FlowStats {
	return &FlowStats{
		src: map[string]float64{}, dst: map[string]float64{},
		proto: map[string]float64{}, app: map[string]float64{}, labels: map[string]float64{},
		times: map[int64]timeBucket{}, gran: 1,
	}
}

// addTo adds v to m[k], copying a new key: a key read from a CSV row
// shares the row's memory, which the map would otherwise keep whole.
func addTo(m map[string]float64, k string, v float64) {
	if _, ok := m[k]; ok {
		m[k] += v
		return
	}
	m[strings.Clone(k)] = v
}

// Add counts one flow.
func (s *FlowStats) Add(f *Flow) {
	s.N++
	s.Bytes += f.Bytes
	s.Packets += f.Packets
	s.absBytes += math.Abs(f.Bytes)
	s.absPackets += math.Abs(f.Packets)
	if f.Src != "" {
		addTo(s.src, f.Src, f.Bytes)
	}
	if f.Dst != "" {
		addTo(s.dst, f.Dst, f.Bytes)
	}
	addTo(s.proto, protoName(f.Proto), f.Bytes)
	addTo(s.app, appName(f.Proto, f.DstPort), f.Bytes)
	if f.Label != "" {
		addTo(s.labels, f.Label, 1)
	}
	if f.Time.IsZero() {
		return
	}
	// The first time sets both ends: Last starting at the zero time kept
	// 0001-01-01 as the end of flows that all came before it.
	if len(s.times) == 0 || f.Time.Before(s.First) {
		s.First = f.Time
	}
	if len(s.times) == 0 || f.Time.After(s.Last) {
		s.Last = f.Time
	}
	k := floorTo(f.Time.Unix(), s.gran)
	b := s.times[k]
	b.flows++
	b.bytes += f.Bytes
	s.times[k] = b
	if len(s.times) > maxTimeKeys {
		s.coarsen()
	}
}

// coarsen merges the time buckets into the next granularity; a day is
// the last (a file spanning year 1 to 9999 holds 3.65 million days).
func (s *FlowStats) coarsen() {
	var next int64
	switch s.gran {
	case 1:
		next = 60
	case 60:
		next = 3600
	case 3600:
		next = 86400
	default:
		return
	}
	merged := make(map[int64]timeBucket, len(s.times)/2)
	for k, b := range s.times {
		m := merged[floorTo(k, next)]
		m.flows += b.flows
		m.bytes += b.bytes
		merged[floorTo(k, next)] = m
	}
	s.times, s.gran = merged, next
	if len(s.times) > maxTimeKeys {
		s.coarsen()
	}
}

// floorTo rounds t down to a multiple of g (toward minus infinity, for
// times before 1970 too).
func floorTo(t, g int64) int64 {
	q := t / g
	if t%g != 0 && t < 0 {
		q--
	}
	return q * g
}

// finite reports whether the byte and packet sums are finite numbers.
func (s *FlowStats) finite() bool {
	for _, v := range []float64{s.absBytes, s.absPackets} {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return false
		}
	}
	return true
}
