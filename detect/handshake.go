package detect

import (
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// handshakes pairs each TCP SYN with the initiator's first ACK of the same
// connection, so that "half-open" means what it says: a handshake that
// never completed. Counting SYN+ACKs instead called a listening server
// that answers every spoofed SYN (the commonest flood) healthy, and a
// scanner whose kernel drops the SYN+ACKs a completed handshake.
//
// Pending SYNs live in two generations rotated every handshakeTTL of
// packet time, so an entry lasts one to two TTLs (a handshake takes a
// round trip; SYN retries give up within about two minutes). Each
// generation holds at most limit entries; SYNs beyond that are not
// tracked and so count as half-open, which only a flood reaches.
type handshakes struct {
	cur, prev map[collector.Key]bool // value: the initiator's side (Packet.SrcIsLo)
	limit     int
	rotate    int64
	started   bool // rotate is set
	untracked uint64
}

const handshakeTTL = int64(30 * time.Second)

func newHandshakes(limit int) *handshakes {
	return &handshakes{cur: map[collector.Key]bool{}, prev: map[collector.Key]bool{}, limit: limit}
}

// packet records a SYN and reports whether p is the initiator's ACK that
// completes a pending handshake.
func (h *handshakes) packet(p *collector.Packet) bool {
	if !h.started || p.Timestamp >= h.rotate {
		h.prev, h.cur = h.cur, h.prev
		clear(h.cur)
		h.rotate, h.started = p.Timestamp+handshakeTTL, true
	}
	switch p.TCPFlags & (collector.FlagSYN | collector.FlagACK | collector.FlagRST) {
	case collector.FlagSYN:
		if _, ok := h.cur[p.Key]; ok {
			return false // a retransmission
		}
		if len(h.cur) >= h.limit {
			h.untracked++
			return false
		}
		h.cur[p.Key] = p.SrcIsLo
	case collector.FlagACK:
		if len(h.cur) == 0 && len(h.prev) == 0 {
			return false
		}
		for _, m := range [2]map[collector.Key]bool{h.cur, h.prev} {
			if lo, ok := m[p.Key]; ok && lo == p.SrcIsLo {
				delete(m, p.Key)
				return true
			}
		}
	case collector.FlagRST, collector.FlagRST | collector.FlagACK:
		// Either side ending the attempt leaves it half-open for good.
		delete(h.cur, p.Key)
		delete(h.prev, p.Key)
	}
	return false
}
