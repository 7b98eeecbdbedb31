//go:build linux

package collector

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowhawk/flowhawk/bpf"
)

// skbCtx is a struct __sk_buff for BPF_PROG_TEST_RUN with the GSO fields
// set (offsets of linux/bpf.h; the kernel rejects any other non-zero field
// it does not take from user space).
func skbCtx(gsoSegs, gsoSize uint32) []byte {
	b := make([]byte, 192)
	binary.LittleEndian.PutUint32(b[164:], gsoSegs)
	binary.LittleEndian.PutUint32(b[176:], gsoSize)
	return b
}

// gsoTCP builds the server's TCP segment of payload bytes at seq with
// flags (letters as setFlags takes them).
func gsoTCP(t testing.TB, seq uint32, flags string, payload int) []byte {
	ip := ip4(layers.IPProtocolTCP)
	ip.SrcIP, ip.DstIP = net.IP{10, 199, 0, 2}, net.IP{10, 199, 0, 1}
	tcp := &layers.TCP{SrcPort: 80, DstPort: 40000, Window: 2000, Seq: seq}
	setFlags(tcp, flags)
	return kframe(t, eth(layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(make([]byte, payload)))
}

// TestKernelGSOSegments sends a 2500-byte TCP GSO packet (gso_segs 3,
// gso_size 1000), as TC egress sees what the stack has not segmented yet,
// and checks that the kernel path accounts the three wire segments the
// pcap path decodes from a capture of the same data: counts, sums, sums of
// squares, extremes, flags (CWR first, PSH and FIN last), per-segment
// samples, and the packets handed to the detectors. It runs with samples
// for every packet (record replayed from samples) and with one sample (the
// counter path).
func TestKernelGSOSegments(t *testing.T) {
	for _, samples := range []int{32, 1} {
		s := loadTestKernel(t, KernelConfig{MaxFlows: 64, Samples: samples, RingSize: 1 << 16})
		client := tcpSeg(t, true, "A", 100)
		super := gsoTCP(t, 1000, "APFC", 2500)
		wire := [][]byte{client, gsoTCP(t, 1000, "AC", 1000), gsoTCP(t, 2000, "A", 1000), gsoTCP(t, 3000, "APF", 500)}

		if _, err := s.objs.FlowhawkTc.Run(&ebpf.RunOptions{Data: client}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.objs.FlowhawkTc.Run(&ebpf.RunOptions{Data: super, Context: skbCtx(3, 1000)}); err != nil {
			t.Fatalf("run with gso_segs 3: %v", err)
		}
		var kflows []*Flow
		var pkts []Packet
		onFlow := func(f *Flow) { kflows = append(kflows, f) }
		s.readEvents(time.Now(), onFlow, func(p *Packet) { pkts = append(pkts, *p) })
		if err := s.Flush(onFlow, nil); err != nil {
			t.Fatal(err)
		}

		var tflows []*Flow
		tab := NewTable(TableConfig{Samples: 10}, func(f *Flow) { tflows = append(tflows, f) })
		dec := NewDecoder(DecoderOptions{})
		var want []Packet
		for i, fr := range wire {
			var p Packet
			ts := int64(1e9)
			if i > 0 {
				ts = 2e9 // the segments of one GSO packet share its time
			}
			if dec.Decode(&p, fr, 1, ts, uint32(len(fr))) != ResultIP {
				t.Fatalf("segment %d does not decode", i)
			}
			want = append(want, p)
			tab.Add(&p)
		}
		tab.Flush()
		if len(kflows) != 1 || len(tflows) != 1 {
			t.Fatalf("samples %d: %d kernel flows, %d table flows, want 1 each", samples, len(kflows), len(tflows))
		}
		k, w := kflows[0], tflows[0]
		for _, d := range []Dir{Fwd, Bwd} {
			kd, wd := k.Dir(d), w.Dir(d)
			if kd.Packets != wd.Packets || kd.Bytes != wd.Bytes || kd.PayloadBytes != wd.PayloadBytes ||
				kd.IPHeaderBytes != wd.IPHeaderBytes || kd.L4HeaderBytes != wd.L4HeaderBytes || kd.DataPackets != wd.DataPackets ||
				kd.FlagCounts != wd.FlagCounts {
				t.Errorf("samples %d, %v: kernel %d pkts %d B %d payload %d/%d hdr %d data flags %v; capture %d pkts %d B %d payload %d/%d hdr %d data flags %v",
					samples, d, kd.Packets, kd.Bytes, kd.PayloadBytes, kd.IPHeaderBytes, kd.L4HeaderBytes, kd.DataPackets, kd.FlagCounts,
					wd.Packets, wd.Bytes, wd.PayloadBytes, wd.IPHeaderBytes, wd.L4HeaderBytes, wd.DataPackets, wd.FlagCounts)
			}
			for _, m := range []struct {
				name string
				k, w Moments
			}{{"payload", kd.PayloadLen, wd.PayloadLen}, {"ip length", kd.IPLen, wd.IPLen}} {
				if m.k.N != m.w.N || m.k.Min != m.w.Min || m.k.Max != m.w.Max || m.k.Total() != m.w.Total() || m.k.SumSquares() != m.w.SumSquares() {
					t.Errorf("samples %d, %v %s moments: kernel %+v, capture %+v", samples, d, m.name, m.k, m.w)
				}
			}
		}
		if k.Bwd.IAT.Min != 0 || k.Bwd.IAT.N != 2 {
			t.Errorf("samples %d: gaps inside the GSO packet: kernel IAT %+v, want 2 gaps of 0", samples, k.Bwd.IAT)
		}
		if samples == 32 {
			if len(k.Samples) != 4 {
				t.Fatalf("%d samples in the record, want the 4 wire packets", len(k.Samples))
			}
			for i := range k.Samples {
				ks, ws := k.Samples[i], w.Samples[i]
				if ks.Len != ws.Len || ks.Payload != ws.Payload || ks.Dir != ws.Dir || ks.Flags != ws.Flags {
					t.Errorf("sample %d: kernel %+v, capture %+v", i, ks, ws)
				}
			}
		}
		if samples == 1 {
			continue // only the first packet went to the ring buffer
		}
		// The detectors get the wire segments, sequence numbers included.
		if len(pkts) != 4 {
			t.Fatalf("samples %d: %d packets to the detectors, want 4", samples, len(pkts))
		}
		for i := range pkts {
			g, wp := &pkts[i], &want[i]
			if g.IPLen != wp.IPLen || g.PayloadLen != wp.PayloadLen || g.TCPFlags != wp.TCPFlags || g.TCPSeq != wp.TCPSeq || g.WireLen != wp.WireLen {
				t.Errorf("packet %d: kernel len %d/%d flags %x seq %d wire %d, capture %d/%d %x %d %d", i,
					g.IPLen, g.PayloadLen, g.TCPFlags, g.TCPSeq, g.WireLen, wp.IPLen, wp.PayloadLen, wp.TCPFlags, wp.TCPSeq, wp.WireLen)
			}
		}
	}
}

// FuzzKernelGSO runs TCP and UDP packets over IPv4 or IPv6, of any
// payload size, with any gso_segs and gso_size through TC egress: the
// kernel's counters for the flow must equal the sum over the segments user
// space cuts the sample into (what the detectors and the record's first
// packets see), and a packet is split exactly when its segment count
// follows from its payload.
func FuzzKernelGSO(f *testing.F) {
	f.Add(true, false, uint16(2500), uint16(3), uint16(1000), uint8(0x19))
	f.Add(false, false, uint16(2500), uint16(3), uint16(1000), uint8(0))
	f.Add(true, false, uint16(1500), uint16(3), uint16(1000), uint8(0x10)) // count does not follow: whole
	f.Add(true, true, uint16(65000), uint16(45), uint16(1448), uint8(0x18))
	f.Add(true, false, uint16(2500), uint16(0), uint16(1055), uint8(0)) // gso_segs 0: a virtio-net header's GSO packet
	s := loadTestKernel(f, KernelConfig{MaxFlows: 64, Samples: 1 << 20, RingSize: 1 << 22})
	f.Fuzz(func(t *testing.T, tcp, v6 bool, payload, segs, size uint16, flags uint8) {
		payload %= 9000
		proto := layers.IPProtocolUDP
		if tcp {
			proto = layers.IPProtocolTCP
		}
		var ip gopacket.SerializableLayer = ip4(proto)
		et := layers.EthernetTypeIPv4
		if v6 {
			ip, et = ip6(proto), layers.EthernetTypeIPv6
		}
		var l4 gopacket.SerializableLayer = &layers.UDP{SrcPort: 4000, DstPort: 9}
		if tcp {
			l4 = &layers.TCP{SrcPort: 40000, DstPort: 80, Window: 1000, Seq: 7, FIN: flags&1 != 0, SYN: flags&2 != 0,
				RST: flags&4 != 0, PSH: flags&8 != 0, ACK: flags&16 != 0, URG: flags&32 != 0, ECE: flags&64 != 0, CWR: flags&128 != 0}
		}
		fr := kframe(t, eth(et), ip, l4, gopacket.Payload(make([]byte, payload)))
		s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
		if _, err := s.objs.FlowhawkTc.Run(&ebpf.RunOptions{Data: fr, Context: skbCtx(uint32(segs), uint32(size))}); err != nil {
			t.Fatalf("run: %v", err)
		}
		var pkts []Packet
		s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) { pkts = append(pkts, *p) })
		var v bpf.FlowhawkFlowValue
		found := false
		s.iterate(true, func(_ *bpf.FlowhawkFlowKey, fv *bpf.FlowhawkFlowValue) { v, found = *fv, true })
		if !found || len(pkts) == 0 {
			t.Fatalf("no flow (%v) or no sample (%d)", found, len(pkts))
		}
		n := uint32(segs)
		if n == 0 && size > 0 && uint32(payload) > uint32(size) {
			// A GSO packet written through a virtio-net header
			// (SKB_GSO_DODGY) comes with gso_segs 0: the count follows
			// from the payload.
			n = (uint32(payload) + uint32(size) - 1) / uint32(size)
		}
		split := n > 1 && size > 0 && uint32(payload) > uint32(size) && (uint32(payload)+uint32(size)-1)/uint32(size) == n
		want := 1
		if split {
			want = int(n)
		}
		if len(pkts) != want {
			t.Fatalf("payload %d, gso %d x %d: %d segments, split %v", payload, segs, size, len(pkts), split)
		}
		d := v.Dir[0]
		if !pkts[0].SrcIsLo {
			d = v.Dir[1]
		}
		var bytes, pl, plSq, ipSq uint64
		var fl [8]uint32
		for _, p := range pkts {
			bytes += uint64(p.IPLen)
			pl += uint64(p.PayloadLen)
			plSq += uint64(p.PayloadLen) * uint64(p.PayloadLen)
			ipSq += uint64(p.IPLen) * uint64(p.IPLen)
			for b := range 8 {
				if p.TCPFlags&(1<<b) != 0 {
					fl[b]++
				}
			}
		}
		if d.Packets != uint64(len(pkts)) || d.Bytes != bytes || d.PayloadBytes != pl || d.PayloadSq != plSq || d.IplenSq != ipSq || d.FlagCounts != fl {
			t.Errorf("payload %d, gso %d x %d: kernel %d pkts %d B %d payload sq %d/%d flags %v; segments %d pkts %d B %d payload sq %d/%d flags %v",
				payload, segs, size, d.Packets, d.Bytes, d.PayloadBytes, d.PayloadSq, d.IplenSq, d.FlagCounts,
				len(pkts), bytes, pl, plSq, ipSq, fl)
		}
	})
}
