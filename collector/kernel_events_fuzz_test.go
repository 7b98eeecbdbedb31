//go:build linux

package collector

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/flowhawk/flowhawk/bpf"
)

// FuzzKernelEvents feeds arbitrary ring-buffer records (packet samples,
// end events, flow records, of any size) to the record decoder, without
// the kernel: it must never panic, it must count every record and, as bad,
// exactly those of unknown type or too short for their type, a sample must
// reach the detectors as its wire segments, and a flow record must keep
// the kernel's packet count (times the sampling rate).
func FuzzKernelEvents(f *testing.F) {
	key := bpf.FlowhawkFlowKey{PortLo: 80, PortHi: 40000, Proto: 6}
	key.AddrLo[15], key.AddrHi[15] = 1, 2
	pkt := bpf.FlowhawkPktEvent{Type: evSample, Flags: pktFSample, TcpFlags: 0x02, IpHdrLen: 20, L4HdrLen: 20,
		IpLen: 40, Ts: 1000, FlowFirst: 1000, WireLen: 54, Window: 1000, Ttl: 64, Key: key}
	gso := pkt
	gso.Ts, gso.TcpFlags, gso.IpLen, gso.PayloadLen, gso.GsoSegs, gso.GsoSize = 2000, 0x18, 3040, 3000, 3, 1000
	var fl bpf.FlowhawkFlowEvent
	fl.Type, fl.Key = evFlow, key
	fl.Value.First, fl.Value.Last = 1000, 2000
	fl.Value.Dir[1].Packets, fl.Value.Dir[1].Bytes, fl.Value.Dir[1].First, fl.Value.Dir[1].Last = 4, 3080, 1000, 2000
	end := bpf.FlowhawkEndEvent{Type: evEnd, Ts: 2000, Key: key}
	f.Add(records(raw(&pkt), raw(&gso), raw(&end), raw(&fl)), uint8(0))
	f.Add(records(raw(&pkt), raw(&fl), raw(&fl)[:40], []byte{9}, nil), uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, rate uint8) {
		s := &KernelSource{cfg: KernelConfig{Samples: 8, SampleRate: int(rate % 8)}, pending: map[Key][]pendingSample{}, continued: map[Key]cutFlow{}}
		var bad, flows uint64
		n := uint64(0)
		for len(data) >= 2 {
			l := min(int(binary.LittleEndian.Uint16(data)), len(data)-2)
			rec := data[2 : 2+l]
			data = data[2+l:]
			n++
			want := -1 // bad
			switch {
			case len(rec) == 0:
			case rec[0] == evSample && len(rec) >= pktEventSize:
				segs := int(binary.LittleEndian.Uint16(rec[unsafe.Offsetof(pkt.GsoSegs):]))
				want = max(segs, 1)
			case rec[0] == evEnd && len(rec) >= endEventSize, rec[0] == evFlow && len(rec) >= flowEventSize:
				want = 0
			}
			if want < 0 {
				bad++
			}
			var p Packet
			got, gotFlows := 0, 0
			var segPayload uint64
			segsOK := true
			s.handleEvent(rec, &p, func(fl *Flow) {
				gotFlows++
				ev := (*bpf.FlowhawkFlowEvent)(unsafe.Pointer(&rec[0]))
				total := ev.Value.Dir[0].Packets + ev.Value.Dir[1].Packets
				if r := uint64(s.cfg.SampleRate); r > 1 {
					total *= r
				}
				if fl.Fwd.Packets+fl.Bwd.Packets != total {
					t.Fatalf("record %d: flow of %d+%d packets, the kernel counted %d", n, fl.Fwd.Packets, fl.Bwd.Packets, total)
				}
			}, func(sp *Packet) {
				got++
				segPayload += uint64(sp.PayloadLen)
				segsOK = segsOK && sp.IPLen == sp.PayloadLen+uint32(sp.IPHeaderLen)+uint32(sp.L4HeaderLen)
			})
			flows += uint64(gotFlows)
			if want > 1 {
				// The kernel splits only a sample whose segment count
				// follows from its payload and segment size (FuzzKernelGSO):
				// then the segments carry the payload between them.
				ev := (*bpf.FlowhawkPktEvent)(unsafe.Pointer(&rec[0]))
				size, pl := uint64(ev.GsoSize), uint64(ev.PayloadLen)
				if size > 0 && pl > size && (pl+size-1)/size == uint64(want) &&
					ev.IpLen == ev.PayloadLen+uint32(ev.IpHdrLen)+uint32(ev.L4HdrLen) && (segPayload != pl || !segsOK) {
					t.Fatalf("record %d: payload %d in %d segments of %d: segments carry %d (lengths consistent %v)", n, pl, want, size, segPayload, segsOK)
				}
			}
			if want >= 0 && got != want {
				t.Fatalf("record %d (%d bytes, type %d): %d packets to the detectors, want %d", n, len(rec), rec[0], got, want)
			}
			if wantFlows := len(rec) >= flowEventSize && rec[0] == evFlow; gotFlows != map[bool]int{true: 1}[wantFlows] {
				t.Fatalf("record %d: %d flows", n, gotFlows)
			}
		}
		if s.stats.Events != n || s.stats.BadEvents != bad || s.stats.Flows != flows {
			t.Fatalf("%d records (%d bad, %d flows): stats %d events, %d bad, %d flows", n, bad, flows, s.stats.Events, s.stats.BadEvents, s.stats.Flows)
		}
	})
}

// raw is the bytes of a ring-buffer event as the kernel writes them.
func raw[T any](ev *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(ev)), unsafe.Sizeof(*ev))
}

// records joins ring-buffer records as FuzzKernelEvents reads them: each
// after its 16-bit little-endian length.
func records(recs ...[]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(r)))
		b = append(b, r...)
	}
	return b
}
