//go:build linux

package collector

import (
	"fmt"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket/layers"
)

// pairFrame is a packet between 10.x:40000 (the client) and :80, of UDP or
// of TCP with flags, sent by the server when reply.
func pairFrame(t testing.TB, proto layers.IPProtocol, reply bool, flags string) []byte {
	t.Helper()
	ip := ip4(proto)
	if reply {
		ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
	}
	sp, dp := uint16(40000), uint16(80)
	if reply {
		sp, dp = dp, sp
	}
	if proto == layers.IPProtocolUDP {
		return kframe(t, eth(layers.EthernetTypeIPv4), ip, &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)})
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Window: 1000, Seq: 1}
	setFlags(tcp, flags)
	return kframe(t, eth(layers.EthernetTypeIPv4), ip, tcp)
}

// TestKernelScanRacesSYNReuse: a scan finds a closed flow past its grace;
// before the scan's lookup-and-delete of it, a new SYN on the same key
// reuses the entry (the kernel sends the old record in the ring buffer and
// starts the entry over). The scan deleted and emitted the new
// connection's one-packet entry, labelled with the old flow's RST; it now
// puts a new incarnation back.
func TestKernelScanRacesSYNReuse(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, CloseGrace: 30 * time.Millisecond})
	frame := func(dport uint16, flags string) []byte {
		tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), Window: 1000, Seq: 1}
		setFlags(tcp, flags)
		return kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp)
	}
	run := func(fr []byte) {
		t.Helper()
		if _, err := s.objs.FlowhawkTc.Run(&ebpf.RunOptions{Data: fr}); err != nil {
			t.Fatal(err)
		}
	}
	// Two connections, each closed by RST: 1000 first, 2000 after it.
	run(frame(1000, "S"))
	run(frame(1000, "R"))
	time.Sleep(2 * time.Millisecond)
	run(frame(2000, "S"))
	run(frame(2000, "R"))
	time.Sleep(60 * time.Millisecond)
	s.readEvents(time.Now(), nil, nil)

	var got []*Flow
	reused := false
	onFlow := func(f *Flow) {
		got = append(got, f)
		if !reused {
			// A packet that arrives while the scan is emitting: a new
			// connection on port 2000's key.
			reused = true
			run(frame(2000, "S"))
		}
	}
	if err := s.Scan(onFlow); err != nil {
		t.Fatal(err)
	}
	s.readEvents(time.Now(), onFlow, nil)
	if err := s.Flush(onFlow, nil); err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, f := range got {
		desc = append(desc, fmt.Sprintf("port %d %v %d pkts", f.Key.PortHi, f.EndReason, f.Packets()))
	}
	// The flow table: 1000 RST (2 packets), 2000 RST (2 packets), and the
	// new connection on 2000 still open at the flush (1 packet).
	want := map[string]bool{"port 1000 rst 2 pkts": true, "port 2000 rst 2 pkts": true, "port 2000 flush 1 pkts": true}
	ok := len(got) == 3
	for _, d := range desc {
		if !want[d] {
			ok = false
		}
	}
	if !ok {
		t.Fatalf("records %q; want %v", desc, []string{"port 1000 rst 2 pkts", "port 2000 rst 2 pkts", "port 2000 flush 1 pkts"})
	}
}

// TestKernelContinuationKeepsDirectionPastIdle: the active timeout cuts a
// flow; the record that goes on with it starts with a packet of the other
// side, and must keep the cut flow's direction. Scan forgot the cut flow
// (s.continued) idle+grace after the cut's last packet even though the
// continuation was alive in the map (with the defaults, any continuation
// longer than 122 s), so the continuation's direction was the kernel's
// (whoever sent first after the cut).
func TestKernelContinuationKeepsDirectionPastIdle(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 100 * time.Millisecond, ActiveTimeout: 300 * time.Millisecond,
		CloseGrace: 10 * time.Millisecond})
	frame := func(reply bool) []byte { return pairFrame(t, layers.IPProtocolUDP, reply, "") }
	send := func(reply bool) {
		t.Helper()
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: frame(reply)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Flow
	onFlow := func(f *Flow) { got = append(got, f) }
	scan := func() {
		t.Helper()
		s.readEvents(time.Now(), onFlow, nil)
		if err := s.Scan(onFlow); err != nil {
			t.Fatal(err)
		}
	}
	// The client sends every 60 ms (within the idle timeout) until past
	// the active timeout.
	start := time.Now()
	for time.Since(start) < 320*time.Millisecond {
		send(false)
		time.Sleep(60 * time.Millisecond)
	}
	scan() // the active timeout cuts the flow
	if len(got) != 1 || got[0].EndReason != EndActive {
		t.Fatalf("%d records, want one active cut", len(got))
	}
	send(true) // the server sends first after the cut
	for range 3 {
		time.Sleep(60 * time.Millisecond)
		send(false)
		scan() // the flow goes on, well within its idle timeout
	}
	if len(got) != 1 {
		t.Fatalf("%d records before the flush, want 1", len(got))
	}
	if err := s.Flush(onFlow, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].FwdIsLo != got[0].FwdIsLo {
		t.Fatalf("continuation: fwd is lo %v, cut record's %v (%d fwd, %d bwd packets); want the cut flow's direction",
			got[1].FwdIsLo, got[0].FwdIsLo, got[1].Fwd.Packets, got[1].Bwd.Packets)
	}
}

// TestKernelFlushAfterFINPairAcrossCut: the active timeout cuts a
// connection between its two FINs; the second FIN comes, and the capture
// stops (Flush) within the close grace. The flow table has the
// continuation closed by the FIN pair and flushes it as FIN; the kernel
// path's drain read only the kernel entry's flags (not closed) and ended
// it as flush.
func TestKernelFlushAfterFINPairAcrossCut(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 10 * time.Second, ActiveTimeout: 100 * time.Millisecond, CloseGrace: 5 * time.Second})
	var table []*Flow
	tab := NewTable(TableConfig{Samples: 32, IdleTimeout: 10 * time.Second, ActiveTimeout: 100 * time.Millisecond, CloseGrace: 5 * time.Second},
		func(f *Flow) { table = append(table, f) })
	dec := NewDecoder(DecoderOptions{})
	ts := int64(1e9)
	send := func(reply bool, flags string) {
		t.Helper()
		fr := pairFrame(t, layers.IPProtocolTCP, reply, flags)
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: fr}); err != nil {
			t.Fatal(err)
		}
		var p Packet
		if dec.Decode(&p, fr, 1, ts, uint32(len(fr))) != ResultIP {
			t.Fatal("does not decode")
		}
		tab.Add(&p)
	}
	var got []*Flow
	onFlow := func(f *Flow) { got = append(got, f) }
	send(false, "S")
	send(true, "SA")
	send(false, "A")
	send(false, "FA") // the client's FIN before the cut
	time.Sleep(150 * time.Millisecond)
	ts += 150e6
	s.readEvents(time.Now(), onFlow, nil)
	if err := s.Scan(onFlow); err != nil { // the active timeout cuts the flow
		t.Fatal(err)
	}
	send(true, "FA") // the server's FIN after the cut
	send(false, "A")
	if err := s.Flush(onFlow, nil); err != nil { // stop within the grace
		t.Fatal(err)
	}
	tab.Flush()
	var kr, tr []EndReason
	for _, f := range got {
		kr = append(kr, f.EndReason)
	}
	for _, f := range table {
		tr = append(tr, f.EndReason)
	}
	if fmt.Sprint(kr) != fmt.Sprint(tr) {
		t.Fatalf("kernel records end %v; flow table %v", kr, tr)
	}
}

// TestKernelReuseWithFullRingKeepsRecord: a SYN reuses the key of a flow
// RST closed while the ring buffer is full. The kernel reset the entry
// although it could not send the old record: that connection's packets
// were in no record (only RingbufFull grew). Now the SYN joins the closed
// record, which a scan emits after its grace.
func TestKernelReuseWithFullRingKeepsRecord(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024, RingSize: 4096})
	run := func(fr []byte) {
		t.Helper()
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: fr}); err != nil {
			t.Fatal(err)
		}
	}
	run(tcpSeg(t, true, "S", 0))
	run(tcpSeg(t, false, "SA", 0))
	run(tcpSeg(t, true, "PA", 100))
	run(tcpSeg(t, false, "R", 0)) // closed: 4 packets
	// Other traffic fills the ring before the reader gets to it.
	for i := 0; s.Stats().RingbufFull == 0; i++ {
		run(kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: layers.UDPPort(1000 + i), DstPort: 9}))
	}
	run(tcpSeg(t, true, "S", 0)) // a new connection on the closed one's ports
	var got []*Flow
	if err := s.Flush(func(f *Flow) { got = append(got, f) }, nil); err != nil {
		t.Fatal(err)
	}
	var tcp uint64
	for _, f := range got {
		if f.Key.Proto == 6 {
			tcp += f.Packets()
		}
	}
	if tcp != 5 {
		t.Fatalf("TCP records hold %d packets, want 5 (4 of the closed connection, the new SYN); ring full %d", tcp, s.Stats().RingbufFull)
	}
}

// TestKernelLatePacketAfterGraceStartsNewFlow: a packet on a flow RST or
// FIN closed, after its close grace and before a scan emitted it (scans
// run once a second), joined the closed record; the flow table starts a
// new flow with it, as it does with a SYN at once (a FIN retransmitted
// 2.0076 s after the FIN pair, under loss: one record of 9+7 packets
// where replay had 8+6 and 1+1). The entry now starts over, the old
// record going whole to the ring buffer, on either hook.
func TestKernelLatePacketAfterGraceStartsNewFlow(t *testing.T) {
	for _, prog := range []string{"xdp", "tc"} {
		t.Run(prog, func(t *testing.T) {
			s := loadTestKernel(t, KernelConfig{MaxFlows: 64, CloseGrace: 30 * time.Millisecond})
			p := s.objs.FlowhawkXdp
			if prog == "tc" {
				p = s.objs.FlowhawkTc
			}
			run := func(fr []byte) {
				t.Helper()
				if _, err := p.Run(&ebpf.RunOptions{Data: fr}); err != nil {
					t.Fatal(err)
				}
			}
			run(pairFrame(t, layers.IPProtocolTCP, false, "S"))
			run(pairFrame(t, layers.IPProtocolTCP, true, "RA")) // closed: 2 packets
			run(pairFrame(t, layers.IPProtocolTCP, false, "A")) // within the grace: joins it
			time.Sleep(60 * time.Millisecond)
			run(pairFrame(t, layers.IPProtocolTCP, false, "A")) // past it: a new flow
			var got []string
			onFlow := func(f *Flow) {
				got = append(got, fmt.Sprintf("%v %d+%d", f.EndReason, f.Fwd.Packets, f.Bwd.Packets))
			}
			s.readEvents(time.Now(), onFlow, nil)
			if err := s.Flush(onFlow, nil); err != nil {
				t.Fatal(err)
			}
			if want := "[rst 2+1 flush 1+0]"; fmt.Sprint(got) != want {
				t.Fatalf("records %v, want %s", got, want)
			}
		})
	}
}
