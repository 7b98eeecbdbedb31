package ipfix

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// listen opens a UDP socket on loopback standing in for a collector.
func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads datagrams until n data records arrived (or a read times out,
// which fails the test: the exporter flushed everything on Close).
func receive(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var msgs [][]byte
	got := 0
	tpl := map[uint16][]Field{}
	buf := make([]byte, 65536)
	for got < n {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", got, n, err)
		}
		m := append([]byte(nil), buf[:k]...)
		msgs = append(msgs, m)
		d, err := Decode(m, tpl)
		if err != nil {
			t.Fatalf("decode message %d: %v", len(msgs), err)
		}
		got += len(d.Records)
	}
	return msgs
}

func TestExportDecodes(t *testing.T) {
	c := listen(t)
	e, err := New(Config{Addr: c.LocalAddr().String(), MaxMessage: 600, ObservationDomain: 7})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(200, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	for i, f := range flows {
		cls := ""
		if i%2 == 0 {
			cls = "BENIGN"
		}
		e.Export(f, cls)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := receive(t, c, len(flows))
	st := e.Stats()
	if st.Records != uint64(len(flows)) || st.DropQueueFull+st.DropSendError != 0 {
		t.Fatalf("stats %+v, want %d records and no drops", st, len(flows))
	}

	tpl := map[uint16][]Field{}
	var recs []DecodedRecord
	var seq uint32
	for i, m := range msgs {
		if len(m) > 600 {
			t.Errorf("message %d is %d bytes, over MaxMessage 600", i, len(m))
		}
		d, err := Decode(m, tpl)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && len(d.Records) != 0 {
			t.Errorf("first message carries data before templates")
		}
		if d.Domain != 7 {
			t.Errorf("domain %d, want 7", d.Domain)
		}
		// RFC 7011: the sequence number counts the data records sent
		// before this message.
		if d.Sequence != seq {
			t.Errorf("message %d: sequence %d, want %d", i, d.Sequence, seq)
		}
		seq += uint32(len(d.Records))
		recs = append(recs, d.Records...)
	}
	if len(recs) != len(flows) {
		t.Fatalf("%d records decoded, want %d", len(recs), len(flows))
	}
	for i, f := range flows {
		r := recs[i]
		src, dst := f.Src(), f.Dst()
		wantT := TemplateIPv4
		if !f.Key.IsIPv4() {
			wantT = TemplateIPv6
		}
		if r.Template != wantT {
			t.Fatalf("record %d template %d, want %d", i, r.Template, wantT)
		}
		var sa, da netip.Addr
		if wantT == TemplateIPv4 {
			sa = netip.AddrFrom4([4]byte(r.Values[FieldKey{0, ieSourceIPv4Address}]))
			da = netip.AddrFrom4([4]byte(r.Values[FieldKey{0, ieDestinationIPv4Address}]))
		} else {
			sa = netip.AddrFrom16([16]byte(r.Values[FieldKey{0, ieSourceIPv6Address}]))
			da = netip.AddrFrom16([16]byte(r.Values[FieldKey{0, ieDestinationIPv6Address}]))
		}
		if sa != src.Addr || da != dst.Addr {
			t.Errorf("record %d: %v -> %v, want %v -> %v", i, sa, da, src.Addr, dst.Addr)
		}
		u := func(pen uint32, id uint16) uint64 {
			v, ok := r.Uint(pen, id)
			if !ok {
				t.Fatalf("record %d: field %d/%d missing", i, pen, id)
			}
			return v
		}
		icmpIE, wantICMP := uint16(ieICMPTypeCodeIPv4), uint64(0)
		if wantT == TemplateIPv6 {
			icmpIE = ieICMPTypeCodeIPv6
		}
		if f.Key.Proto == 1 {
			wantICMP = uint64(f.ICMPType)<<8 | uint64(f.ICMPCode)
		}
		if len(r.Values[FieldKey{0, ieTCPControlBits}]) != 1 || len(r.Values[FieldKey{ReversePEN, ieTCPControlBits}]) != 1 {
			t.Errorf("record %d: TCP flags not in one byte (pmacct reads only that)", i)
		}
		checks := []struct {
			name      string
			got, want uint64
		}{
			{"icmpTypeCode", u(0, icmpIE), wantICMP},
			{"sport", u(0, ieSourceTransportPort), uint64(src.Port)},
			{"dport", u(0, ieDestinationTransportPort), uint64(dst.Port)},
			{"proto", u(0, ieProtocolIdentifier), uint64(f.Key.Proto)},
			{"vlan", u(0, ieVlanID), uint64(f.Key.VLANOuter)},
			{"octets", u(0, ieOctetDeltaCount), f.Fwd.Bytes},
			{"packets", u(0, iePacketDeltaCount), f.Fwd.Packets},
			{"reverseOctets", u(ReversePEN, ieOctetDeltaCount), f.Bwd.Bytes},
			{"reversePackets", u(ReversePEN, iePacketDeltaCount), f.Bwd.Packets},
			{"start", u(0, ieFlowStartMilliseconds), uint64(f.Start / 1e6)},
			{"end", u(0, ieFlowEndMilliseconds), uint64(f.End / 1e6)},
			{"flags", u(0, ieTCPControlBits), uint64(flagUnion(&f.Fwd))},
			{"reverseFlags", u(ReversePEN, ieTCPControlBits), uint64(flagUnion(&f.Bwd))},
			{"endReason", u(0, ieFlowEndReason), uint64(flowEndReason(f.EndReason))},
			{"fwdPayload", u(DefaultPEN, EntFwdPayloadOctets), f.Fwd.PayloadBytes},
			{"subflows", u(DefaultPEN, EntSubflowCount), f.SubflowCount},
			{"tunnel", u(DefaultPEN, EntTunnelID), uint64(f.Key.TunnelID())},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("record %d %s = %d, want %d", i, c.name, c.got, c.want)
			}
		}
		if m := math.Float64frombits(u(DefaultPEN, EntFwdPktLenMean)); math.Abs(m-f.Fwd.PayloadLen.Mean()) > 1e-9 {
			t.Errorf("record %d fwd mean %v, want %v", i, m, f.Fwd.PayloadLen.Mean())
		}
		wantCls := ""
		if i%2 == 0 {
			wantCls = "BENIGN"
		}
		if got := string(r.Values[FieldKey{DefaultPEN, EntFlowClass}]); got != wantCls {
			t.Errorf("record %d class %q, want %q", i, got, wantCls)
		}
	}
}

func TestTemplatesResent(t *testing.T) {
	c := listen(t)
	conn, err := net.Dial("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: c.LocalAddr().String(), TemplateInterval: time.Minute, FlushInterval: time.Hour}
	cfg.defaults()
	e := newExporter(cfg, conn)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return clock }
	gate := make(chan struct{})
	e.gate = gate
	go e.run()
	flows := synthFlows(3, clock)
	e.Export(flows[0], "")
	close(gate)
	// Let the sender take each record before the clock moves, so the
	// clock only moves between records.
	for e.taken.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	clock = clock.Add(2 * time.Minute)
	e.Export(flows[1], "")
	for e.taken.Load() != 2 {
		time.Sleep(time.Millisecond)
	}
	clock = clock.Add(30 * time.Second)
	e.Export(flows[2], "")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	receive(t, c, 3)
	if got := e.Stats().Templates; got != 2 {
		t.Errorf("template sets sent %d, want 2 (start, then after the refresh interval)", got)
	}
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	c := listen(t)
	conn, err := net.Dial("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: c.LocalAddr().String(), QueueSize: 16}
	cfg.defaults()
	e := newExporter(cfg, conn)
	gate := make(chan struct{})
	e.gate = gate // the sender is stuck, as behind a slow network
	go e.run()
	flows := synthFlows(50, time.Now())
	for _, f := range flows { // must return at once even though nothing drains
		e.Export(f, "")
	}
	if got := e.Stats().DropQueueFull; got != uint64(len(flows)-16) {
		t.Errorf("queue-full drops %d, want %d", got, len(flows)-16)
	}
	close(gate)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	receive(t, c, 16)
	if st := e.Stats(); st.Records != 16 {
		t.Errorf("records sent %d, want 16", st.Records)
	}
	e.Export(flows[0], "")
	if e.Stats().DropClosed != 1 || e.Losses()["closed"] != 1 {
		t.Errorf("export after close not counted: %+v", e.Stats())
	}
}

func TestCollectorRefusesNeverBlocks(t *testing.T) {
	// A port nobody listens on: the kernel answers ICMP port unreachable,
	// which makes later writes on the connected socket fail.
	l := listen(t)
	addr := l.LocalAddr().String()
	l.Close()
	e, err := New(Config{Addr: addr, MaxMessage: 512, FlushInterval: time.Millisecond, WarnEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(300, time.Now())
	for round := 0; round < 20; round++ {
		for _, f := range flows {
			e.Export(f, "")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	total := uint64(20 * len(flows))
	if st.Records+st.DropSendError+st.DropQueueFull != total {
		t.Errorf("records %d + send errors %d + queue full %d != exported %d", st.Records, st.DropSendError, st.DropQueueFull, total)
	}
	if st.DropSendError == 0 {
		t.Errorf("no send errors counted against a closed port: %+v", st)
	}
}

func TestBadAddress(t *testing.T) {
	if _, err := New(Config{Addr: "no-port"}); err == nil {
		t.Error("New accepted an address without a port")
	}
	if _, err := New(Config{Addr: "127.0.0.1:4739", MaxMessage: 100}); err == nil {
		t.Error("New accepted a 100-byte message limit")
	}
	if _, err := New(Config{Addr: "127.0.0.1:4739", PEN: ReversePEN}); err == nil {
		t.Error("New accepted the reverse PEN for flowhawk's elements")
	}
}

func TestEndReasonMapping(t *testing.T) {
	want := map[collector.EndReason]uint8{collector.EndIdle: 1, collector.EndActive: 2, collector.EndFIN: 3, collector.EndRST: 3, collector.EndFlush: 4, collector.EndEvicted: 5}
	for r, w := range want {
		if got := flowEndReason(r); got != w {
			t.Errorf("%v -> %d, want %d", r, got, w)
		}
	}
}

func FuzzDecode(f *testing.F) {
	flows := synthFlows(5, time.Unix(1700000000, 0))
	m := appendHeader(nil, 1, 0, 1)
	m = appendTemplateSet(m, DefaultPEN)
	finishMessage(m)
	f.Add(m)
	d := appendHeader(nil, 1, 0, 1)
	d = binary.BigEndian.AppendUint16(d, TemplateIPv4)
	d = binary.BigEndian.AppendUint16(d, 0)
	var r record
	r.fill(flows[0], "x")
	d = appendRecord(d, &r)
	binary.BigEndian.PutUint16(d[18:], uint16(len(d)-16))
	finishMessage(d)
	f.Add(d)
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl := map[uint16][]Field{}
		if _, err := Decode(m, tpl); err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(b, tpl); err != nil {
			// Past the message header, an error says where in the message.
			if len(b) >= msgHeaderLen && binary.BigEndian.Uint16(b) == version && int(binary.BigEndian.Uint16(b[2:])) == len(b) &&
				!strings.Contains(err.Error(), "at offset ") {
				t.Fatalf("error %q names no offset", err)
			}
		}
	})
}

func BenchmarkExport(b *testing.B) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	e, err := New(Config{Addr: c.LocalAddr().String()})
	if err != nil {
		b.Fatal(err)
	}
	flows := synthFlows(100, time.Now())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Export(flows[i%len(flows)], "BENIGN")
		i++
	}
	b.StopTimer()
	e.Close()
}

// exportOne sends flow f with class label through an exporter to a local
// socket and returns the one data record received.
func exportOne(t *testing.T, f *collector.Flow, label string) DecodedRecord {
	t.Helper()
	c := listen(t)
	e, err := New(Config{Addr: c.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	e.Export(f, label)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tpl := map[uint16][]Field{}
	var recs []DecodedRecord
	for _, m := range receive(t, c, 1) {
		d, err := Decode(m, tpl)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, d.Records...)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	return recs[0]
}

// TestTimesBefore1970 checks that a flow stamped before 1970 (a capture
// with a broken clock) is sent with time 0: the unsigned field used to
// wrap to the year 584556019.
func TestTimesBefore1970(t *testing.T) {
	f := synthFlows(1, time.Unix(-500, 0))[0]
	rec := exportOne(t, f, "")
	start, _ := rec.Uint(0, ieFlowStartMilliseconds)
	end, _ := rec.Uint(0, ieFlowEndMilliseconds)
	if f.Start >= 0 || start != 0 || end > uint64(max(f.End/1e6, 0)) {
		t.Errorf("start %d ns sent as %d ms, end %d ns as %d ms", f.Start, start, f.End, end)
	}
}

// TestLongLabelStaysUTF8 exports a class label longer than the 254 bytes a
// record carries, made of 2-byte characters: the cut must fall between
// characters, since an IPFIX string is UTF-8 (RFC 7011 6.1.6).
func TestLongLabelStaysUTF8(t *testing.T) {
	label := "x" + strings.Repeat("é", 200) // 401 bytes; byte 254 is inside an é
	rec := exportOne(t, synthFlows(1, time.Unix(1e9, 0))[0], label)
	got := rec.Values[FieldKey{DefaultPEN, EntFlowClass}]
	if !utf8.Valid(got) || len(got) != 253 || !strings.HasPrefix(label, string(got)) {
		t.Errorf("label sent as %d bytes (valid UTF-8: %v), want its first 253 bytes", len(got), utf8.Valid(got))
	}
}

// TestRatePaces checks that Rate spaces datagrams: 6 messages at 50 per
// second take at least 5 gaps of 20 ms.
func TestRatePaces(t *testing.T) {
	c := listen(t)
	e, err := New(Config{Addr: c.LocalAddr().String(), MaxMessage: 600, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, f := range synthFlows(20, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
		e.Export(f, "")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.Records != 20 || st.Messages < 3 {
		t.Fatalf("stats %+v", st)
	}
	if el, min := time.Since(start), time.Duration(st.Messages-1)*20*time.Millisecond; el < min {
		t.Errorf("%d messages in %v, want at least %v at 50 a second", st.Messages, el, min)
	}
}

// TestTemplatesAfterCollectorReturns stops the collector (its port answers
// ICMP unreachable, so sends fail), then starts it again on the same port:
// the first message it gets must be preceded by the templates, not data it
// cannot decode until the next periodic refresh (30 s by default).
func TestTemplatesAfterCollectorReturns(t *testing.T) {
	c := listen(t)
	addr := c.LocalAddr().(*net.UDPAddr)
	e, err := New(Config{Addr: addr.String(), FlushInterval: 5 * time.Millisecond, Linger: time.Millisecond, WarnEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	flows := synthFlows(20, time.Now())
	waitFor := func(what string, cond func(Stats) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(e.Stats()); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, e.Stats())
			}
		}
	}
	e.Export(flows[0], "")
	waitFor("the first record", func(s Stats) bool { return s.Records == 1 })
	receive(t, c, 1)
	c.Close()

	// Collector down: export until a send fails.
	for i := 1; e.Stats().DropSendError == 0; i++ {
		if i == len(flows) {
			t.Fatalf("no send error against a closed port: %+v", e.Stats())
		}
		e.Export(flows[i], "")
		time.Sleep(20 * time.Millisecond)
	}

	// Collector back, with no templates.
	c2, err := net.ListenUDP("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	before := e.Stats().Records
	e.Export(flows[len(flows)-1], "")
	waitFor("a record after the collector returned", func(s Stats) bool { return s.Records > before })
	tpl := map[uint16][]Field{}
	buf := make([]byte, 65536)
	for got := 0; got == 0; {
		_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c2.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(buf[:n], tpl)
		if err != nil {
			t.Fatal(err)
		}
		if m.UnknownTemplates > 0 {
			t.Fatalf("the returned collector got data before templates (%d sets it cannot decode)", m.UnknownTemplates)
		}
		got = len(m.Records)
	}
}

// waitingExporter starts an exporter of cfg to a test collector whose
// sender waits for gate to close, and a goroutine exporting 50 flows,
// which closes exported once Export returned for every one.
func waitingExporter(t *testing.T, cfg Config) (e *Exporter, gate chan struct{}, flows []*collector.Flow, exported chan struct{}) {
	t.Helper()
	c := listen(t)
	conn, err := net.Dial("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = c.LocalAddr().String()
	cfg.defaults()
	e = newExporter(cfg, conn)
	gate = make(chan struct{})
	e.gate = gate
	go e.run()
	flows = synthFlows(50, time.Now())
	exported = make(chan struct{})
	go func() {
		for _, f := range flows {
			e.Export(f, "")
		}
		close(exported)
	}()
	return e, gate, flows, exported
}

// TestWaitLosesNothing checks that with Wait a full queue holds Export back
// until the sender takes the records, instead of dropping them.
func TestWaitLosesNothing(t *testing.T) {
	e, gate, flows, exported := waitingExporter(t, Config{QueueSize: 16, Wait: true})
	select {
	case <-exported:
		t.Fatalf("Export returned with the sender stuck and the queue full: %+v", e.Stats())
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	<-exported
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Records != uint64(len(flows)) || st.DropQueueFull != 0 {
		t.Errorf("stats %+v, want %d records and no queue-full drop", st, len(flows))
	}
}

// TestCloseLogsHeldBackDrops checks that Close logs the final drop count
// when the rate-limited warnings held some back: the one warning shown
// counted 8 of 34 records lost to a closed port.
func TestCloseLogsHeldBackDrops(t *testing.T) {
	var buf syncbuf.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	l := listen(t)
	addr := l.LocalAddr().String()
	l.Close()
	e, err := New(Config{Addr: addr, MaxMessage: 512, WarnEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(40, time.Now())
	for _, f := range flows {
		e.Export(f, "")
		time.Sleep(time.Millisecond)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.DropSendError == 0 {
		t.Fatalf("no send error against a closed port: %+v", st)
	}
	want := fmt.Sprintf("send_error=%d", st.DropSendError)
	if !strings.Contains(buf.String(), want) {
		t.Errorf("log does not show the final %s:\n%s", want, buf.String())
	}
}

// TestStopWaitingEndsTheWait checks that StopWaiting releases an Export
// held back by a full queue, and that what follows is dropped and
// counted: a replay stopped by Ctrl-C with --ipfix-rate 1 went on sending
// its remaining flows, one datagram a second, for minutes.
func TestStopWaitingEndsTheWait(t *testing.T) {
	// One record a datagram at one datagram a second: the 16 queued
	// would take 16 s to send at the pace.
	e, gate, flows, exported := waitingExporter(t, Config{QueueSize: 16, Wait: true, Rate: 1, MaxMessage: 200})
	time.Sleep(50 * time.Millisecond)
	e.StopWaiting()
	select {
	case <-exported:
	case <-time.After(5 * time.Second):
		t.Fatal("Export still waiting 5 s after StopWaiting")
	}
	close(gate)
	start := time.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v: the queue was still sent at the pace", d)
	}
	if st := e.Stats(); st.DropQueueFull == 0 || st.Records+st.DropQueueFull != uint64(len(flows)) {
		t.Errorf("stats %+v: want the records past the queue dropped and counted, %d in all", st, len(flows))
	}
}
