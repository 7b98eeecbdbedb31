// Package pcapgen writes deterministic synthetic captures (classic pcap,
// Ethernet) of realistic TCP and UDP flows, for benchmarks that need
// millions of packets and flows without shipping a capture. It streams:
// memory stays constant whatever the number of packets or flows.
package pcapgen

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
)

// Config says what to generate.
type Config struct {
	// Seed makes the output reproducible: the same Config gives the same bytes.
	Seed uint64
	// Packets is the exact number of packets written.
	Packets int
	// Flows is the number of flows the packet budget is spread over: flow
	// sizes are drawn with mean Packets/Flows, so the number of flows
	// written is close to Flows (flows still open when the budget runs out
	// are cut short; if all Flows end early, more are started).
	Flows int
	// Concurrency is how many flows are open at once (default Flows/20,
	// at most 4096); it bounds memory.
	Concurrency int
	// StartUnixNano is the first packet's time (default 2026-01-01 UTC).
	StartUnixNano int64
}

// Stats summarises what Write wrote.
type Stats struct {
	Packets, Flows, TCPFlows, UDPFlows int
	Bytes                              int64 // sum of frame lengths
	FirstNano, LastNano                int64
}

type kind uint8

const (
	kindTCP kind = iota
	kindTCPRefused
	kindTCPReset // handshake, maybe a request, then the client resets
	kindUDP
)

// Full TCP segments carry the MSS less the 12-byte timestamp option every
// segment has, so that every packet fits a 1500-byte MTU: the MSS is 1460
// over IPv4 (1500 less 20 bytes of IP and 20 of TCP header) and 1440 over
// IPv6, whose header is 40 bytes. IPv6 segments of IPv4's 1448 bytes made
// 1520-byte packets, which replay --detect size reported as oversize.
const (
	mssIPv4, mssIPv6 = 1460, 1440
	tcpTSOption      = 12
)

// mss is the MSS f's SYNs announce and its full segments fill.
func (f *flow) mss() int {
	if f.v6 {
		return mssIPv6
	}
	return mssIPv4
}

// flow is one generated conversation and where its script is.
type flow struct {
	next         int64 // time of its next packet
	cli, srv     [16]byte
	v6           bool
	cport, sport uint16
	kind         kind
	total, sent  int
	cseq, sseq   uint32
	rtt          int64
	respLeft     int // server segments left in the current response
	finStage     int
}

type flowHeap []*flow

func (h flowHeap) Len() int           { return len(h) }
func (h flowHeap) Less(i, j int) bool { return h[i].next < h[j].next }
func (h flowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *flowHeap) Push(x any)        { *h = append(*h, x.(*flow)) }
func (h *flowHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}

type gen struct {
	cfg     Config
	rng     *rand.Rand
	mean    float64
	started int
	w       *bufio.Writer
	buf     []byte
	st      Stats
}

var tcpPorts = []uint16{443, 443, 443, 80, 80, 22, 8080, 993, 25, 3306}
var udpPorts = []uint16{53, 53, 53, 123, 443, 5353, 161, 514}

// Write writes a pcap with cfg's packets to w.
func Write(w io.Writer, cfg Config) (Stats, error) {
	if cfg.Packets < 0 || cfg.Flows <= 0 {
		return Stats{}, errors.New("pcapgen: need packets >= 0 and flows > 0")
	}
	if cfg.Concurrency <= 0 {
		// Flows still open at the end are cut short and add to the count:
		// keep them a small share.
		cfg.Concurrency = min(max(cfg.Flows/20, 1), 4096)
	}
	if cfg.StartUnixNano == 0 {
		cfg.StartUnixNano = 1767225600e9 // 2026-01-01T00:00:00Z
	}
	g := &gen{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		// 1% of flows are 20 times larger: scale the base mean so the
		// overall mean stays Packets/Flows.
		mean: max(0.5, float64(cfg.Packets)/float64(cfg.Flows)/1.19-0.5), w: bufio.NewWriterSize(w, 1<<20), buf: make([]byte, 0, 1600)}
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	g.w.Write(hdr)
	h := make(flowHeap, 0, cfg.Concurrency)
	now := cfg.StartUnixNano
	for range cfg.Concurrency {
		f := &flow{}
		// Spread the first flows' starts over the first second.
		g.newFlow(f, now+int64(g.rng.Float64()*1e9))
		h = append(h, f)
	}
	heap.Init(&h)
	for g.st.Packets < cfg.Packets {
		f := h[0]
		g.emit(f)
		if f.sent >= f.total {
			// Next flow in this slot after an exponential pause.
			g.newFlow(f, f.next+int64(g.rng.ExpFloat64()*50e6))
		}
		heap.Fix(&h, 0)
	}
	if g.st.Packets == 0 {
		g.st.FirstNano = 0
	}
	return g.st, g.w.Flush()
}

func (g *gen) newFlow(f *flow, at int64) {
	i := g.started
	g.started++
	// Flow size: geometric-like (exponential, rounded up) with mean g.mean,
	// with a heavy tail for a few bulk transfers.
	n := int(math.Ceil(g.rng.ExpFloat64() * g.mean))
	if g.rng.IntN(100) == 0 {
		n *= 20
	}
	n = max(n, 1)
	*f = flow{next: at, total: n, rtt: int64(math.Exp(g.rng.NormFloat64()*0.8+math.Log(20e6))) + 200e3}
	switch {
	case n >= 7 && g.rng.IntN(10) < 8:
		f.kind = kindTCP
		f.sport = tcpPorts[g.rng.IntN(len(tcpPorts))]
	case n >= 3 && n < 7 && g.rng.IntN(2) == 0:
		f.kind = kindTCPReset
		f.sport = tcpPorts[g.rng.IntN(len(tcpPorts))]
	case n == 2 && g.rng.IntN(4) == 0:
		f.kind = kindTCPRefused
		f.sport = tcpPorts[g.rng.IntN(len(tcpPorts))]
	default:
		f.kind = kindUDP
		f.sport = udpPorts[g.rng.IntN(len(udpPorts))]
	}
	f.cport = uint16(32768 + g.rng.IntN(28232))
	f.v6 = g.rng.IntN(10) == 0
	s := g.rng.IntN(2000)
	if f.v6 {
		copy(f.cli[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1})
		binary.BigEndian.PutUint64(f.cli[8:], uint64(i)+1)
		copy(f.srv[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0})
		binary.BigEndian.PutUint64(f.srv[8:], uint64(s)+1)
	} else {
		// Clients 10.0.0.0/8 by flow index (unique for 16M flows), servers
		// from a pool of 2000 addresses in 198.18.0.0/15 (benchmark range).
		binary.BigEndian.PutUint32(f.cli[12:], 10<<24|uint32(i)&0xffffff)
		binary.BigEndian.PutUint32(f.srv[12:], 198<<24|18<<16|uint32(s))
		f.cport ^= uint16(i >> 24)
	}
	f.cseq, f.sseq = g.rng.Uint32(), g.rng.Uint32()
}

// emit writes f's next packet and advances its script and clock.
func (g *gen) emit(f *flow) {
	const (
		fin, syn, rst, psh, ack = 1, 2, 4, 8, 16
	)
	fromCli, flags, payload, gap := true, uint8(0), 0, int64(0)
	k := f.sent
	if k == 0 {
		g.st.Flows++
		if f.kind == kindUDP {
			g.st.UDPFlows++
		} else {
			g.st.TCPFlows++
		}
	}
	switch f.kind {
	case kindUDP:
		fromCli = k%2 == 0
		if fromCli {
			payload, gap = 30+g.rng.IntN(90), f.rtt
		} else {
			payload, gap = 80+g.rng.IntN(420), int64(g.rng.ExpFloat64()*200e6)
		}
	case kindTCPRefused:
		if k == 0 {
			flags, gap = syn, f.rtt
		} else {
			fromCli, flags = false, rst|ack
		}
	case kindTCPReset:
		switch {
		case k == 0:
			flags, gap = syn, f.rtt
		case k == 1:
			fromCli, flags, gap = false, syn|ack, f.rtt/2
		case k == f.total-1:
			flags = rst | ack
		case k == 2:
			flags, gap = ack, 100e3
		default:
			payload, flags, gap = 100+g.rng.IntN(400), psh|ack, f.rtt
		}
	case kindTCP:
		left := f.total - k
		switch {
		case k == 0:
			flags, gap = syn, f.rtt
		case k == 1:
			fromCli, flags, gap = false, syn|ack, f.rtt/2
		case k == 2:
			flags, gap = ack, 100e3
		case left == 3:
			flags, gap = fin|ack, f.rtt/2
		case left == 2:
			fromCli, flags, gap = false, fin|ack, f.rtt/2
		case left == 1:
			flags = ack
		case f.respLeft == 0:
			// Client request, then a response of a few MSS segments.
			payload, flags, gap = 200+g.rng.IntN(600), psh|ack, f.rtt
			f.respLeft = 1 + int(g.rng.ExpFloat64()*6)
		default:
			seg := f.mss() - tcpTSOption
			fromCli, flags = false, ack
			payload = seg
			f.respLeft--
			if f.respLeft == 0 {
				// 100 bytes to a full segment less one: IPv4's draw, scaled,
				// so the random stream (and every IPv4 packet) is as before.
				payload, flags = 100+g.rng.IntN(1348)*(seg-100)/1348, psh|ack
				gap = f.rtt / 2
			} else {
				gap = 12e3 + int64(g.rng.IntN(30e3))
			}
		}
	}
	g.write(f, fromCli, flags, payload)
	f.sent++
	f.next += max(gap, 1000)
}

func (g *gen) write(f *flow, fromCli bool, flags uint8, payload int) {
	b := g.buf[:0]
	src, dst, sp, dp := &f.cli, &f.srv, f.cport, f.sport
	if !fromCli {
		src, dst, sp, dp = dst, src, dp, sp
	}
	// Ethernet
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1)
	if !fromCli {
		copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 1})
		copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 2})
	}
	l4len := 8
	proto := uint8(17)
	if f.kind != kindUDP {
		proto = 6
		l4len = 32 // TCP with 12 bytes of timestamp options
		if flags&2 != 0 {
			l4len = 40 // SYN: MSS, SACK-permitted, timestamps, window scale
		}
	}
	if f.v6 {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		b = append(b, 0x60, 0, 0, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(l4len+payload))
		b = append(b, proto, 64)
		b = append(b, src[:]...)
		b = append(b, dst[:]...)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		ip := len(b)
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(20+l4len+payload))
		b = binary.BigEndian.AppendUint16(b, uint16(g.st.Packets))
		b = append(b, 0x40, 0, 64, proto, 0, 0)
		b = append(b, src[12:]...)
		b = append(b, dst[12:]...)
		var sum uint32
		for i := ip; i < ip+20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		sum = sum>>16 + sum&0xffff
		sum += sum >> 16
		binary.BigEndian.PutUint16(b[ip+10:], ^uint16(sum))
	}
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	if proto == 17 {
		b = binary.BigEndian.AppendUint16(b, uint16(8+payload))
		b = append(b, 0, 0)
	} else {
		seq, ackn := &f.cseq, f.sseq
		if !fromCli {
			seq, ackn = &f.sseq, f.cseq
		}
		if flags&16 == 0 {
			ackn = 0
		}
		b = binary.BigEndian.AppendUint32(b, *seq)
		b = binary.BigEndian.AppendUint32(b, ackn)
		*seq += uint32(payload)
		if flags&3 != 0 {
			*seq++
		}
		b = append(b, byte(l4len/4)<<4, flags)
		b = binary.BigEndian.AppendUint16(b, 502)
		b = append(b, 0, 0, 0, 0) // checksum (not computed), urgent
		if flags&2 != 0 {
			b = append(b, 2, 4)
			b = binary.BigEndian.AppendUint16(b, uint16(f.mss()))
			b = append(b, 4, 2, 8, 10)
			b = binary.BigEndian.AppendUint32(b, uint32(f.next/1e6))
			b = append(b, 0, 0, 0, 0, 1, 3, 3, 7)
		} else {
			b = append(b, 1, 1, 8, 10)
			b = binary.BigEndian.AppendUint32(b, uint32(f.next/1e6))
			b = binary.BigEndian.AppendUint32(b, 0)
		}
	}
	for range payload {
		b = append(b, 0)
	}
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(f.next/1e9))
	binary.LittleEndian.PutUint32(rec[4:], uint32(f.next%1e9/1e3))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(b)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(b)))
	g.w.Write(rec[:])
	g.w.Write(b)
	g.buf = b
	if g.st.Packets == 0 {
		g.st.FirstNano = f.next
	}
	g.st.Packets++
	g.st.Bytes += int64(len(b))
	g.st.LastNano = max(g.st.LastNano, f.next)
}
