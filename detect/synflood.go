package detect

import (
	"fmt"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// synFlood counts, per destination host and tumbling window, the SYNs it
// received, the handshakes the initiators completed (handshakes), the
// SYN+ACKs it answered with, the distinct sources (spoofed floods have
// thousands) and the heaviest sources and ports. A window with at least
// SynFloodSYNs SYNs of which at least SynFloodHalfOpen never completed
// their handshake raises synflood, unless the SYNs came from fewer than
// 100 sources and spread over many ports (that is a port scan).
type synFlood struct {
	e     *Engine
	win   window
	dsts  *bounded[addr, floodState]
	limit int // distinct sources kept per destination
	// srcs bounds the distinct sources kept over all destinations in a
	// window: a spoofed flood spread over many destinations would
	// otherwise keep up to limit sources for each of MaxHosts
	// destinations. Beyond it the sets stop growing and say so
	// (sources_saturated).
	srcs budget
}

type floodState struct {
	syn, synack, rstIn uint64
	completed          uint64 // handshakes completed by the initiator's ACK
	first, last        int64
	keys               sampleKeys
	srcs               distinct
	top                topK
	ports              [4]uint16
	portN, portErr     [4]uint64 // space-saving counts and their overestimates
}

func newSynFlood(e *Engine) *synFlood {
	d := &synFlood{
		e:     e,
		win:   window{size: e.cfg.SynFloodWindow.Nanoseconds()},
		dsts:  newBounded[addr](e.cfg.MaxHosts, func(s *floodState) uint64 { return s.syn }),
		limit: 1 << 16,
		// Two destinations' full sets: enough for the floods of a window,
		// 131,072 entries at most whatever --detect-max-hosts.
		srcs: budget{max: 1 << 17},
	}
	// An evicted destination's sources are no longer kept: they give
	// their share of the budget back.
	d.dsts.evicted = func(v *floodState) { d.srcs.giveBack(&v.srcs) }
	return d
}

func (d *synFlood) packet(p *collector.Packet) {
	src, dst, _, dport := ends(p)
	switch p.TCPFlags & (collector.FlagSYN | collector.FlagACK | collector.FlagRST) {
	case collector.FlagSYN:
		s := d.dsts.upsert(dst)
		if s.first == 0 || p.Timestamp < s.first {
			s.first = p.Timestamp
		}
		s.last = max(s.last, p.Timestamp)
		s.syn++
		d.srcs.add(&s.srcs, hash64(src), d.limit)
		s.keys.add(&p.Key)
		s.top.add(src)
		s.addPort(dport)
	case collector.FlagSYN | collector.FlagACK:
		if s := d.dsts.get(src); s != nil {
			s.synack++
		}
	case collector.FlagRST, collector.FlagRST | collector.FlagACK:
		if s := d.dsts.get(dst); s != nil {
			s.rstIn++
		}
	}
}

// completed counts a handshake to p's destination that its initiator
// completed.
func (d *synFlood) completed(p *collector.Packet) {
	_, dst, _, _ := ends(p)
	if s := d.dsts.get(dst); s != nil {
		s.completed++
	}
}

// addPort counts a destination port in the space-saving top 4.
func (s *floodState) addPort(port uint16) {
	lo := 0
	for i := range s.ports {
		if s.portN[i] == 0 || s.ports[i] == port {
			s.ports[i] = port
			s.portN[i]++
			return
		}
		if s.portN[i] < s.portN[lo] {
			lo = i
		}
	}
	s.ports[lo] = port
	s.portErr[lo] = s.portN[lo]
	s.portN[lo]++
}

func (d *synFlood) tick(now int64, final bool) {
	if !d.win.roll(now) && !final {
		return
	}
	c := &d.e.cfg
	var out []*Alert
	for dst, s := range d.dsts.m {
		if s.syn < uint64(c.SynFloodSYNs) {
			continue
		}
		done := s.completed
		if d.e.hs == nil { // sampled packets: answers stand for completions
			done = s.synack
		}
		half := s.syn - min(done, s.syn)
		hr := ratio(half, s.syn)
		if hr < c.SynFloodHalfOpen {
			continue
		}
		// One source spreading its SYNs over many ports is a port scan,
		// not a flood: a flood hits a few ports or comes from many sources.
		var topPorts uint64
		for i, n := range s.portN {
			topPorts += n - s.portErr[i] // guaranteed counts
		}
		srcs := s.srcs.count()
		if ratio(topPorts, s.syn) < 0.5 && srcs < 100 && !s.srcs.sat {
			continue
		}
		a := &Alert{
			Time: s.last, First: s.first, Last: s.last, Detector: SynFlood, Rule: "synflood",
			Severity: SevHigh, Dst: toNetip(dst), Proto: 6,
		}
		if s.syn >= 10*uint64(c.SynFloodSYNs) {
			a.Severity = SevCritical
		}
		top := s.top.sorted(5, 2)
		for i := 0; i < s.top.n; i++ {
			if s.top.guaranteed(i)*2 > s.syn {
				a.Src = toNetip(s.top.keys[i]) // one source sent most SYNs
			}
		}
		var ports []map[string]uint64
		best := 0
		for i := range s.ports {
			if s.portN[i] > 0 {
				ports = append(ports, map[string]uint64{"port": uint64(s.ports[i]), "syn": s.portN[i] - s.portErr[i]})
				if s.portN[i] > s.portN[best] {
					best = i
				}
			}
		}
		a.DstPort = s.ports[best]
		// The rate while the SYNs came, not over the whole window: a
		// flood of 9,639 SYNs in 0.44 s was "720/s" over 10 s.
		span := max(s.last-s.first, int64(time.Millisecond))
		rate := float64(s.syn) / (float64(span) / 1e9)
		a.Message = fmt.Sprintf("%d SYNs to %s (%.0f/s, %.0f%% half-open) from %d sources", s.syn, a.Dst, rate, 100*hr, srcs)
		a.Evidence = map[string]any{
			"window_s": c.SynFloodWindow.Seconds(), "syn": s.syn, "synack_out": s.synack, "completed": s.completed, "rst_in": s.rstIn,
			"syn_per_s": round3(rate), "syn_span_s": round3(float64(span) / 1e9), "half_open_ratio": round3(hr), "distinct_sources": srcs,
			"sources_saturated": s.srcs.sat, "top_sources": top, "ports": ports,
		}
		a.cause = a.Dst.String()
		a.keys = s.keys.slice()
		out = append(out, a)
	}
	d.dsts.reset()
	d.srcs.used = 0
	d.e.raiseAll(out)
}
