//go:build linux

package collector

import (
	"reflect"
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/flowhawk/flowhawk/bpf"
)

// TestKernelRecordFromDirtyPool checks that a record the kernel source
// builds from a reused (dirty) pool record equals one built from fresh
// memory: the counter path fills only what the kernel knows, so anything
// the pool left behind would show.
func TestKernelRecordFromDirtyPool(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // keep the pooled record in the pool
	var k bpf.FlowhawkFlowKey
	k.AddrLo[10], k.AddrLo[11], k.AddrLo[15] = 0xff, 0xff, 1
	k.AddrHi[10], k.AddrHi[11], k.AddrHi[15] = 0xff, 0xff, 2
	k.PortLo, k.PortHi, k.Proto = 443, 50000, 6
	var v bpf.FlowhawkFlowValue
	v.First, v.Last, v.Initiator = 1e9, 3e9, 1
	v.IatMin, v.IatMax = 1e6, 5e8
	for d := range v.Dir {
		ds := &v.Dir[d]
		ds.Packets, ds.Bytes, ds.IplenSq = 40, 40*600, 40*600*600
		ds.PayloadBytes, ds.PayloadSq, ds.IpHdrBytes, ds.L4HdrBytes, ds.DataPackets = 40*548, 40*548*548, 800, 1280, 30
		ds.First, ds.Last = v.First, v.Last
		ds.IatSq, ds.IatMin, ds.IatMax = 2e6, 1e6, 5e8
		ds.FlowIatSq = 2e6
		ds.FlagCounts[4] = 40
		ds.PayloadMin, ds.PayloadMax, ds.IplenMin, ds.IplenMax = 0, 1448, 52, 1500
		ds.InitWindow, ds.MinL4Hdr = 64240, 32
	}
	key := keyOf(&k)
	cfg := KernelConfig{Samples: 32}
	fresh := (&KernelSource{cfg: cfg}).toFlow(key, &v, EndIdle)

	var pool FlowPool
	dirty := pool.Get(32)
	dirty.ID, dirty.Sampled, dirty.ICMPType, dirty.ICMPCode, dirty.WrongFragments, dirty.Partial = 9, 99, 99, 99, 99, true
	dirty.Fwd.BulkCount, dirty.Bwd.FlagCounts[3], dirty.Active.Max, dirty.Idle.N, dirty.SubflowCount = 99, 99, 99, 99, 99
	dirty.Samples = append(dirty.Samples, Sample{Len: 99})
	dirty.activeStart, dirty.sfLast = 99, 99
	pool.Put(dirty)
	s := &KernelSource{cfg: cfg}
	s.UseFlowPool(&pool)
	got := s.toFlow(key, &v, EndIdle)
	if got != dirty {
		t.Log("the pool did not hand back the dirty record; the comparison still holds")
	}
	// An empty sample list is nil in a fresh record, empty with capacity
	// in a reused one: the same to every reader.
	if len(got.Samples) == 0 && len(fresh.Samples) == 0 {
		got.Samples, fresh.Samples = nil, nil
	}
	if !reflect.DeepEqual(got, fresh) {
		t.Fatalf("record from a reused pool record differs from a fresh one:\n got %+v\nwant %+v", got, fresh)
	}
}

// TestPendingSampleKeepsWhatFlowAddReads checks that a record replayed from
// the compact pending samples (sorted, through replay) equals one built
// packet by packet from the whole events, and that the compact record is
// the size its doc gives. (packetOf fills the Flow.Add fields through
// packetOfSample, so the field mapping itself is shared; the kernel-vs-
// tcpdump e2e tests check it against the pcap path.)
func TestPendingSampleKeepsWhatFlowAddReads(t *testing.T) {
	if n := unsafe.Sizeof(pendingSample{}); n != 40 {
		t.Errorf("pendingSample is %d bytes; its doc says 40", n)
	}
	var k bpf.FlowhawkFlowKey
	k.AddrLo[15], k.AddrHi[15], k.PortLo, k.PortHi, k.Proto = 1, 2, 80, 40000, 6
	key := keyOf(&k)
	var evs []bpf.FlowhawkPktEvent
	for i := range 12 {
		evs = append(evs, bpf.FlowhawkPktEvent{Type: evSample, Side: uint8(i % 2), TcpFlags: uint8(i * 7), Flags: uint8(i*5) & pktFWrongFrag,
			IpHdrLen: 20, L4HdrLen: 32, IpLen: uint32(52 + 100*i), PayloadLen: uint32(100 * i), Ts: uint64(1e9 + i*i*1e6),
			FlowFirst: 1e9, Seq: uint32(i), Ack: uint32(i), WireLen: uint32(66 + 100*i), Window: uint16(1000 + i),
			Ttl: 64, IcmpType: uint8(i), IcmpCode: uint8(i), Key: k})
	}
	s := &KernelSource{cfg: KernelConfig{Samples: 32}}
	whole := &Flow{Samples: make([]Sample, 0, 32)}
	whole.reset(0, key, true, s.wall(evs[0].Ts))
	var p Packet
	for i := range evs {
		s.packetOf(&p, &evs[i], key)
		whole.Add(&p, 32)
	}
	var ps []pendingSample
	for i := range evs {
		ps = append(ps, pendingOf(&evs[i]))
	}
	compact := &Flow{Samples: make([]Sample, 0, 32)}
	s.replay(compact, key, true, ps, 32, 0)
	if !reflect.DeepEqual(compact, whole) {
		t.Fatalf("replayed from pending samples:\n%+v\nfrom whole events:\n%+v", compact, whole)
	}
}
