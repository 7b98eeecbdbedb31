package ipfix

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestExportTimeIsSendTime: Export Time is "the time at which the IPFIX
// Message Header leaves the Exporter" (RFC 7011 3.1). A message that waits
// for the flush tick carried the time its first record was queued.
func TestExportTimeIsSendTime(t *testing.T) {
	c := listen(t)
	conn, err := net.Dial("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: c.LocalAddr().String(), TemplateInterval: time.Hour, FlushInterval: 50 * time.Millisecond}
	cfg.defaults()
	e := newExporter(cfg, conn)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(base.UnixNano())
	e.now = func() time.Time { return time.Unix(0, clock.Load()) }
	gate := make(chan struct{})
	e.gate = gate
	go e.run()
	flows := synthFlows(1, base)
	e.Export(flows[0], "")
	close(gate)
	for e.taken.Load() != 1 { // the record sits in the open message
		time.Sleep(time.Millisecond)
	}
	sent := base.Add(3 * time.Second)
	clock.Store(sent.UnixNano()) // the flush tick sends it 3 s later
	msgs := receive(t, c, 1)
	e.Close()
	m, err := Decode(msgs[len(msgs)-1], map[uint16][]Field{TemplateIPv4: Fields(false, DefaultPEN), TemplateIPv6: Fields(true, DefaultPEN)})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint32(sent.Unix()); m.ExportTime != want {
		t.Errorf("data message ExportTime %d, want %d (when it was sent)", m.ExportTime, want)
	}
}
