package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parquet-go/parquet-go"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/export/report"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/natstest"
	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

func synthFlows(n, idBase int) []*collector.Flow {
	out := make([]*collector.Flow, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).As16()
		b := netip.MustParseAddr("192.0.2.10").As16()
		k, lo := collector.MakeKey(&a, &b, uint16(1024+i%60000), 443, 6, 0, 0)
		f := &collector.Flow{ID: uint64(idBase + i), Key: k, FwdIsLo: lo, Start: int64(1.7e18) + int64(i)*1e6, End: int64(1.7e18) + int64(i)*1e6 + 5e5, EndReason: collector.EndFIN}
		f.Fwd.Packets, f.Fwd.Bytes, f.Bwd.Packets, f.Bwd.Bytes = uint64(1+i%5), uint64(100+i), uint64(i%3), uint64(50*(i%3))
		f.Fwd.FlagCounts[1] = 1
		out[i] = f
	}
	return out
}

// jsConnect connects to the NATS server at url for the rest of the test.
func jsConnect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamMsgs returns the number of messages the FLOWHAWK stream holds.
func streamMsgs(t *testing.T, url string) uint64 {
	t.Helper()
	js := jsConnect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "FLOWHAWK")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// consume reads every record (JSON line) of subject from the stream.
func consume(t *testing.T, url, subject string, want int) [][]byte {
	t.Helper()
	js := jsConnect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "FLOWHAWK", jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for len(recs) < want {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			lines := bytes.Split(bytes.TrimRight(m.Data(), "\n"), []byte("\n"))
			if h := m.Headers().Get(RecordsHeader); h != fmt.Sprint(len(lines)) {
				t.Errorf("message with %d records has %s header %q", len(lines), RecordsHeader, h)
			}
			recs = append(recs, lines...)
			n++
		}
		if n == 0 {
			break
		}
	}
	return recs
}

func TestPublishConsume(t *testing.T) {
	srv := natstest.Start(t)
	x, err := features.New(features.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true, Columns: x.Columns()})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(300, 1)
	row := x.NewRow()
	for i, f := range flows {
		x.Fill(f, nil, row)
		p.Export(f, row, []string{"BENIGN", "PortScan"}[i%2])
	}
	for i := 0; i < 7; i++ {
		p.Alert([]byte(fmt.Sprintf(`{"@timestamp":"2026-11-23T10:00:0%dZ","rule":{"name":"portscan"},"source":{"ip":"10.0.0.%d"}}`, i, i)))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != 307 || st.DropQueueFull+st.DropShutdown+st.DropEncode != 0 {
		t.Fatalf("stats %+v, want 307 published and no drops", st)
	}
	// Published counts records; Messages the JetStream messages holding
	// them, which is what the stream stores and an operator compares with.
	if got, want := p.Stats().Messages, streamMsgs(t, srv.URL()); got != want || got == 0 || got >= 307 {
		t.Errorf("Stats().Messages = %d, the stream holds %d messages (for 307 records)", got, want)
	}
	msgs := consume(t, srv.URL(), FlowSubject("gw1"), len(flows))
	if len(msgs) != len(flows) {
		t.Fatalf("consumed %d flows, want %d", len(msgs), len(flows))
	}
	for i, m := range msgs {
		var r FlowRecord
		if err := json.Unmarshal(m, &r); err != nil {
			t.Fatalf("flow %d: %v: %s", i, err, m)
		}
		f := flows[r.ID-1]
		if r.SrcIP != f.Src().Addr.String() || r.FwdBytes != f.Fwd.Bytes || r.BwdPackets != f.Bwd.Packets || r.Sensor != "gw1" || r.FwdFlags != 2 {
			t.Errorf("flow %d: %+v does not match %v", i, r, f.Key)
		}
		if v, ok := r.Features["Total Fwd Packets"].(float64); !ok || v != float64(f.Fwd.Packets) {
			t.Errorf("flow %d: feature Total Fwd Packets = %v, want %d", i, r.Features["Total Fwd Packets"], f.Fwd.Packets)
		}
	}
	alerts := consume(t, srv.URL(), AlertSubject("gw1"), 7)
	if len(alerts) != 7 || !strings.Contains(string(alerts[3]), `"10.0.0.3"`) {
		t.Fatalf("alerts: got %d, want 7 in order", len(alerts))
	}
}

// TestBrokerRestartLosesNothing kills the broker mid-stream, keeps
// exporting, restarts it, and checks that every record arrived exactly once.
func TestBrokerRestartLosesNothing(t *testing.T) {
	srv := natstest.Start(t)
	p, err := New(Config{URL: srv.URL(), Sensor: "gw2", CreateStream: true, BufferSize: 10000, AckTimeout: time.Second, CloseTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(3000, 1)
	for _, f := range flows[:1000] {
		p.Export(f, nil, "")
	}
	for p.Stats().Published < 500 { // mid-stream: some delivered, some not
		time.Sleep(5 * time.Millisecond)
	}
	srv.Kill()
	for _, f := range flows[1000:2000] { // broker down: buffered locally
		p.Export(f, nil, "")
	}
	time.Sleep(300 * time.Millisecond)
	srv.Start()
	for _, f := range flows[2000:] {
		p.Export(f, nil, "")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.DropQueueFull+st.DropShutdown+st.DropEncode != 0 {
		t.Fatalf("drops within the buffer: %+v", st)
	}
	t.Logf("stats after restart: %+v", st)
	msgs := consume(t, srv.URL(), FlowSubject("gw2"), len(flows))
	seen := make(map[uint64]int)
	for _, m := range msgs {
		var r FlowRecord
		if err := json.Unmarshal(m, &r); err != nil {
			t.Fatal(err)
		}
		seen[r.ID]++
	}
	missing, dup := 0, 0
	for _, f := range flows {
		switch seen[f.ID] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing != 0 || dup != 0 {
		t.Fatalf("%d of %d flows missing, %d duplicated (consumed %d)", missing, len(flows), dup, len(msgs))
	}
}

// TestBrokerDownNeverBlocks exports into a publisher whose broker is not
// there: Export returns at once, the buffer fills, the overflow and the
// undelivered rest are counted.
func TestBrokerDownNeverBlocks(t *testing.T) {
	port := natstest.FreePort(t) // nothing listens: connection refused
	p, err := New(Config{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), BufferSize: 100, Batch: 10, CloseTimeout: 200 * time.Millisecond, AckTimeout: 100 * time.Millisecond, WarnEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(1000, 1)
	for _, f := range flows {
		p.Export(f, nil, "")
	}
	if err := p.Close(); err == nil {
		t.Error("Close reported no undelivered records")
	}
	st := p.Stats()
	if st.DropQueueFull == 0 {
		t.Errorf("no queue-full drops with a 100-record buffer and 1000 records: %+v", st)
	}
	if got := st.Published + st.DropQueueFull + st.DropShutdown; got != 1000 {
		t.Errorf("published %d + queue full %d + shutdown %d = %d, want 1000", st.Published, st.DropQueueFull, st.DropShutdown, got)
	}
	if p.Losses()["queue_full"] != st.DropQueueFull {
		t.Errorf("Losses disagrees with Stats")
	}
}

// TestBrokerSilentNeverBlocks points the publisher at a server that accepts
// TCP connections but never speaks (a hung broker).
func TestBrokerSilentNeverBlocks(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p, err := New(Config{URL: "nats://" + l.Addr().String(), BufferSize: 50, CloseTimeout: 100 * time.Millisecond, WarnEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(200, 1) {
		p.Export(f, nil, "")
	}
	_ = p.Close()
	st := p.Stats()
	if st.Published != 0 || st.DropQueueFull+st.DropShutdown != 200 {
		t.Errorf("hung broker: %+v, want 200 counted drops", st)
	}
}

func TestMarshalMatchesStruct(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := synthFlows(1, 5)[0]
	f.Key.VLANOuter = 12
	f.Key.SetTunnelID(5001)
	row := x.NewRow()
	x.Fill(f, nil, row)
	r := take(f, row, "odd \"class\"\n<é>", true)
	b := r.marshal("s1", x.Columns(), nil)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var got FlowRecord
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Class != r.class || !got.Start.Equal(time.Unix(0, f.Start)) || got.Sensor != "s1" || got.SrcIP != f.Src().Addr.String() || got.VLAN != 12 || got.Tunnel != 5001 || got.ID != 5 || got.FwdFlags != 2 || got.EndReason != "fin" {
		t.Errorf("round trip: %+v", got)
	}
	nnum := 0
	for _, c := range x.Columns() {
		if c.Numeric() {
			nnum++
			if _, ok := got.Features[c.Name].(float64); !ok {
				t.Errorf("feature %q missing or not a number", c.Name)
			}
		} else if _, ok := got.Features[c.Name].(string); !ok {
			t.Errorf("text feature %q missing", c.Name)
		}
	}
	if nnum == 0 {
		t.Fatal("no numeric features")
	}
}

func BenchmarkMarshal(b *testing.B) {
	x, _ := features.New(features.DefaultConfig())
	f := synthFlows(1, 5)[0]
	row := x.NewRow()
	x.Fill(f, nil, row)
	buf := make([]byte, 0, 8192)
	b.Run("features", func(b *testing.B) {
		r := take(f, row, "BENIGN", true)
		b.ReportAllocs()
		for b.Loop() {
			buf = r.marshal("s1", x.Columns(), buf[:0])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("core", func(b *testing.B) {
		r := take(f, nil, "BENIGN", false)
		b.ReportAllocs()
		for b.Loop() {
			buf = r.marshal("s1", x.Columns(), buf[:0])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("proto-features", func(b *testing.B) {
		r := take(f, row, "BENIGN", true)
		b.ReportAllocs()
		for b.Loop() {
			buf = r.marshalProto("s1", x.Columns(), buf[:0])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("proto-core", func(b *testing.B) {
		r := take(f, nil, "BENIGN", false)
		b.ReportAllocs()
		for b.Loop() {
			buf = r.marshalProto("s1", x.Columns(), buf[:0])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.SetBytes(int64(len(buf)))
}

// TestProtoMatchesJSON encodes the same flows as protobuf and as JSON and
// checks that both decode to the same FlowRecord.
func TestProtoMatchesJSON(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	var pb []byte
	var want []FlowRecord
	for i, f := range synthFlows(20, 1) {
		if i%3 == 0 {
			a := netip.MustParseAddr("2001:db8::7").As16()
			f.Key.AddrLo = a
			f.Key.VLANOuter, f.Key.VLANInner, f.Partial = 7, 9, true
			f.Key.SetTunnelID(0xabcdef)
		}
		x.Fill(f, nil, row)
		s := take(f, row, []string{"", "BENIGN"}[i%2], i%2 == 0)
		pb = s.marshalProto("gw", x.Columns(), pb)
		var r FlowRecord
		if err := json.Unmarshal(s.marshal("gw", x.Columns(), nil), &r); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	for i := 0; len(pb) > 0; i++ {
		got, n, err := DecodeFlowProto(pb)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		pb = pb[n:]
		if !got.Start.Equal(want[i].Start) || !got.End.Equal(want[i].End) {
			t.Errorf("record %d: times %v-%v, want %v-%v", i, got.Start, got.End, want[i].Start, want[i].End)
		}
		got.Start, got.End = want[i].Start, want[i].End
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("record %d:\nproto %+v\njson  %+v", i, got, want[i])
		}
	}
}

func FuzzDecodeFlowProto(f *testing.F) {
	s := take(synthFlows(1, 1)[0], nil, "x", false)
	f.Add(s.marshalProto("gw", nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			r, n, err := DecodeFlowProto(b)
			if err != nil {
				return
			}
			if n <= 0 || n > len(b) {
				t.Fatalf("decoded record used %d of %d bytes", n, len(b))
			}
			// A record is its own bytes: what follows it does not change it.
			// (Compared as text: a feature may be NaN.)
			r2, n2, err := DecodeFlowProto(b[:n:n])
			if err != nil || n2 != n || fmt.Sprintf("%+v", r2) != fmt.Sprintf("%+v", r) {
				t.Fatalf("record alone: %d bytes, %v (%+v); in its message %d bytes (%+v)", n2, err, r2, n, r)
			}
			b = b[n:]
		}
	})
}

func TestSensorNameChecked(t *testing.T) {
	for _, s := range []string{"a.b", "a b", "x>", "*"} {
		if _, err := New(Config{URL: "nats://127.0.0.1:1", Sensor: s}); err == nil {
			t.Errorf("sensor %q accepted", s)
		}
	}
}

func BenchmarkExport(b *testing.B) {
	// Broker absent: measures only the caller's cost (copy + enqueue).
	p, err := New(Config{URL: "nats://127.0.0.1:1", BufferSize: 1 << 20, WarnEvery: time.Hour, CloseTimeout: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	flows := synthFlows(256, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Export(flows[i&255], nil, "BENIGN")
		i++
	}
	b.StopTimer()
	_ = p.Close()
}

// TestConsumeToParquet publishes from two sensors and stores everything
// with the central consumer; a restart of the consumer resumes without
// losing or repeating rows.
func TestConsumeToParquet(t *testing.T) {
	srv := natstest.Start(t)
	flows := synthFlows(1200, 1)
	for i, f := range flows {
		if i%3 == 0 {
			f.Sampled = 100 // stored too: Parquet rows lost it
		}
	}
	publish := func(i int, sensor string) {
		// One sensor sends JSON, the other protobuf: the consumer reads both.
		p, err := New(Config{URL: srv.URL(), Sensor: sensor, CreateStream: true, Format: []string{FormatJSON, FormatProtobuf}[i]})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flows[i*600 : (i+1)*600] {
			p.Export(f, nil, "BENIGN")
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	// A file per message (MaxRows 1), so every stored row is on disk and
	// acknowledged as soon as its message is written.
	cfg := ParquetConfig{URL: srv.URL(), Dir: dir, MaxRows: 1, Rotate: time.Hour, Fetch: 2}
	stored := func() (map[uint64]int, map[string]int) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
		seen, sensors := map[uint64]int{}, map[string]int{}
		for _, f := range files {
			rows, err := parquet.ReadFile[FlowRow](f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, r := range rows {
				seen[r.ID]++
				sensors[r.Sensor]++
				if r.Class != "BENIGN" || r.FwdBytes != flows[r.ID-1].Fwd.Bytes || r.Sampled != flows[r.ID-1].Sampled || !r.Start.Equal(time.Unix(0, flows[r.ID-1].Start).Truncate(time.Microsecond)) {
					t.Fatalf("row %+v does not match flow %d", r, r.ID)
				}
			}
		}
		return seen, sensors
	}
	run := func(until func() bool) ConsumeStats {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan ConsumeStats, 1)
		var st ConsumeStats
		go func() {
			s, err := ConsumeToParquet(ctx, cfg)
			if err != nil {
				t.Error(err)
			}
			done <- s
		}()
		// Stop when the files on disk say enough was stored.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !until(); time.Sleep(20 * time.Millisecond) {
		}
		cancel()
		st = <-done
		return st
	}
	// The consumer stores the first sensor's flows and stops; the second
	// sensor publishes while it is down; the restarted consumer must store
	// exactly the new flows (the durable consumer remembers its acks).
	publish(0, "gw-a")
	first := run(func() bool { s, _ := stored(); return len(s) >= 600 })
	publish(1, "gw-b")
	second := run(func() bool { s, _ := stored(); return len(s) >= len(flows) })
	if first.Rows != 600 || second.Rows != 600 {
		t.Errorf("runs stored %d then %d rows, want 600 and 600", first.Rows, second.Rows)
	}
	seen, sensors := stored()
	if len(seen) != len(flows) || sensors["gw-a"] != 600 || sensors["gw-b"] != 600 {
		t.Fatalf("stored %d distinct flows (%v), want %d, 600 per sensor; runs %+v %+v", len(seen), sensors, len(flows), first, second)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("flow %d stored %d times", id, n)
		}
	}
	// report still reads them.
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if fl, err := report.ReadFlows(files[0]); err != nil || len(fl) == 0 {
		t.Errorf("report: %d flows, %v", len(fl), err)
	}
}

// TestMessagesStayUnderMaxBytes packs records with every feature into
// messages and checks none passes MaxBytes: a message used to be sealed
// only after a record took it past the limit (131,954 bytes for 128 KiB).
func TestMessagesStayUnderMaxBytes(t *testing.T) {
	x, err := features.New(features.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatJSON, FormatProtobuf} {
		cfg := Config{Sensor: "gw1", Columns: x.Columns(), Format: format, MaxBytes: 20000}
		cfg.defaults()
		p := &Publisher{cfg: cfg, flowSubj: FlowSubject("gw1"), alrtSubj: AlertSubject("gw1")}
		b := &builder{p: p, max: cfg.MaxBytes}
		row := x.NewRow()
		flows := synthFlows(300, 1)
		for i, f := range flows {
			x.Fill(f, nil, row)
			b.add(item{flow: take(f, row, "", true), id: uint64(i + 1)})
		}
		b.sealAll()
		n := 0
		for i, m := range b.out {
			k, _ := strconv.Atoi(m.msg.Header.Get(RecordsHeader))
			n += k
			if len(m.msg.Data) > cfg.MaxBytes && k > 1 {
				t.Errorf("%s: message %d holds %d records in %d bytes, over MaxBytes %d", format, i, k, len(m.msg.Data), cfg.MaxBytes)
			}
		}
		if n != len(flows) || b.records != len(flows) {
			t.Errorf("%s: %d records in messages (%d counted), want %d", format, n, b.records, len(flows))
		}
	}
}

// TestAuthOutsideURL publishes to a broker that requires a user and a
// password given in Config rather than in the URL (where ps shows them),
// and checks that an error never shows the password of a URL that has one.
func TestAuthOutsideURL(t *testing.T) {
	s := natstest.Start(t, "--user", "sensor", "--pass", "s3cret")
	p, err := New(Config{URL: s.URL(), User: "sensor", Password: "s3cret", Sensor: "gw1", CreateStream: true})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(5, 1)
	for _, f := range flows {
		p.Export(f, nil, "")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != 5 {
		t.Errorf("with User and Password: stats %+v, want 5 published:\n%s", st, s.Log())
	}
	if got := redactURL("nats://sensor:s3cret@a:4222, nats://tok3n@b:4222,nats://c:4222"); strings.Contains(got, "s3cret") || strings.Contains(got, "tok3n") || !strings.Contains(got, "nats://c:4222") {
		t.Errorf("redactURL left a secret or lost a server: %s", got)
	}
}

// TestCreateStreamConcurrently creates the stream from many connections at
// once, as sensors and a collector started together do: every one must
// succeed (nats-server refuses all but the first, some by name, some as
// "subjects overlap" when they passed its name check together), each round
// on a fresh stream. A stream of another name already holding the
// subjects is still an error.
func TestCreateStreamConcurrently(t *testing.T) {
	srv := natstest.Start(t)
	const clients = 8
	js := make([]jetstream.JetStream, clients)
	for i := range js {
		js[i] = jsConnect(t, srv.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 100 {
		// Without the process's lock, as separate processes.
		if err := createTogether(ctx, js, createStreamRace); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := js[0].DeleteStream(ctx, "FLOWHAWK"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := StreamConfig("OTHER")
	if _, err := js[0].CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := createStream(ctx, js[1], "FLOWHAWK"); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("with the subjects in stream OTHER: %v, want the server's overlap error", err)
	}
}

// createTogether has every connection of js create the stream FLOWHAWK
// with create at the same moment, and returns the first error.
func createTogether(ctx context.Context, js []jetstream.JetStream, create func(context.Context, jetstream.JetStream, string) error) error {
	start := make(chan struct{})
	errs := make(chan error, len(js))
	for i := range js {
		go func() {
			<-start
			errs <- create(ctx, js[i], "FLOWHAWK")
		}()
	}
	close(start)
	var first error
	for range js {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// TestCreateStreamLogsOnce creates the stream from two connections of one
// process at once, as collect's flow and alert consumers do: one says it
// created the stream. nats-server answers an identical creation request
// with success, and both said so.
func TestCreateStreamLogsOnce(t *testing.T) {
	srv := natstest.Start(t)
	js := []jetstream.JetStream{jsConnect(t, srv.URL()), jsConnect(t, srv.URL())}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs syncbuf.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	for round := range 20 {
		if err := createTogether(ctx, js, createStream); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if n := strings.Count(logs.String(), "created nats stream"); n != round+1 {
			t.Fatalf("round %d: %d \"created nats stream\" lines so far, want %d (one a round):\n%s", round, n, round+1, logs.String())
		}
		if err := js[0].DeleteStream(ctx, "FLOWHAWK"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSmallMaxPayload publishes to a broker whose max_payload (8 KiB) is
// below the 128 KiB messages are packed to, and which comes up only after
// the sensor packed its first messages: every flow arrives, in messages
// the broker takes, and an alert too large for any message is dropped and
// counted. The broker refused every message, and the first, retried
// forever at the head of the queue, held back all the others.
func TestSmallMaxPayload(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("max_payload: 8192\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t, "-c", conf)
	srv.Stop()
	for _, format := range []string{FormatJSON, FormatProtobuf} {
		p, err := New(Config{URL: srv.URL(), Sensor: "gw-" + format, CreateStream: true, Format: format, CloseTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range synthFlows(1000, 1) {
			p.Export(f, nil, "")
		}
		p.Alert([]byte(`{"@timestamp":"2026-11-23T10:00:00Z","rule":{"name":"big"},"message":"` + strings.Repeat("x", 9000) + `"}`))
		p.Alert([]byte(`{"@timestamp":"2026-11-23T10:00:00Z","rule":{"name":"small"}}`))
		if format == FormatJSON {
			time.Sleep(300 * time.Millisecond) // messages packed while the broker is down
			srv.Start()
		}
		if err := p.Close(); err != nil {
			t.Errorf("%s: %v", format, err)
		}
		if st := p.Stats(); st.Published != 1001 || st.DropTooLarge != 1 || p.Losses()["too_large"] != 1 {
			t.Errorf("%s: stats %+v, want 1001 records published and the large alert dropped as too large", format, st)
		}
		if format == FormatJSON {
			if got := len(consume(t, srv.URL(), FlowSubject("gw-"+format), 1000)); got != 1000 {
				t.Errorf("%s: %d flows in the stream, want 1000", format, got)
			}
		}
	}
}

// TestBufferBoundsRecords fills the buffer of a publisher whose broker is
// down, lets it pack the records into messages, and offers more: no more
// than BufferSize records are held, and Close's error counts them as
// records. The records packed into messages did not count, so the buffer
// took BufferSize more.
func TestBufferBoundsRecords(t *testing.T) {
	port := natstest.FreePort(t) // nothing listens: connection refused
	p, err := New(Config{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), BufferSize: 1000, CloseTimeout: 100 * time.Millisecond, WarnEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(6000, 1)
	for _, f := range flows[:1000] {
		p.Export(f, nil, "")
	}
	time.Sleep(300 * time.Millisecond) // packed into messages, retried
	for _, f := range flows[1000:] {
		p.Export(f, nil, "")
	}
	if n := p.Buffered(); n != 1000 {
		t.Errorf("%d records buffered, want the 1000 of BufferSize", n)
	}
	err = p.Close()
	st := p.Stats()
	if st.DropShutdown != 1000 || st.DropQueueFull != 5000 {
		t.Errorf("stats %+v: want 1000 records held (undelivered at close) and 5000 dropped as the buffer was full", st)
	}
	if err == nil || !strings.Contains(err.Error(), "1000 records undelivered") {
		t.Errorf("Close: %v, want 1000 records undelivered", err)
	}
}

// TestWrongCredentialsNamed publishes with a password the broker refuses:
// the warnings and Close's error name the refusal. They said only
// "timeout waiting for ack" and "N records undelivered at close".
func TestWrongCredentialsNamed(t *testing.T) {
	srv := natstest.Start(t, "--user", "sensor", "--pass", "s3cret")
	var logs syncbuf.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	p, err := New(Config{URL: srv.URL(), User: "sensor", Password: "wrong", Sensor: "gw1", AckTimeout: 300 * time.Millisecond, CloseTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(5, 1) {
		p.Export(f, nil, "")
	}
	time.Sleep(time.Second)
	err = p.Close()
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("Close: %v, want the refused credentials named", err)
	}
	if !strings.Contains(logs.String(), "refused the credentials") || strings.Contains(logs.String(), "wrong") {
		t.Errorf("warnings do not name the refused credentials (or show the password):\n%s", logs.String())
	}
}

// TestStreamMaxMsgSize publishes to a stream whose own max_msg_size (4 KiB)
// is far below the server's max_payload: the server refuses a message
// over it only when storing it, in the ack, so the client's max_payload
// check passed and the message was re-published at the head of the queue
// forever, blocking every record behind it. Messages now split to fit,
// and a record too large for the stream alone is dropped and counted.
func TestStreamMaxMsgSize(t *testing.T) {
	srv := natstest.Start(t)
	js := jsConnect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := StreamConfig("FLOWHAWK")
	sc.MaxMsgSize = 4096
	if _, err := js.CreateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{URL: srv.URL(), Sensor: "gw1", CloseTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(500, 1) {
		p.Export(f, nil, "")
	}
	p.Alert([]byte(`{"@timestamp":"2026-11-23T10:00:00Z","rule":{"name":"big"},"message":"` + strings.Repeat("x", 5000) + `"}`))
	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if st := p.Stats(); st.Published != 500 || st.DropTooLarge != 1 {
		t.Errorf("stats %+v, want 500 records published and the large alert dropped as too large", st)
	}
	if got := len(consume(t, srv.URL(), FlowSubject("gw1"), 500)); got != 500 {
		t.Errorf("%d flows in the stream, want 500", got)
	}
}
