package detect

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/flowhawk/flowhawk/collector"
)

// seqRepeat remembers, for recent TCP data segments, a hash and the first
// bytes of the payload sent at each sequence number. Retransmissions
// repeat a segment with the same bytes a few times; a segment at the same
// sequence number with different bytes (seqrepeat.conflict) means two
// senders race on one connection, as in TCP injection (forged RSTs carry
// no data, but injected HTTP responses do), and a segment repeated more
// than SeqRepeats times (seqrepeat.excessive) is a replay or a broken
// path. Memory is two generations of a map: when the young one is full
// or older than SeqMaxAge it becomes the old one and the old one is
// dropped, so at most SeqMaxTrack segments are held.
type seqRepeat struct {
	e        *Engine
	cur, old map[uint64]seqEntry
	genStart int64
	half     int
	Rotated  uint64
}

// seqKey hashes flow key, direction and sequence number into the map key:
// a 64-bit key makes the map use its fast path, and with at most 65 536
// segments held a collision (which could only show a false conflict) has
// odds of about 1e-10.
func seqKey(p *collector.Packet) uint64 {
	h := p.Key.Hash() ^ uint64(p.TCPSeq)*0x9E3779B97F4A7C15
	if p.SrcIsLo {
		h ^= 0xD6E8FEB86659FD93
	}
	h ^= h >> 32
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>29
}

type seqEntry struct {
	hash     uint64
	capLen   uint32
	payLen   uint32
	head     [64]byte
	pre      [len(seqCheckpoints)]uint64 // hashes of the first 128, 256, 512, 1024 bytes
	repeats  uint32
	reported uint8 // bit 0 conflict, bit 1 excessive
	first    int64
}

// seqCheckpoints are the prefix lengths whose hashes a segment keeps, so
// that a repeat of another length is compared beyond the first 64 bytes
// (its head): an injected HTTP response and the real one both start with
// "HTTP/1.1 200 OK\r\n" and rarely have the same length. The head was
// 16 bytes until 2026-12-07, and a 40-byte forged redirect before the
// real response was compared over those 16 only.
var seqCheckpoints = [...]int{128, 256, 512, 1024}

// seqHashes returns the hash of b and of its prefixes at seqCheckpoints
// (0 for a checkpoint beyond b), in one pass.
func seqHashes(b []byte) (full uint64, pre [len(seqCheckpoints)]uint64) {
	h := uint64(14695981039346656037)
	j := 0
	for i, c := range b {
		if j < len(seqCheckpoints) && i == seqCheckpoints[j] {
			pre[j] = h
			j++
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	if j < len(seqCheckpoints) && len(b) == seqCheckpoints[j] {
		pre[j] = h
	}
	return h, pre
}

func newSeqRepeat(e *Engine) *seqRepeat {
	half := max(e.cfg.SeqMaxTrack/2, 1)
	return &seqRepeat{e: e, half: half, cur: make(map[uint64]seqEntry, min(half, 4096)), old: map[uint64]seqEntry{}}
}

// rotate makes the young generation the old one and reuses the old map's
// storage for the new young one.
func (d *seqRepeat) rotate(now int64) {
	d.old, d.cur = d.cur, d.old
	clear(d.cur)
	d.genStart = now
	d.Rotated++
}

func (d *seqRepeat) tick(now int64) {
	if d.genStart == 0 {
		d.genStart = now
	}
	if now-d.genStart > d.e.cfg.SeqMaxAge.Nanoseconds() {
		d.rotate(now)
	}
}

func (d *seqRepeat) packet(p *collector.Packet) {
	if int(p.PayloadLen) < d.e.cfg.SeqMinPaylen || len(p.Payload) == 0 || p.TCPFlags&collector.FlagSYN != 0 {
		return
	}
	k := seqKey(p)
	ent, ok := d.cur[k]
	fromOld := false
	if !ok {
		if ent, ok = d.old[k]; ok {
			delete(d.old, k)
			fromOld = true
		}
	}
	pl := p.Payload
	if !ok {
		ent = seqEntry{capLen: uint32(len(pl)), payLen: p.PayloadLen, first: p.Timestamp}
		ent.hash, ent.pre = seqHashes(pl)
		copy(ent.head[:], pl)
		if len(d.cur) >= d.half {
			d.rotate(p.Timestamp)
		}
		d.cur[k] = ent
		return
	}
	ent.repeats++
	n := min(len(pl), int(ent.capLen), len(ent.head))
	differ := !bytes.Equal(pl[:n], ent.head[:n])
	if !differ && len(pl) > n {
		// Beyond the head: the full hash for equal lengths, else the
		// prefix hashes both segments cover.
		full, pre := seqHashes(pl)
		if uint32(len(pl)) == ent.capLen && p.PayloadLen == ent.payLen {
			differ = full != ent.hash
		} else {
			common := min(len(pl), int(ent.capLen))
			for i, c := range seqCheckpoints {
				if c <= common && pre[i] != ent.pre[i] {
					differ = true
				}
			}
		}
	}
	src, dst, sport, dport := ends(p)
	mk := func(rule string, sev Severity) *Alert {
		return &Alert{
			Time: p.Timestamp, First: ent.first, Detector: SeqRepeat, Rule: rule, Severity: sev,
			Src: toNetip(src), Dst: toNetip(dst), SrcPort: sport, DstPort: dport, Proto: 6,
			keys: []collector.Key{p.Key},
		}
	}
	if differ && ent.reported&1 == 0 {
		ent.reported |= 1
		a := mk("seqrepeat.conflict", SevHigh)
		a.Message = fmt.Sprintf("TCP %s -> %s: segment at seq %d repeated with different payload (possible injection)", netip.AddrPortFrom(a.Src, sport), netip.AddrPortFrom(a.Dst, dport), p.TCPSeq)
		a.Evidence = map[string]any{"seq": p.TCPSeq, "first_len": ent.payLen, "repeat_len": p.PayloadLen, "repeats": ent.repeats}
		d.e.raise(a)
	}
	if int(ent.repeats) >= d.e.cfg.SeqRepeats && ent.reported&2 == 0 {
		ent.reported |= 2
		a := mk("seqrepeat.excessive", SevMedium)
		a.Message = fmt.Sprintf("TCP %s -> %s: segment at seq %d sent %d times (replay or broken path)", netip.AddrPortFrom(a.Src, sport), netip.AddrPortFrom(a.Dst, dport), p.TCPSeq, ent.repeats+1)
		a.Evidence = map[string]any{"seq": p.TCPSeq, "len": p.PayloadLen, "repeats": ent.repeats}
		d.e.raise(a)
	}
	// A segment seen again in the old generation moves to the young one,
	// which it must not grow past its size: a sender repeating all it
	// sent moved every segment back at each rotation, without bound.
	if fromOld && len(d.cur) >= d.half {
		d.rotate(p.Timestamp)
	}
	d.cur[k] = ent
}
