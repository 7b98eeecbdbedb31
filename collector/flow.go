package collector

import "math"

// Moments accumulates count, extremes and power sums of a series, enough
// for mean, variance, standard deviation, skewness and kurtosis. Both
// sources fill it the same way so features never depend on the source.
//
// The sums are taken around Shift, the first observation: the gaps of a
// periodic flow (a second apart, microseconds of jitter) have a spread a
// million times smaller than their size, and raw power sums of such values
// cancel to noise in float64 when the variance is taken from them.
type Moments struct {
	N        uint64
	Min, Max float64
	// Shift is the origin of the sums: the first observation added, or 0
	// where the sums come from elsewhere (the kernel's raw sums).
	Shift float64
	// Sum to Sum4 are the sums of (x - Shift), (x - Shift)^2, ^3 and ^4.
	Sum, Sum2, Sum3, Sum4 float64
}

// Add adds one observation.
func (m *Moments) Add(x float64) {
	if m.N == 0 {
		*m = Moments{N: 1, Min: x, Max: x, Shift: x}
		return
	}
	if x < m.Min {
		m.Min = x
	}
	if x > m.Max {
		m.Max = x
	}
	m.N++
	d := x - m.Shift
	d2 := d * d
	m.Sum += d
	m.Sum2 += d2
	m.Sum3 += d2 * d
	m.Sum4 += d2 * d2
}

// Merge adds all observations of o.
func (m *Moments) Merge(o *Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = *o
		return
	}
	m.Min = min(m.Min, o.Min)
	m.Max = max(m.Max, o.Max)
	// o's sums around m.Shift: (y + d)^k expanded, y = x - o.Shift.
	n, d := float64(o.N), o.Shift-m.Shift
	s1, s2, s3, s4 := o.Sum, o.Sum2, o.Sum3, o.Sum4
	if d != 0 {
		d2 := d * d
		s1, s2, s3, s4 = o.Sum+n*d,
			o.Sum2+2*d*o.Sum+n*d2,
			o.Sum3+3*d*o.Sum2+3*d2*o.Sum+n*d2*d,
			o.Sum4+4*d*o.Sum3+6*d2*o.Sum2+4*d2*d*o.Sum+n*d2*d2
	}
	m.N += o.N
	m.Sum += s1
	m.Sum2 += s2
	m.Sum3 += s3
	m.Sum4 += s4
}

// Total is the sum of the observations.
func (m *Moments) Total() float64 { return m.Sum + float64(m.N)*m.Shift }

// SumSquares is the sum of the squared observations (the kernel keeps it
// for lengths, so the two paths are compared on it).
func (m *Moments) SumSquares() float64 {
	n := float64(m.N)
	return m.Sum2 + 2*m.Shift*m.Sum + n*m.Shift*m.Shift
}

// Mean is the arithmetic mean, 0 for no observations.
func (m *Moments) Mean() float64 {
	if m.N == 0 {
		return 0
	}
	return m.Shift + m.Sum/float64(m.N)
}

// Variance is the sample variance (n-1 denominator, as CICFlowMeter and
// pandas use), 0 for fewer than two observations.
func (m *Moments) Variance() float64 {
	if m.N < 2 {
		return 0
	}
	n := float64(m.N)
	mean := m.Sum / n
	v := (m.Sum2 - n*mean*mean) / (n - 1)
	if v < 0 { // rounding
		return 0
	}
	return v
}

// Std is the sample standard deviation.
func (m *Moments) Std() float64 { return math.Sqrt(m.Variance()) }

// central returns the population central moments m2, m3, m4 (the same
// around any shift).
func (m *Moments) central() (m2, m3, m4 float64) {
	n := float64(m.N)
	mu := m.Sum / n
	e1, e2, e3, e4 := mu, m.Sum2/n, m.Sum3/n, m.Sum4/n
	m2 = e2 - e1*e1
	m3 = e3 - 3*e1*e2 + 2*e1*e1*e1
	m4 = e4 - 4*e1*e3 + 6*e1*e1*e2 - 3*e1*e1*e1*e1
	return
}

// Skewness is the population (Fisher-Pearson, biased) skewness g1; 0 when
// undefined (fewer than 3 observations or no spread).
func (m *Moments) Skewness() float64 {
	if m.N < 3 {
		return 0
	}
	m2, m3, _ := m.central()
	if m2 <= 1e-12*max(1, math.Abs(m.Sum2/float64(m.N))) {
		return 0
	}
	return m3 / (m2 * math.Sqrt(m2))
}

// Kurtosis is the population excess kurtosis g2 (0 for a normal
// distribution); 0 when undefined (fewer than 4 observations or no spread).
func (m *Moments) Kurtosis() float64 {
	if m.N < 4 {
		return 0
	}
	m2, _, m4 := m.central()
	if m2 <= 1e-12*max(1, math.Abs(m.Sum2/float64(m.N))) {
		return 0
	}
	return m4/(m2*m2) - 3
}

// DirStats holds the per-direction counters of a flow.
type DirStats struct {
	Packets uint64
	// Bytes is the sum of IP datagram lengths (Packet.IPLen).
	Bytes uint64
	// PayloadBytes is the sum of transport payload lengths.
	PayloadBytes uint64
	// IPHeaderBytes and L4HeaderBytes are the sums of header lengths.
	IPHeaderBytes uint64
	L4HeaderBytes uint64
	// PayloadLen has one observation per packet: its transport payload
	// length in bytes (CICFlowMeter's "packet length").
	PayloadLen Moments
	// IPLen has one observation per packet: its IP datagram length in bytes.
	IPLen Moments
	// IAT has one observation per packet after the first of this direction:
	// the gap to the previous packet of this direction, in nanoseconds.
	IAT Moments
	// FlagCounts counts packets with each TCP flag set, indexed by bit
	// number (FIN=0 ... CWR=7). 64 bits like Packets: a record can hold
	// more than 2^32 packets (2.4 Mpps over the 1800 s active timeout), and
	// sampled records are scaled up by the rate. The kernel's per-record
	// counters are 32 bits and widened on reading (docs/kernel.md).
	FlagCounts [8]uint64
	// InitWindow is the TCP window of the first packet in this direction,
	// -1 if the direction has no TCP packet or the snap length cut that
	// packet's header before the window (unknown, as in CICFlowMeter).
	InitWindow int32
	// MinL4HeaderLen is the smallest transport header seen (bytes).
	MinL4HeaderLen uint16
	// DataPackets counts packets with at least one byte of payload.
	DataPackets uint64
	// First and Last are the timestamps of the first and last packet (ns).
	First, Last int64
	// Bulk accumulates CICFlowMeter-style bulk transfers: runs of at least
	// four data packets in this direction, with no data packet of the other
	// direction in between and no gap over one second.
	BulkCount    uint64
	BulkPackets  uint64
	BulkBytes    uint64
	BulkDuration int64 // ns

	// bulkStart and bulkLast are the current run's first and latest data
	// packet times (bulkLast is the direction's latest data packet's),
	// bulkOn says a run is open: times of 0 and before are times too.
	bulkStart, bulkLast int64
	bulkRunPackets      uint64
	bulkRunBytes        uint64
	bulkOn              bool
}

// Sample is one of the first packets of a flow (the SPLT sequence).
type Sample struct {
	// Offset is the packet's time minus the flow's Start (its earliest
	// packet time, which an older packet in a capture out of time order
	// moves back), in nanoseconds.
	Offset int64
	// Len is the IP datagram length in bytes.
	Len uint32
	// Payload is the transport payload length in bytes.
	Payload uint32
	Dir     Dir
	Flags   uint8
}

// EndReason says why a flow record was emitted.
type EndReason uint8

const (
	EndIdle    EndReason = iota // no packet for the idle timeout
	EndActive                   // the active timeout cut a long flow
	EndFIN                      // both sides sent FIN
	EndRST                      // a side sent RST
	EndEvicted                  // the table was full and this was the oldest flow
	EndFlush                    // end of input or shutdown
)

// String is the reason as the end_reason column and the summary write it.
func (r EndReason) String() string {
	switch r {
	case EndIdle:
		return "idle"
	case EndActive:
		return "active"
	case EndFIN:
		return "fin"
	case EndRST:
		return "rst"
	case EndEvicted:
		return "evicted"
	case EndFlush:
		return "flush"
	}
	return "unknown"
}

// Flow timing constants from CICFlowMeter, kept so our columns mean the
// same as theirs.
const (
	// ActivityTimeout splits a flow into active and idle periods (5 s).
	ActivityTimeout = 5_000_000_000
	// BulkTimeout is the largest gap inside a bulk transfer (1 s).
	BulkTimeout = 1_000_000_000
	// SubflowTimeout is the gap that starts a new subflow (1 s).
	SubflowTimeout = 1_000_000_000
	// BulkMinPackets is the number of data packets that make a bulk.
	BulkMinPackets = 4
)

// Flow is one flow record: everything the features are computed from. The
// pcap source fills it packet by packet with Add; the kernel source fills
// it from the kernel map and ring-buffer samples.
type Flow struct {
	// Samples holds the first packets of the flow, up to the table's
	// sample limit. It is the first field on purpose: the garbage collector
	// scans an object only up to its last pointer, and a table holds
	// millions of flows.
	Samples []Sample
	// ID is unique within a run and increases with the flow's creation.
	ID  uint64
	Key Key
	// FwdIsLo tells which Key endpoint initiated the flow (the sender of
	// the first packet, or of the SYN for TCP).
	FwdIsLo bool
	// Start and End are the timestamps of the first and last packet (ns).
	Start, End int64
	Fwd, Bwd   DirStats
	// IAT has one observation per packet after the first: the gap to the
	// previous packet of either direction (ns).
	IAT Moments
	// Active and Idle are CICFlowMeter's activity periods (ns).
	Active, Idle Moments
	// SubflowCount is the number of subflows (runs of packets with gaps
	// under one second); at least 1.
	SubflowCount uint64
	// WrongFragments counts fragments with impossible offsets or lengths;
	// 64 bits like the packet counts it is part of.
	WrongFragments uint64
	// ICMPType and ICMPCode are those of the flow's first packet (ICMP and
	// ICMPv6 flows), so the service can be told (echo, unreachable, ...).
	ICMPType, ICMPCode uint8
	// EndReason says why the record was emitted.
	EndReason EndReason
	// Sampled is the 1-in-N packet sampling rate that produced the record
	// (0 or 1: every packet); counters are already scaled.
	Sampled uint32
	// Partial marks a record cut by the active timeout or eviction: the
	// flow may continue in a later record with the same key.
	Partial bool
	// FromCounters marks a kernel record built from the kernel's counters
	// because its samples did not hold every packet: what only packet
	// sequences give (skewness and kurtosis, bulk transfers) then
	// describes the packets of its samples, so a consumer comparing it
	// with a replay must know (docs/kernel.md). The pcap path never sets it.
	FromCounters bool

	activeStart, activeEnd int64
	sfLast                 int64
}

// Dir returns the per-direction stats for d.
func (f *Flow) Dir(d Dir) *DirStats {
	if d == Fwd {
		return &f.Fwd
	}
	return &f.Bwd
}

// Src returns the initiator endpoint, Dst the responder.
func (f *Flow) Src() Endpoint {
	if f.FwdIsLo {
		return f.Key.Lo()
	}
	return f.Key.Hi()
}

// Dst returns the responder endpoint.
func (f *Flow) Dst() Endpoint {
	if f.FwdIsLo {
		return f.Key.Hi()
	}
	return f.Key.Lo()
}

// Duration is End - Start in nanoseconds.
func (f *Flow) Duration() int64 { return f.End - f.Start }

// Packets is the total packet count of both directions.
func (f *Flow) Packets() uint64 { return f.Fwd.Packets + f.Bwd.Packets }

// Bytes is the total IP byte count of both directions.
func (f *Flow) Bytes() uint64 { return f.Fwd.Bytes + f.Bwd.Bytes }

// reset prepares f for reuse as a new flow, keeping the Samples capacity.
func (f *Flow) reset(id uint64, k Key, fwdIsLo bool, ts int64) {
	s := f.Samples[:0]
	*f = Flow{ID: id, Key: k, FwdIsLo: fwdIsLo, Start: ts, End: ts, Samples: s, SubflowCount: 1}
	f.Fwd.InitWindow, f.Bwd.InitWindow = -1, -1
	f.activeStart, f.activeEnd, f.sfLast = ts, ts, ts
}

// DirOf returns the direction of a packet within this flow.
func (f *Flow) DirOf(p *Packet) Dir {
	if p.SrcIsLo == f.FwdIsLo {
		return Fwd
	}
	return Bwd
}

// Add accounts one packet to the flow; maxSamples bounds Samples.
func (f *Flow) Add(p *Packet, maxSamples int) {
	ts := p.Timestamp
	d := f.DirOf(p)
	ds, other := &f.Fwd, &f.Bwd
	if d == Bwd {
		ds, other = &f.Bwd, &f.Fwd
	}
	if f.Packets() > 0 {
		gap := ts - f.End
		if gap < 0 { // out-of-order capture: keep gaps non-negative
			gap = 0
		}
		f.IAT.Add(float64(gap))
		// Active/idle periods as CICFlowMeter's updateActiveIdleTime.
		if ts-f.activeEnd > ActivityTimeout {
			if f.activeEnd-f.activeStart > 0 {
				f.Active.Add(float64(f.activeEnd - f.activeStart))
			}
			f.Idle.Add(float64(ts - f.activeEnd))
			f.activeStart, f.activeEnd = ts, ts
		} else if ts > f.activeEnd {
			f.activeEnd = ts
		}
		if ts-f.sfLast > SubflowTimeout {
			f.SubflowCount++
		}
	}
	if ts > f.sfLast {
		f.sfLast = ts
	}
	if ts > f.End {
		f.End = ts
	}
	if ts < f.Start { // unordered file: keep Start the earliest
		// Sample offsets are from Start: move the earlier samples' too,
		// or they would be from a later time than the samples after this.
		for i := range f.Samples {
			f.Samples[i].Offset += f.Start - ts
		}
		f.Start = ts
	}

	if f.Packets() == 0 {
		f.ICMPType, f.ICMPCode = p.ICMPType, p.ICMPCode
	}
	if ds.Packets == 0 {
		ds.First = ts
		if f.Key.Proto == 6 && p.L4HeaderLen > 0 && !p.TCPWindowCut {
			ds.InitWindow = int32(p.TCPWindow)
		}
		ds.MinL4HeaderLen = p.L4HeaderLen
	} else {
		gap := ts - ds.Last
		if gap < 0 {
			gap = 0
		}
		ds.IAT.Add(float64(gap))
		if p.L4HeaderLen < ds.MinL4HeaderLen {
			ds.MinL4HeaderLen = p.L4HeaderLen
		}
	}
	if ts > ds.Last || ds.Packets == 0 {
		ds.Last = ts
	}
	ds.Packets++
	ds.Bytes += uint64(p.IPLen)
	ds.PayloadBytes += uint64(p.PayloadLen)
	ds.IPHeaderBytes += uint64(p.IPHeaderLen)
	ds.L4HeaderBytes += uint64(p.L4HeaderLen)
	ds.PayloadLen.Add(float64(p.PayloadLen))
	ds.IPLen.Add(float64(p.IPLen))
	if fl := p.TCPFlags; fl != 0 {
		for b := 0; b < 8; b++ {
			if fl&(1<<b) != 0 {
				ds.FlagCounts[b]++
			}
		}
	}
	if p.PayloadLen > 0 {
		ds.DataPackets++
		ds.addBulk(ts, uint64(p.PayloadLen), other)
	}
	if p.WrongFragment {
		f.WrongFragments++
	}
	if len(f.Samples) < maxSamples {
		f.Samples = append(f.Samples, Sample{Offset: ts - f.Start, Len: p.IPLen, Payload: p.PayloadLen, Dir: d, Flags: p.TCPFlags})
	}
}

// addBulk follows CICFlowMeter's updateForwardBulk/updateBackwardBulk,
// with times of any sign (a run starting at time 0 was no run, and before
// 1970 every packet started one) and out of order (a packet older than
// the run's latest adds no time, as it makes a gap of 0).
func (ds *DirStats) addBulk(ts int64, size uint64, other *DirStats) {
	if other.DataPackets > 0 && other.bulkLast > ds.bulkStart {
		ds.bulkOn = false // the other direction sent data since the run began
	}
	if !ds.bulkOn || ts-ds.bulkLast > BulkTimeout {
		ds.bulkStart, ds.bulkLast, ds.bulkOn = ts, ts, true
		ds.bulkRunPackets, ds.bulkRunBytes = 1, size
		return
	}
	ds.bulkRunPackets++
	ds.bulkRunBytes += size
	switch {
	case ds.bulkRunPackets == BulkMinPackets:
		ds.BulkCount++
		ds.BulkPackets += ds.bulkRunPackets
		ds.BulkBytes += ds.bulkRunBytes
		ds.BulkDuration += max(ts, ds.bulkLast) - ds.bulkStart
	case ds.bulkRunPackets > BulkMinPackets:
		ds.BulkPackets++
		ds.BulkBytes += size
		ds.BulkDuration += max(ts-ds.bulkLast, 0)
	}
	ds.bulkLast = max(ds.bulkLast, ts)
}

// finish closes the last active period, as CICFlowMeter's endActiveIdleTime.
func (f *Flow) finish(reason EndReason) {
	if f.activeEnd-f.activeStart > 0 {
		f.Active.Add(float64(f.activeEnd - f.activeStart))
	}
	f.activeStart = f.activeEnd
	f.EndReason = reason
	f.Partial = reason == EndActive || reason == EndEvicted
}

// Finish closes the record for emission; sources other than the flow
// table (the kernel source) call it once the record is complete.
func (f *Flow) Finish(reason EndReason) { f.finish(reason) }
