//go:build linux

package collector

import (
	"cmp"
	"math"
	"slices"

	"github.com/flowhawk/flowhawk/bpf"
)

// toFlow turns a kernel flow entry and the ring-buffer samples of the same
// flow into a Flow record.
//
// When the kernel sampled every packet of the flow (flows of at most
// Samples packets, no ring-buffer loss, no 1-in-N sampling), the record is
// rebuilt packet by packet with Flow.Add, exactly as the pcap path does.
// Otherwise counts, sums, sums of squares, extremes, flags, windows and
// timestamps come from the kernel counters (exact), and what the kernel
// does not keep is estimated from the samples (see docs/kernel.md): the
// third and fourth power sums (skewness and kurtosis of the samples),
// active/idle periods and subflows (from the sample times, then the gaps
// up to the flow's last packet as the kernel's largest gap bounds them),
// and bulk (from the sample times). IAT sums of squares are kept in 1.024 us units by
// the kernel (dirIATMoments, iatMoments).
func (s *KernelSource) toFlow(key Key, v *bpf.FlowhawkFlowValue, reason EndReason) *Flow {
	var fins [2]uint8 // FINs of the cut records this one goes on with
	if c, ok := s.continued[key]; ok {
		// This record goes on with one the active timeout cut: the same
		// direction, whoever sent first, as in Table.
		delete(s.continued, key)
		if v.First > c.last {
			v.Initiator = c.initiator
			fins = c.fin
		}
	}
	if reason == EndActive {
		if s.continued == nil {
			s.continued = make(map[Key]cutFlow)
		}
		s.continued[key] = cutFlow{initiator: v.Initiator, last: v.Last, fin: [2]uint8{fins[0] | v.Dir[0].Fin, fins[1] | v.Dir[1].Fin}}
	}
	samples := s.takeSamples(key, v.First)
	s.nextID++
	fwdIsLo := v.Initiator == 0
	total := v.Dir[0].Packets + v.Dir[1].Packets
	rate := uint64(s.cfg.SampleRate)
	if rate > 1 {
		fwdIsLo = sampledInitiator(&key, v, fwdIsLo)
	}

	f := s.newFlow()
	if rate <= 1 && v.SamplesLost == 0 && segmentCount(samples) == total && total > 0 {
		s.replay(f, key, fwdIsLo, samples, s.cfg.Samples, 0)
		if f.Fwd.Packets+f.Bwd.Packets == total {
			f.ID = s.nextID
			f.finish(reason)
			s.countFlow()
			return f
		}
		*f = Flow{} // samples and counters disagree: use the counters
	}

	// Counter path. Replay the samples into a scratch record for what only
	// packet sequences give (samples, active/idle, subflows, bulk).
	f.ID, f.Key, f.FwdIsLo, f.Start, f.End = s.nextID, key, fwdIsLo, s.wall(v.First), s.wall(v.Last)
	f.FromCounters = true
	scratch := &s.scratch
	if len(samples) > 0 {
		// The first --samples wire packets, as the pcap path's table
		// would have sampled them (docs/kernel.md).
		s.replay(scratch, key, fwdIsLo, samples, s.cfg.Samples, s.cfg.Samples)
	} else {
		// No samples (ring buffer full, or drained before they were read):
		// the shape moments stay empty and activity spans first to last.
		scratch.Samples = scratch.Samples[:0]
		scratch.IAT, scratch.Active, scratch.Idle = Moments{}, Moments{}, Moments{}
		scratch.Fwd, scratch.Bwd = DirStats{}, DirStats{}
		scratch.SubflowCount = 1
		scratch.activeStart, scratch.activeEnd, scratch.sfLast = f.Start, f.Start, f.Start
	}
	fi, bi := 0, 1
	if !fwdIsLo {
		fi, bi = 1, 0
	}
	s.dirFromKernel(&f.Fwd, &v.Dir[fi], scratch, Fwd)
	s.dirFromKernel(&f.Bwd, &v.Dir[bi], scratch, Bwd)
	if total > 1 {
		f.IAT = flowIATMoments(v)
		setHigher(&f.IAT, &scratch.IAT)
	}
	f.WrongFragments = uint64(v.WrongFrags)
	// The samples are the first packets only if the ring buffer lost none
	// of them: the survivors of a lost SYN would pass for packets 1, 2, ...
	// (the SPLT columns' sizes, directions and gaps), and a record states
	// no packets rather than the wrong ones.
	if len(scratch.Samples) > 0 && v.SamplesLost == 0 {
		f.Samples = append(f.Samples[:0], scratch.Samples...)
	}
	// The first packet's ICMP type, which names the service (eco_i): the
	// kernel keeps it in the entry, since the ring buffer may have lost
	// that packet's sample (or every sample, in a flood).
	f.ICMPType, f.ICMPCode = v.IcmpType, v.IcmpCode

	// Extend the sample-based activity to the flow's last packet, over
	// the gaps after the samples (with no samples, after the first packet).
	var gaps uint64
	if seen := scratch.Fwd.Packets + scratch.Bwd.Packets; seen == 0 && total > 0 {
		gaps = total - 1
	} else if seen < total {
		gaps = total - seen
	}
	var sampleMax int64
	if scratch.IAT.N > 0 {
		sampleMax = int64(scratch.IAT.Max)
	}
	scratch.extendTo(f.End, gaps, int64(v.IatMax), sampleMax)
	f.Active, f.Idle, f.SubflowCount = scratch.Active, scratch.Idle, scratch.SubflowCount
	f.activeStart, f.activeEnd = scratch.activeStart, scratch.activeEnd
	f.Fwd.BulkCount, f.Fwd.BulkPackets, f.Fwd.BulkBytes, f.Fwd.BulkDuration = scratch.Fwd.BulkCount, scratch.Fwd.BulkPackets, scratch.Fwd.BulkBytes, scratch.Fwd.BulkDuration
	f.Bwd.BulkCount, f.Bwd.BulkPackets, f.Bwd.BulkBytes, f.Bwd.BulkDuration = scratch.Bwd.BulkCount, scratch.Bwd.BulkPackets, scratch.Bwd.BulkBytes, scratch.Bwd.BulkDuration
	if rate > 1 {
		f.scale(rate)
		f.Sampled = uint32(rate)
	}
	f.finish(reason)
	s.countFlow()
	return f
}

// UseFlowPool makes the source build its records from pool, where the
// consumer hands them back when done (pipeline: the flow table's Pool), so
// a long capture reuses records instead of allocating one per flow. Call
// it before Run.
func (s *KernelSource) UseFlowPool(pool *FlowPool) { s.pool = pool }

// newFlow returns a zeroed record: from the pool when one is set, else
// from slabs of flowSlab (one allocation per slab instead of per flow; a
// slab is freed once all its records are).
func (s *KernelSource) newFlow() *Flow {
	if s.pool != nil {
		return s.pool.Get(s.cfg.Samples)
	}
	if len(s.slab) == 0 {
		s.slab = make([]Flow, flowSlab)
	}
	f := &s.slab[0]
	s.slab = s.slab[1:]
	return f
}

const flowSlab = 64

func (s *KernelSource) countFlow() {
	s.mu.Lock()
	s.stats.Flows++
	s.mu.Unlock()
}

// takeSamples removes and returns the samples of the flow incarnation that
// started at first (monotonic ns), sorted by time; older incarnations'
// leftovers, read after their own record was made, are dropped and
// counted in SamplesLate, newer ones kept.
func (s *KernelSource) takeSamples(key Key, first uint64) []pendingSample {
	l, ok := s.pending[key]
	if !ok {
		return nil
	}
	var mine []pendingSample
	rest := l[:0]
	late := 0
	for _, ev := range l {
		switch {
		case ev.FlowFirst == first:
			mine = append(mine, ev)
		case ev.FlowFirst > first:
			rest = append(rest, ev)
		default:
			late++
		}
	}
	s.countLate(late)
	if len(rest) == 0 {
		delete(s.pending, key)
	} else {
		s.pending[key] = rest
	}
	slices.SortStableFunc(mine, func(a, b pendingSample) int {
		switch {
		case a.Ts < b.Ts:
			return -1
		case a.Ts > b.Ts:
			return 1
		}
		return 0
	})
	return mine
}

// pendingSample is what a first-packet sample from the ring buffer keeps
// while it waits for its flow's record: the fields Flow.Add reads, and the
// flow incarnation it belongs to. It is 40 bytes where the event is 104
// (the key, which is the pending map's key, sequence numbers, TTL), and
// full kernel maps can hold (MaxFlows + MaxFlows6) x Samples of them.
type pendingSample struct {
	Ts, FlowFirst      uint64 // monotonic ns
	IPLen, PayloadLen  uint32
	IPHdrLen, L4HdrLen uint16
	Window             uint16
	Segs, MSS          uint16 // a GSO/GRO packet's wire segments and their payload size; 0 or 1 segment otherwise
	Side, TCPFlags     uint8
	Flags              uint8 // pktF* bits
	ICMPType, ICMPCode uint8
}

func pendingOf(ev *bpf.FlowhawkPktEvent) pendingSample {
	return pendingSample{Ts: ev.Ts, FlowFirst: ev.FlowFirst, IPLen: ev.IpLen, PayloadLen: ev.PayloadLen,
		IPHdrLen: ev.IpHdrLen, L4HdrLen: ev.L4HdrLen, Window: ev.Window, Segs: ev.GsoSegs, MSS: ev.GsoSize,
		Side: ev.Side, TCPFlags: ev.TcpFlags, Flags: ev.Flags, ICMPType: ev.IcmpType, ICMPCode: ev.IcmpCode}
}

// segments is how many wire packets the sample stands for: the kernel
// accounts a GSO/GRO packet as its segments (bpf/flowhawk.c, account).
func (ps *pendingSample) segments() int {
	if ps.Segs > 1 {
		return int(ps.Segs)
	}
	return 1
}

// segmentCount is the number of wire packets samples stand for.
func segmentCount(samples []pendingSample) uint64 {
	var n uint64
	for i := range samples {
		n += uint64(samples[i].segments())
	}
	return n
}

// cutSegment makes p the i-th of the n wire segments of the GSO/GRO
// packet w, as segmentation cuts them and as the kernel accounts them:
// mss payload bytes each but the last, which has the rest, the headers of
// w, FIN and PSH on the last segment only, CWR on the first only, sequence
// numbers advancing by the payload before.
func cutSegment(p, w *Packet, i, n int, mss uint32) {
	*p = *w
	hdr := uint32(w.IPHeaderLen) + uint32(w.L4HeaderLen)
	pl := mss
	if i == n-1 {
		pl = w.PayloadLen - uint32(n-1)*mss
	}
	p.PayloadLen, p.IPLen = pl, pl+hdr
	if w.WireLen >= w.IPLen {
		p.WireLen = w.WireLen - w.IPLen + p.IPLen
		p.CapLen = p.WireLen
	}
	if i < n-1 {
		p.TCPFlags &^= FlagFIN | FlagPSH
	}
	if i > 0 {
		p.TCPFlags &^= FlagCWR
		p.TCPSeq = w.TCPSeq + uint32(i)*mss
		p.Payload = nil
	}
}

// packetOfSample fills p with what Flow.Add reads, as packetOf does from
// the whole event.
func (s *KernelSource) packetOfSample(p *Packet, ps *pendingSample) {
	*p = Packet{
		Timestamp:     s.wall(ps.Ts),
		SrcIsLo:       ps.Side == 0,
		IPLen:         ps.IPLen,
		IPHeaderLen:   ps.IPHdrLen,
		L4HeaderLen:   ps.L4HdrLen,
		PayloadLen:    ps.PayloadLen,
		TCPFlags:      ps.TCPFlags,
		TCPWindow:     ps.Window,
		ICMPType:      ps.ICMPType,
		ICMPCode:      ps.ICMPCode,
		WrongFragment: ps.Flags&pktFWrongFrag != 0,
	}
}

// replay rebuilds f from samples with Flow.Add.
// With maxPackets above 0 it adds only the first maxPackets wire packets:
// a GSO/GRO sample stands for several segments, and the counter path's
// sample-derived columns describe the flow's first N packets, not however
// many the stack happened to batch into its first N samples.
func (s *KernelSource) replay(f *Flow, key Key, fwdIsLo bool, samples []pendingSample, maxSamples, maxPackets int) {
	f.reset(0, key, fwdIsLo, s.wall(samples[0].Ts))
	var p, seg Packet
	added := 0
	for i := range samples {
		s.packetOfSample(&p, &samples[i])
		n := samples[i].segments()
		for j := range n {
			if maxPackets > 0 && added == maxPackets {
				return
			}
			added++
			if n == 1 {
				f.Add(&p, maxSamples)
				continue
			}
			cutSegment(&seg, &p, j, n, uint32(samples[i].MSS))
			f.Add(&seg, maxSamples)
		}
	}
}

func (s *KernelSource) dirFromKernel(ds *DirStats, k *bpf.FlowhawkDirStats, scratch *Flow, d Dir) {
	sd := scratch.Dir(d)
	ds.InitWindow = -1
	if k.Packets == 0 {
		return
	}
	ds.Packets = k.Packets
	ds.Bytes = k.Bytes
	ds.PayloadBytes = k.PayloadBytes
	ds.IPHeaderBytes = k.IpHdrBytes
	ds.L4HeaderBytes = k.L4HdrBytes
	ds.DataPackets = k.DataPackets
	ds.First, ds.Last = s.wall(k.First), s.wall(k.Last)
	// The kernel counts flags in 32 bits per record direction (its struct
	// layout, shared with the BPF program): they wrap after 2^32 packets
	// with a flag, which a direction reaches only at 2.4 Mpps for the
	// whole active timeout. Widened here so that scale cannot wrap them.
	for i, n := range k.FlagCounts {
		ds.FlagCounts[i] = uint64(n)
	}
	ds.InitWindow = k.InitWindow
	ds.MinL4HeaderLen = k.MinL4Hdr
	ds.PayloadLen = Moments{N: k.Packets, Min: float64(k.PayloadMin), Max: float64(k.PayloadMax),
		Sum: float64(k.PayloadBytes), Sum2: float64(k.PayloadSq)}
	setHigher(&ds.PayloadLen, &sd.PayloadLen)
	ds.IPLen = Moments{N: k.Packets, Min: float64(k.IplenMin), Max: float64(k.IplenMax),
		Sum: float64(k.Bytes), Sum2: float64(k.IplenSq)}
	setHigher(&ds.IPLen, &sd.IPLen)
	if k.Packets > 1 {
		ds.IAT = dirIATMoments(k.Packets-1, k.Last-k.First, k.IatRef, k.IatSq, k.IatMin, k.IatMax)
		setHigher(&ds.IAT, &sd.IAT)
	}
}

// flowIATMoments builds the flow-level IAT moments (gaps between the
// flow's packets, either direction) from what the kernel keeps per
// direction for the gaps that direction's packets end: their sum, their
// first (ref) and the sum of squares around it, as dirIATMoments reads a
// direction's own gaps. Every packet but the flow's first ends one gap.
// The two directions' moments are merged, which re-centres them.
func flowIATMoments(v *bpf.FlowhawkFlowValue) Moments {
	var m Moments
	for side := range v.Dir {
		d := &v.Dir[side]
		n := d.Packets
		if uint8(side) == v.FirstSide && n > 0 {
			n--
		}
		if n == 0 {
			continue
		}
		dm := dirIATMoments(n, d.FlowIatSum, d.FlowIatRef, d.FlowIatSq, 0, 0)
		m.Merge(&dm)
	}
	m.Min, m.Max = float64(v.IatMin), float64(v.IatMax)
	return m
}

// sampledInitiator picks the initiator of a sampled flow. The kernel takes
// the side of the first accounted packet (the SYN's, or the other side of
// a SYN-ACK); under 1-in-N sampling the SYN and SYN-ACK are usually
// sampled out and that packet is any, so a TCP flow without a SYN seen is
// turned the way the ports say: a well-known port (below 1024) against
// another is the responder, else an ephemeral one (32768 and up) against
// a lower one is the initiator. Other flows keep the kernel's choice.
func sampledInitiator(k *Key, v *bpf.FlowhawkFlowValue, fwdIsLo bool) bool {
	const syn = 1
	if k.Proto != 6 || v.Dir[0].FlagCounts[syn] > 0 || v.Dir[1].FlagCounts[syn] > 0 { // not summed: u32
		return fwdIsLo
	}
	lo, hi := k.PortLo, k.PortHi
	switch {
	case lo < 1024 && hi >= 1024:
		return false // the lo side serves: hi initiated
	case hi < 1024 && lo >= 1024:
		return true
	case hi >= 32768 && lo < 32768:
		return false // hi's port is ephemeral: hi initiated
	case lo >= 32768 && hi < 32768:
		return true
	}
	return fwdIsLo
}

// dirIATMoments builds a direction's IAT moments from the kernel's
// figures: n gaps adding up to sum (last - first), and the sum of squares
// of their distances from the first gap, ref, in 1.024 us units rounded to
// the nearest (flow.h). Moments around ref are what Moments.Add builds
// from the same gaps. The rounding errors are centred, so no correction:
// what stays is at most about 0.3 us of bias on the std, plus noise of
// about 0.3 us / sqrt(n), whatever the size of the gaps.
func dirIATMoments(n, sum, ref, sq, lo, hi uint64) Moments {
	nf, r := float64(n), float64(ref)
	return Moments{N: n, Min: float64(lo), Max: float64(hi), Shift: r, Sum: float64(sum) - nf*r, Sum2: float64(sq) * (1 << 20)}
}

// setHigher fills m.Sum3 and m.Sum4 so that m's skewness and kurtosis are
// those of the sample moments smp (0 where smp has too few observations),
// keeping m's exact count, mean and variance.
func setHigher(m, smp *Moments) {
	if m.N == 0 {
		return
	}
	var g1, g2 float64
	if smp.N >= 3 {
		g1, g2 = smp.Skewness(), smp.Kurtosis()
	}
	n := float64(m.N)
	e1, e2 := m.Sum/n, m.Sum2/n
	m2 := max(e2-e1*e1, 0) // the builtin: math.Max is a call on amd64
	m3 := g1 * m2 * math.Sqrt(m2)
	m4 := (g2 + 3) * m2 * m2
	e3 := m3 + 3*e1*e2 - 2*e1*e1*e1
	e4 := m4 + 4*e1*e3 - 6*e1*e1*e2 + 3*e1*e1*e1*e1
	m.Sum3, m.Sum4 = n*e3, n*e4
}

// extendTo accounts the activity clock up to ts, the flow's last packet,
// without adding packets: gaps more gaps followed the last sample (the
// kernel's count of packets after it), adding up to ts minus its time, and
// none of the flow's gaps was longer than maxGap (the kernel's flow IAT
// max); sampleMax is the longest gap between the samples. How many of the
// unseen gaps are over the subflow (1 s) and activity (5 s) timeouts
// follows from those bounds (gapsOver): none for a steady flow, one per
// gap for a beacon. Idle periods found that way are taken to be of equal
// length, right after the samples, and the rest of the time active.
func (f *Flow) extendTo(ts int64, gaps uint64, maxGap, sampleMax int64) {
	if ts <= f.activeEnd {
		return
	}
	if k := gapsOver(ActivityTimeout, ts-f.activeEnd, gaps, maxGap, sampleMax); k > 0 {
		if f.activeEnd-f.activeStart > 0 {
			f.Active.Add(float64(f.activeEnd - f.activeStart))
		}
		idle := min(maxGap, (ts-f.activeEnd)/k)
		f.Idle.Merge(&Moments{N: uint64(k), Min: float64(idle), Max: float64(idle), Shift: float64(idle)})
		active := ts - f.activeEnd - k*idle // after the idle periods
		if active < k {
			active = 0 // what the division rounded off
		}
		f.activeStart, f.activeEnd = ts-active, ts
	} else {
		f.activeEnd = ts
	}
	f.SubflowCount += uint64(gapsOver(SubflowTimeout, ts-f.sfLast, gaps, maxGap, sampleMax))
	f.sfLast = ts
}

// gapsOver is the least number of gaps over limit that n gaps adding up
// to span can hold when none is longer than maxGap: if all but k were at
// most limit and those k were maxGap, span <= (n-k)*limit + k*maxGap.
// When maxGap is longer than every gap between the samples (sampleMax),
// the longest gap came after them: at least one. The count is exact for
// steady flows and beacons, a lower bound otherwise.
func gapsOver(limit, span int64, n uint64, maxGap, sampleMax int64) int64 {
	if n == 0 || span <= limit || maxGap <= limit {
		return 0
	}
	var k int64
	if rest := span - int64(n)*limit; rest > 0 {
		k = (rest + maxGap - limit - 1) / (maxGap - limit)
	}
	if k == 0 && maxGap > sampleMax && maxGap <= span {
		k = 1
	}
	return min(k, int64(n))
}

// scale multiplies the counters of a 1-in-rate sampled record back up.
func (f *Flow) scale(rate uint64) {
	r := float64(rate)
	f.WrongFragments *= rate
	for _, ds := range []*DirStats{&f.Fwd, &f.Bwd} {
		ds.Packets *= rate
		ds.Bytes *= rate
		ds.PayloadBytes *= rate
		ds.IPHeaderBytes *= rate
		ds.L4HeaderBytes *= rate
		ds.DataPackets *= rate
		for i := range ds.FlagCounts {
			ds.FlagCounts[i] *= rate
		}
		for _, m := range []*Moments{&ds.PayloadLen, &ds.IPLen} {
			m.N *= rate
			m.Sum, m.Sum2, m.Sum3, m.Sum4 = m.Sum*r, m.Sum2*r, m.Sum3*r, m.Sum4*r
		}
	}
}

// flowAt is a drained record beside its start and drain position, so the
// sort compares values in one slice instead of following a pointer into a
// (cache-cold) record per comparison.
type flowAt struct {
	start int64
	seq   int
	f     *Flow
}

// sortByStart orders fl by start, ties in drain order: an unstable sort on
// (start, seq) gives the stable order without the stable sort's rotations
// (about a tenth of a full map's drain went to them).
func sortByStart(fl []flowAt) {
	slices.SortFunc(fl, func(a, b flowAt) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}
