//go:build linux

package collector

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tcpSeg builds one TCP segment of a conversation between 10.199.0.1:40000
// (client) and 10.199.0.2:80 (server).
func tcpSeg(t testing.TB, fromClient bool, flags string, payload int) []byte {
	ip := ip4(layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Window: 1000, Seq: 1}
	if !fromClient {
		ip.SrcIP, ip.DstIP = net.IP{10, 199, 0, 2}, net.IP{10, 199, 0, 1}
		tcp.SrcPort, tcp.DstPort, tcp.Window = 80, 40000, 2000
	}
	setFlags(tcp, flags)
	return kframe(t, eth(layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(make([]byte, payload)))
}

// setFlags sets the TCP flags named by letters: S SYN, A ACK, F FIN, R RST,
// P PSH, C CWR.
func setFlags(tcp *layers.TCP, flags string) {
	for _, c := range flags {
		switch c {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'P':
			tcp.PSH = true
		case 'C':
			tcp.CWR = true
		}
	}
}

type seg struct {
	client  bool
	flags   string
	payload int
}

// runConversation sends segs through XDP (server-to-client) and TC
// (client-to-server), as a host would see them, and through the pcap
// path's decoder and table; it returns both paths' flows.
func runConversation(t *testing.T, s *KernelSource, segs []seg, scanAfter time.Duration) (kernel, table []*Flow) {
	t.Helper()
	tab := NewTable(TableConfig{Samples: 32}, func(f *Flow) { table = append(table, f) })
	dec := NewDecoder(DecoderOptions{})
	onFlow := func(f *Flow) { kernel = append(kernel, f) }
	for i, sg := range segs {
		fr := tcpSeg(t, sg.client, sg.flags, sg.payload)
		prog := s.objs.FlowhawkXdp
		if sg.client {
			prog = s.objs.FlowhawkTc
		}
		if _, err := prog.Run(&ebpf.RunOptions{Data: fr}); err != nil {
			t.Fatal(err)
		}
		var p Packet
		if dec.Decode(&p, fr, 1, int64(i+1)*1e6, uint32(len(fr))) != ResultIP {
			t.Fatalf("segment %d does not decode", i)
		}
		tab.Add(&p)
		s.readEvents(time.Now(), onFlow, nil)
	}
	time.Sleep(scanAfter)
	if err := s.Scan(onFlow); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(onFlow, nil); err != nil {
		t.Fatal(err)
	}
	tab.Flush()
	return kernel, table
}

func sameCounts(t *testing.T, k, p *Flow) {
	t.Helper()
	if k.Key != p.Key || k.FwdIsLo != p.FwdIsLo || k.EndReason != p.EndReason {
		t.Errorf("kernel %v lo %v end %v; table %v lo %v end %v", k.Key, k.FwdIsLo, k.EndReason, p.Key, p.FwdIsLo, p.EndReason)
	}
	for _, d := range []struct{ k, p *DirStats }{{&k.Fwd, &p.Fwd}, {&k.Bwd, &p.Bwd}} {
		if d.k.Packets != d.p.Packets || d.k.Bytes != d.p.Bytes || d.k.FlagCounts != d.p.FlagCounts ||
			d.k.InitWindow != d.p.InitWindow || d.k.PayloadBytes != d.p.PayloadBytes || d.k.DataPackets != d.p.DataPackets {
			t.Errorf("direction: kernel %d pkts %d bytes flags %v win %d; table %d pkts %d bytes flags %v win %d",
				d.k.Packets, d.k.Bytes, d.k.FlagCounts, d.k.InitWindow, d.p.Packets, d.p.Bytes, d.p.FlagCounts, d.p.InitWindow)
		}
	}
}

// TestKernelTCPLifecycle checks the kernel path's flow rules against the
// flow table's on the same segments: FIN/FIN close emitted after the grace
// by a scan, RST, a SYN+ACK seen first (initiator is its receiver), and a
// new SYN reusing a closed flow's key.
func TestKernelTCPLifecycle(t *testing.T) {
	cases := []struct {
		name  string
		segs  []seg
		flows int
	}{
		{"fin close", []seg{{true, "S", 0}, {false, "SA", 0}, {true, "A", 0}, {true, "PA", 100}, {false, "PA", 1000},
			{true, "FA", 0}, {false, "FA", 0}, {true, "A", 0}}, 1},
		{"rst", []seg{{true, "S", 0}, {false, "RA", 0}}, 1},
		{"synack first", []seg{{false, "SA", 0}, {true, "A", 0}, {true, "PA", 10}}, 1},
		{"reuse after close", []seg{{true, "S", 0}, {false, "SA", 0}, {true, "FA", 0}, {false, "FA", 0},
			{true, "S", 0}, {false, "SA", 0}, {true, "A", 0}}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := loadTestKernel(t, KernelConfig{MaxFlows: 64, CloseGrace: 30 * time.Millisecond})
			kernel, table := runConversation(t, s, c.segs, 60*time.Millisecond)
			if len(kernel) != c.flows || len(table) != c.flows {
				t.Fatalf("kernel %d flows, table %d, want %d", len(kernel), len(table), c.flows)
			}
			for i := range kernel {
				sameCounts(t, kernel[i], table[i])
			}
			if c.name == "fin close" && kernel[0].EndReason != EndFIN {
				t.Errorf("end %v, want fin", kernel[0].EndReason)
			}
		})
	}
}

// TestKernelSampling accounts 1 packet in 4 and checks that the record is
// marked and scaled, and that skipped packets are counted.
func TestKernelSampling(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, SampleRate: 4})
	fr := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1000, DstPort: 2000}, gopacket.Payload(make([]byte, 72)))
	const n = 4000
	if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: fr, Repeat: n}); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Packets < n || st.Accounted+st.SampledOut != st.Packets {
		t.Fatalf("packets %d accounted %d sampled out %d", st.Packets, st.Accounted, st.SampledOut)
	}
	// Binomial(n, 1/4): 1000 +- 27; 6 sigma either way.
	if st.Accounted < 840 || st.Accounted > 1160 {
		t.Errorf("accounted %d of %d at 1 in 4", st.Accounted, st.Packets)
	}
	var flows []*Flow
	if err := s.Flush(func(f *Flow) { flows = append(flows, f) }, nil); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 {
		t.Fatalf("%d flows", len(flows))
	}
	f := flows[0]
	if f.Sampled != 4 || f.Fwd.Packets != 4*st.Accounted || f.Fwd.Bytes != 4*100*st.Accounted || f.Fwd.IPLen.Mean() != 100 {
		t.Errorf("sampled %d packets %d bytes %d mean %v; accounted %d", f.Sampled, f.Fwd.Packets, f.Fwd.Bytes, f.Fwd.IPLen.Mean(), st.Accounted)
	}
}

// TestKernelTimeouts checks that a scan ends idle flows (EndIdle) and cuts
// flows past the active timeout into partial records (EndActive), after
// which the next packet starts a new record.
func TestKernelTimeouts(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 300 * time.Millisecond, ActiveTimeout: 10 * time.Second})
	udp := func(sport uint16) []byte {
		return kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 9})
	}
	if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: udp(1)}); err != nil {
		t.Fatal(err)
	}
	var got []*Flow
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil || len(got) != 0 {
		t.Fatalf("fresh flow ended early: %v %d", err, len(got))
	}
	time.Sleep(400 * time.Millisecond)
	s.readEvents(time.Now(), nil, nil)
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].EndReason != EndIdle || got[0].Partial || len(got[0].Samples) != 1 {
		t.Fatalf("idle: %d flows %+v", len(got), got)
	}

	s2 := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 10 * time.Second, ActiveTimeout: 40 * time.Millisecond})
	got = got[:0]
	for i := 0; i < 3; i++ {
		if _, err := s2.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: udp(2)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Millisecond)
		s2.readEvents(time.Now(), nil, nil)
		if err := s2.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Flush(func(f *Flow) { got = append(got, f) }, nil); err != nil {
		t.Fatal(err)
	}
	// However the scans fell (the machine may be slow), every record but
	// the last is an active-timeout cut, the last is the flush, and no
	// packet is lost.
	var total uint64
	ok := len(got) >= 2 && got[len(got)-1].EndReason == EndFlush
	for i, f := range got {
		total += f.Packets()
		if i < len(got)-1 && (f.EndReason != EndActive || !f.Partial) {
			ok = false
		}
	}
	if !ok || total != 3 {
		for _, f := range got {
			t.Logf("%v %v partial %v packets %d", f.Key, f.EndReason, f.Partial, f.Packets())
		}
		t.Fatalf("active timeout: want an EndActive partial record then the rest at flush")
	}
}

// TestKernelRingFull fills a one-page ring buffer without reading it: the
// dropped samples are counted, and the flows whose samples were lost are
// built from the kernel counters with exact counts.
func TestKernelRingFull(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024, RingSize: 4096})
	for i := 0; i < 200; i++ {
		fr := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: layers.UDPPort(1000 + i), DstPort: 9}, gopacket.Payload(make([]byte, 12)))
		// Three single runs: with Repeat, an interrupted syscall is retried
		// and may run the program more often.
		for range 3 {
			if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: fr}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := s.Stats()
	if st.RingbufFull == 0 {
		t.Fatalf("a 4 KiB ring took 600 samples: %+v", st)
	}
	var flows []*Flow
	if err := s.Flush(func(f *Flow) { flows = append(flows, f) }, nil); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 200 {
		t.Fatalf("%d flows, want 200", len(flows))
	}
	short := 0
	for _, f := range flows {
		if f.Fwd.Packets != 3 || f.Fwd.Bytes != 3*40 || f.Fwd.PayloadLen.Mean() != 12 || f.Bwd.Packets != 0 {
			t.Errorf("%v: %d packets %d bytes payload mean %v", f.Key, f.Fwd.Packets, f.Fwd.Bytes, f.Fwd.PayloadLen.Mean())
		}
		if len(f.Samples) < 3 {
			short++
		}
	}
	if short == 0 {
		t.Errorf("every flow kept all its samples despite %d ring-buffer drops", st.RingbufFull)
	}
	t.Logf("ring full %d; %d of 200 flows built from counters with missing samples", st.RingbufFull, short)
}

// TestKernelActiveKeepsDirection is TestActiveTimeoutKeepsDirection for the
// kernel path: the entry a packet after the cut creates starts from the
// side that sends it, and the collector gives the record the cut flow's
// direction.
func TestKernelActiveKeepsDirection(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 10 * time.Second, ActiveTimeout: 40 * time.Millisecond})
	frame := func(reply bool) []byte { return pairFrame(t, layers.IPProtocolUDP, reply, "") }
	var got []*Flow
	for _, reply := range []bool{false, true} {
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: frame(reply)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
		s.readEvents(time.Now(), nil, nil)
		if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0].EndReason != EndActive || got[1].EndReason != EndActive {
		t.Fatalf("%d records, want two active-timeout cuts", len(got))
	}
	if got[1].FwdIsLo != got[0].FwdIsLo || got[1].Fwd.Packets != 0 || got[1].Bwd.Packets != 1 {
		t.Errorf("after the cut: fwd is lo %v (was %v), %d fwd and %d bwd packets; want the reply backward",
			got[1].FwdIsLo, got[0].FwdIsLo, got[1].Fwd.Packets, got[1].Bwd.Packets)
	}
}

// TestKernelScanEmitsInDueOrder checks that the flows one scan ends leave
// in the order the flow table would end them, by when each was due (here
// when its RST closed it, plus the grace), not in the kernel map's hash
// order: the NSL-KDD window features depend on that order, and an nmap
// scan's flows, ended by one scan, had count 1 to 8 where replay gave
// 1 to 14.
func TestKernelScanEmitsInDueOrder(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 256, CloseGrace: 50 * time.Millisecond})
	const n = 40
	for i := range n {
		for _, flags := range []string{"S", "R"} {
			ip := ip4(layers.IPProtocolTCP)
			tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(1000 + i), Window: 1000, Seq: 1}
			setFlags(tcp, flags)
			if _, err := s.objs.FlowhawkTc.Run(&ebpf.RunOptions{Data: kframe(t, eth(layers.EthernetTypeIPv4), ip, tcp)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	var got []*Flow
	onFlow := func(f *Flow) { got = append(got, f) }
	s.readEvents(time.Now(), onFlow, nil)
	if err := s.Scan(onFlow); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("one scan ended %d flows, want %d", len(got), n)
	}
	for i, f := range got {
		if f.EndReason != EndRST || f.Key.PortHi != uint16(1000+i) {
			t.Fatalf("record %d: port %d end %v; want the flows in the order they closed (port %d, rst)", i, f.Key.PortHi, f.EndReason, 1000+i)
		}
	}
}

// TestKernelReadEventsDeadline: Run reads the ring buffer until the next
// scan is due, then scans the flow map. Under a stream of ring-buffer
// records the reader cannot keep up with (a DNS flood, every packet a
// snippet, and a consumer slower than the program), the ring never ran
// empty, so readEvents never came back: no scan ran, no flow was emitted
// or evicted, and the loss warnings stopped while the flood lasted.
func TestKernelReadEventsDeadline(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024, RingSize: 1 << 20})
	q := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}
	fr := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 33333, DstPort: 53}, gopacket.Payload(q))
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		end := time.Now().Add(5 * time.Second) // the old reader returned only once this flood ended
		for time.Now().Before(end) {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: fr, Repeat: 256}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // the ring fills
	// A consumer slower than the program.
	slow := func(*Packet) {
		for t0 := time.Now(); time.Since(t0) < 20*time.Microsecond; {
		}
	}
	start := time.Now()
	n0 := s.Stats().Events
	if err := s.readEventsUntil(start.Add(100*time.Millisecond), nil, slow); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("readEventsUntil with a 100 ms deadline returned after %v under a flood of ring-buffer records", took)
	}
	if s.Stats().Events == n0 {
		t.Fatal("no ring-buffer record read")
	}
}

// TestKernelActiveTimeoutSparesClosedFlow is
// TestTableActiveTimeoutSparesClosedFlow for the kernel path: a scan after
// the active timeout of a connection that FIN/FIN closed, still in its close
// grace, cut it as an active (partial) record.
func TestKernelActiveTimeoutSparesClosedFlow(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, ActiveTimeout: 40 * time.Millisecond, CloseGrace: 10 * time.Second})
	var got []*Flow
	onFlow := func(f *Flow) { got = append(got, f) }
	for _, sg := range []seg{{true, "S", 0}, {false, "SA", 0}, {true, "A", 0}, {true, "FA", 0}, {false, "FA", 0}} {
		prog := s.objs.FlowhawkXdp
		if sg.client {
			prog = s.objs.FlowhawkTc
		}
		if _, err := prog.Run(&ebpf.RunOptions{Data: tcpSeg(t, sg.client, sg.flags, sg.payload)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond)
	s.readEvents(time.Now(), onFlow, nil)
	if err := s.Scan(onFlow); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("the scan in the close grace emitted %d records (first: end %v, partial %v); want none", len(got), got[0].EndReason, got[0].Partial)
	}
	if err := s.Flush(onFlow, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].EndReason != EndFIN || got[0].Partial || got[0].Packets() != 5 {
		t.Fatalf("%d records; want one of 5 packets ended by FIN", len(got))
	}
}

// TestKernelLateSamples: samples read after their flow's record was
// emitted (a ring buffer read behind the scans) are dropped at the next
// scan and counted in SamplesLate, a loss; they used to wait in pending,
// uncounted, for idle timeout + grace + a minute, and a flood left
// hundreds of thousands of keys there. Samples of a live flow stay, and
// MapEntries never goes below 0.
func TestKernelLateSamples(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 100 * time.Millisecond, ActiveTimeout: 10 * time.Second})
	udp := func(sport uint16) []byte {
		return kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 9})
	}
	for range 3 {
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: udp(1)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(150 * time.Millisecond)
	// The flow times out and is emitted before its samples are read.
	var got []*Flow
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil || len(got) != 1 || len(got[0].Samples) != 0 {
		t.Fatalf("scan before reading: %v, %d flows", err, len(got))
	}
	// A live flow whose samples are read in time.
	if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: udp(2)}); err != nil {
		t.Fatal(err)
	}
	s.readEvents(time.Now(), nil, nil)
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.SamplesLate != 3 || st.PendingSamples != 1 || st.MapEntries != 1 || len(got) != 1 {
		t.Errorf("after the next scan: %d samples late, %d pending, %d map entries, %d records; want 3, 1, 1, 1", st.SamplesLate, st.PendingSamples, st.MapEntries, len(got))
	}
	// A SYN that reuses the key of a flow RST closed restarts the entry
	// in place and sends the old record through the ring buffer: a scan
	// between that and the next read must keep the old record's samples
	// (the walk finds the key, with the new incarnation).
	run := func(frame []byte) {
		t.Helper()
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: frame}); err != nil {
			t.Fatal(err)
		}
	}
	run(tcpSeg(t, true, "S", 0))
	run(tcpSeg(t, true, "R", 0))
	s.readEvents(time.Now(), nil, nil)
	run(tcpSeg(t, true, "S", 0)) // the reuse
	got = got[:0]
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	s.readEvents(time.Now(), func(f *Flow) { got = append(got, f) }, nil)
	if len(got) != 1 || got[0].EndReason != EndRST || len(got[0].Samples) != 2 || s.Stats().SamplesLate != 3 {
		var b []string
		for _, f := range got {
			b = append(b, fmt.Sprintf("%v %d packets %d samples", f.EndReason, f.Packets(), len(f.Samples)))
		}
		t.Errorf("reused key: records %v, %d samples late; want one rst record with its 2 samples, still 3 late", b, s.Stats().SamplesLate)
	}
	if l := s.Losses(); l["samples_late"] != 3 {
		t.Errorf("losses %v, want samples_late 3", l)
	}
	var b strings.Builder
	st.Print(&b)
	if !strings.Contains(b.String(), "samples    3 read after their flow's record") {
		t.Errorf("summary does not report the late samples:\n%s", b.String())
	}
}

// TestKernelActiveCutKeepsFINs is TestActiveCutKeepsFINs on the kernel
// path: the active timeout cuts a connection between its two FINs (once,
// or twice with an ACK between). The record that goes on with it must end
// as FIN after the close grace, as the flow table's does, and a new
// connection on the same ports later be a record of its own. The kernel's
// new entry had seen only the second FIN, so it stayed open until the
// idle timeout (10 s here) and the new SYN joined it.
func TestKernelActiveCutKeepsFINs(t *testing.T) {
	for _, cuts := range []int{1, 2} {
		t.Run(fmt.Sprintf("cuts=%d", cuts), func(t *testing.T) { testKernelActiveCutKeepsFINs(t, cuts) })
	}
}

func testKernelActiveCutKeepsFINs(t *testing.T, cuts int) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, IdleTimeout: 10 * time.Second, ActiveTimeout: 100 * time.Millisecond, CloseGrace: 50 * time.Millisecond})
	send := func(reply bool, flags string) {
		t.Helper()
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: pairFrame(t, layers.IPProtocolTCP, reply, flags)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Flow
	scan := func() {
		t.Helper()
		s.readEvents(time.Now(), nil, nil)
		if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
			t.Fatal(err)
		}
	}
	send(false, "S")
	send(true, "SA")
	send(false, "A")
	send(false, "FA") // the client's FIN before the cut
	time.Sleep(150 * time.Millisecond)
	scan() // the active timeout cuts the flow
	wantReasons, wantPackets := []EndReason{EndActive}, []uint64{4}
	if cuts == 2 {
		send(true, "A") // the server goes on sending, past another cut
		time.Sleep(150 * time.Millisecond)
		scan()
		wantReasons, wantPackets = append(wantReasons, EndActive), append(wantPackets, 1)
	}
	send(true, "FA") // the server's FIN after the cut
	send(false, "A")
	time.Sleep(80 * time.Millisecond)
	scan() // past the close grace: the continuation ends
	send(false, "S")
	if err := s.Flush(func(f *Flow) { got = append(got, f) }, nil); err != nil {
		t.Fatal(err)
	}
	wantReasons, wantPackets = append(wantReasons, EndFIN, EndFlush), append(wantPackets, 2, 1)
	var reasons []EndReason
	var pk []uint64
	for _, f := range got {
		reasons = append(reasons, f.EndReason)
		pk = append(pk, f.Packets())
	}
	if !slices.Equal(reasons, wantReasons) || !slices.Equal(pk, wantPackets) {
		t.Fatalf("records end %v with %v packets; want %v with %v", reasons, pk, wantReasons, wantPackets)
	}
	if f := got[cuts]; f.FwdIsLo != got[0].FwdIsLo || f.Fwd.Packets != 1 || f.Bwd.Packets != 1 {
		t.Errorf("continuation: fwd is lo %v (was %v), %d+%d packets; want the client forward, 1+1", f.FwdIsLo, got[0].FwdIsLo, f.Fwd.Packets, f.Bwd.Packets)
	}
}
