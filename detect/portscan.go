package detect

import (
	"fmt"

	"github.com/flowhawk/flowhawk/collector"
)

// portScan tracks, per source host and tumbling window, the distinct
// destination ports it probed (TCP SYN or UDP), the distinct hosts it sent
// SYNs or ICMP echo requests to, and how its SYNs were answered. At the end of a window it
// raises portscan.vertical (many ports), portscan.sweep (many hosts, SYNs
// mostly unanswered, or only pings) or portscan.halfopen (many SYNs, almost all left
// half-open: answered by RST, by nothing, or by SYN+ACK that the source
// reset instead of completing, as nmap -sS does).
type portScan struct {
	e     *Engine
	win   window
	hosts *bounded[addr, scanState]
	limit int // cap of the distinct sets
	// vals bounds the values of all hosts' distinct sets in a window.
	vals budget
	// seen is a bitset of hashed sources that probed once: a source gets
	// full state only from its second probe, so a spoofed flood (one SYN
	// per random source) costs one bit, not a map entry and an eviction
	// per packet. It is cleared when an eighth of its bits are set (so
	// under 12.5 % of first probes are wrongly admitted) and at each
	// window. The first probe of a real scanner is lost from its counts
	// (one port of hundreds).
	seen    [1 << 14]uint64
	seenSet int
	// contacted holds hashes of the UDP services (address, port) that were
	// sent to, direct-mapped: a packet from one of them is a reply, not a
	// probe, whatever its ports (a WireGuard server on 51820 answers
	// clients on lower ephemeral ports). A collision only loses a reply's
	// recognition, which the port rule below still catches for low ports.
	contacted [1 << 16]uint64
}

// serviceHash is the hash of a UDP service, an address and a port.
func serviceHash(a addr, port uint16) uint64 {
	h := hash64(a) ^ (uint64(port)+1)*0x9E3779B97F4A7C15
	h ^= h >> 32
	return h | 1 // never 0, the empty slot
}

type scanState struct {
	ports, dsts   distinct
	syn, synack   uint64
	completed     uint64 // handshakes this source completed with its ACK
	rstIn, rstOut uint64
	udp, echo     uint64
	first, last   int64
	lastDst       addr
	lastPort      uint16
	keys          sampleKeys
	// udpDsts are the hosts of UDP probes, apart from dsts, which the TCP
	// and ping sweep rules read.
	udpDsts distinct
	// answered are the hosts that sent the source a SYN+ACK: a listener
	// left without an answer sends its SYN+ACK again (5 times by Linux's
	// default), so SYN+ACK packets counted a sweep of 20 open hosts of 100
	// as answered.
	answered distinct
}

func newPortScan(e *Engine) *portScan {
	c := &e.cfg
	d := &portScan{
		e:     e,
		win:   window{size: c.PortScanWindow.Nanoseconds()},
		hosts: newBounded[addr](c.MaxHosts, func(s *scanState) uint64 { return s.syn + s.udp }),
		limit: 4 * max(c.PortScanPorts, c.PortScanHosts),
		// 2,621 hosts' full sets at the defaults, 25-30 MB.
		vals: budget{max: 1 << 20},
	}
	d.hosts.evicted = func(v *scanState) { d.vals.giveBack(&v.ports, &v.dsts, &v.udpDsts, &v.answered) }
	return d
}

// echoRequest reports whether p is an ICMP or ICMPv6 echo request.
func echoRequest(p *collector.Packet) bool {
	return (p.Key.Proto == 1 && p.ICMPType == 8) || (p.Key.Proto == 58 && p.ICMPType == 128)
}

// admit reports whether src has probed before in this window.
func (d *portScan) admit(src addr) bool {
	if d.hosts.get(src) != nil {
		return true
	}
	h := hash64(src) & (64*uint64(len(d.seen)) - 1)
	w, bit := h/64, uint64(1)<<(h%64)
	if d.seen[w]&bit != 0 {
		return true
	}
	if d.seenSet >= 64*len(d.seen)/8 {
		clear(d.seen[:])
		d.seenSet = 0
	}
	d.seen[w] |= bit
	d.seenSet++
	return false
}

func (d *portScan) packet(p *collector.Packet) {
	src, dst, _, dport := ends(p)
	if p.Key.Proto == 1 || p.Key.Proto == 58 {
		// Ping sweeps: echo requests to many hosts.
		if echoRequest(p) && d.admit(src) {
			s := d.hosts.upsert(src)
			d.touch(s, p.Timestamp)
			s.echo++
			d.vals.add(&s.dsts, hash64(dst), d.limit)
			s.lastDst = dst
			s.keys.add(&p.Key)
		}
		return
	}
	if p.Key.Proto == 6 {
		switch p.TCPFlags & (collector.FlagSYN | collector.FlagACK | collector.FlagRST) {
		case collector.FlagSYN:
			if !d.admit(src) {
				return
			}
			s := d.hosts.upsert(src)
			d.touch(s, p.Timestamp)
			s.syn++
			d.vals.add(&s.ports, uint64(dport), d.limit)
			d.vals.add(&s.dsts, hash64(dst), d.limit)
			s.lastDst, s.lastPort = dst, dport
			s.keys.add(&p.Key)
		case collector.FlagSYN | collector.FlagACK:
			// An answer to the probing host, which is the destination.
			if s := d.hosts.get(dst); s != nil {
				s.synack++
				d.vals.add(&s.answered, hash64(src), d.limit)
			}
		case collector.FlagRST, collector.FlagRST | collector.FlagACK:
			if s := d.hosts.get(dst); s != nil {
				s.rstIn++
			}
			if s := d.hosts.get(src); s != nil {
				s.rstOut++
			}
		}
		return
	}
	// UDP: a packet from a service that was sent to is a reply; a probe
	// goes from a high (ephemeral) port to a lower one, so a busy server
	// answering many client ports is not a scanner, nor is peer-to-peer
	// traffic between high ports.
	_, _, sport, _ := ends(p)
	const mask = len(d.contacted) - 1
	if h := serviceHash(src, sport); d.contacted[h&uint64(mask)] == h {
		return // a reply
	}
	h := serviceHash(dst, dport)
	d.contacted[h&uint64(mask)] = h
	if dport >= sport || !d.admit(src) {
		return // peer-to-peer or from a server port; or a first probe
	}
	s := d.hosts.upsert(src)
	d.touch(s, p.Timestamp)
	s.udp++
	d.vals.add(&s.ports, uint64(dport)|1<<16, d.limit)
	d.vals.add(&s.udpDsts, hash64(dst), d.limit)
	s.lastDst, s.lastPort = dst, dport
	s.keys.add(&p.Key)
}

func (d *portScan) touch(s *scanState, ts int64) {
	if s.first == 0 || ts < s.first {
		s.first = ts
	}
	if ts > s.last {
		s.last = ts
	}
}

// halfOpen is the number of SYNs not followed by a completed handshake
// (the source's ACK to a SYN+ACK; a scanner answers RST or nothing).
// Without handshake pairing (sampled packets), SYN+ACKs that the source
// did not reset stand for completed handshakes.
func (s *scanState) halfOpen(paired bool) uint64 {
	done := s.completed
	if !paired {
		done = s.synack - min(s.rstOut, s.synack)
	}
	return s.syn - min(done, s.syn)
}

// completed counts a handshake that p's source completed.
func (d *portScan) completed(p *collector.Packet) {
	src, _, _, _ := ends(p)
	if s := d.hosts.get(src); s != nil {
		s.completed++
	}
}

func (d *portScan) tick(now int64, final bool) {
	if !d.win.roll(now) && !final {
		return
	}
	c := &d.e.cfg
	var out []*Alert
	for src, s := range d.hosts.m {
		ports, hosts := s.ports.count(), s.dsts.count()
		if s.syn == 0 && s.echo == 0 {
			hosts = s.udpDsts.count() // a UDP-only prober
		}
		// Hosts reached by SYN, echo or UDP, for the vertical rule.
		all := hosts
		if ports >= c.PortScanPorts && s.udpDsts.count() > 0 {
			all = s.dsts.unionCount(&s.udpDsts)
		}
		// The share of the hosts that answered with a SYN+ACK (capped:
		// a host may answer a SYN the window did not count).
		answered := min(ratio(uint64(s.answered.count()), uint64(max(hosts, 1))), 1)
		ho := s.halfOpen(d.e.hs != nil)
		hoRatio := ratio(ho, s.syn)
		ev := func() map[string]any {
			return map[string]any{
				"window_s": c.PortScanWindow.Seconds(), "distinct_ports": ports, "distinct_hosts": hosts,
				"syn": s.syn, "synack_in": s.synack, "completed": s.completed, "rst_in": s.rstIn, "rst_out": s.rstOut, "udp": s.udp, "echo": s.echo,
				"half_open": ho, "half_open_ratio": round3(hoRatio), "answered_hosts": s.answered.count(), "saturated": s.ports.sat || s.dsts.sat || s.udpDsts.sat,
			}
		}
		a := &Alert{Time: s.last, First: s.first, Last: s.last, Detector: PortScan, Src: toNetip(src)}
		switch {
		case ports >= c.PortScanPorts && ports >= 2*max(hosts, all):
			// Many ports on few hosts. A peer-to-peer client (or a NAT
			// gateway in front of some) reaches as many ports as peers,
			// one each: not a vertical scan; the sweep rules judge it.
			// The ports count UDP ones, so the hosts count UDP peers
			// too: a uTP client's 200 peers on 200 ports were "200
			// ports on 3 hosts" once it also opened three TCP
			// connections, whose hosts alone were counted.
			hosts = max(hosts, all)
			a.Rule, a.Severity = "portscan.vertical", SevMedium
			if hoRatio >= c.HalfOpenMinRatio || s.syn == 0 {
				a.Severity = SevHigh
			}
			if hosts == 1 {
				a.Dst = toNetip(s.lastDst)
			}
			atLeast := ""
			if s.ports.sat {
				atLeast = "at least "
			}
			a.Message = fmt.Sprintf("%s probed %s%d distinct ports on %d hosts in %v", a.Src, atLeast, ports, hosts, c.PortScanWindow)
		case hosts >= c.PortScanHosts && s.syn > 0 && answered < 0.5:
			a.Rule, a.Severity = "portscan.sweep", SevMedium
			a.DstPort = s.lastPort
			a.Message = fmt.Sprintf("%s sent SYNs to %d hosts (%.0f%% unanswered) in %v", a.Src, hosts, 100*(1-answered), c.PortScanWindow)
		case hosts >= c.PortScanHosts && s.syn == 0 && s.echo > 0:
			a.Rule, a.Severity = "portscan.sweep", SevLow
			a.Message = fmt.Sprintf("%s sent echo requests to %d hosts in %v (ping sweep)", a.Src, hosts, c.PortScanWindow)
		case s.syn >= uint64(c.HalfOpenMinSYN) && hoRatio >= c.HalfOpenMinRatio:
			a.Rule, a.Severity = "portscan.halfopen", SevMedium
			if hosts == 1 {
				a.Dst = toNetip(s.lastDst)
			}
			a.Message = fmt.Sprintf("%s left %d of %d SYNs half-open in %v", a.Src, ho, s.syn, c.PortScanWindow)
		default:
			continue
		}
		switch {
		case s.syn > 0:
			a.Proto = 6
		case s.udp > 0:
			a.Proto = 17
		default:
			a.Proto = 1
			if !isV4(src) {
				a.Proto = 58
			}
		}
		a.Evidence = ev()
		a.keys = s.keys.slice()
		out = append(out, a)
	}
	d.hosts.reset()
	d.vals.used = 0
	clear(d.seen[:])
	d.seenSet = 0
	d.e.raiseAll(out)
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
