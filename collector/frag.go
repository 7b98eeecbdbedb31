package collector

// Fragment cache: non-first IP fragments carry no transport header, so
// their ports come from the first fragment of the same datagram. The cache
// maps (src, dst, proto, IP id, tenant) to the first fragment's ports,
// where the tenant is what else the flow key holds (VLAN tags, tunnel ID):
// tenants may reuse addresses and IP IDs. It is a
// fixed-size open-addressing table (no allocation after creation) whose
// entries expire in packet time; when all slots of a probe window are in
// use the entry that expires first is replaced and counted.

const (
	// DefaultFragTimeout is how long (packet time) a first fragment's ports
	// are kept for the later fragments of its datagram.
	DefaultFragTimeout = 30_000_000_000 // 30 s in ns
	// DefaultFragCacheSize is the number of datagrams the cache tracks.
	DefaultFragCacheSize = 1 << 14
	fragProbe            = 8
)

type fragKey struct {
	src, dst             [16]byte
	id                   uint32
	tunnel               uint32
	vlanOuter, vlanInner uint16
	proto                uint8
}

type fragEntry struct {
	key          fragKey
	expires      int64
	sport, dport uint16
	end          uint16 // first fragment's data length: a later fragment starting before it overlaps
	proto        uint8  // the upper-layer protocol (an IPv6 key has the Fragment header's Next Header)
	used         bool
}

type fragCache struct {
	slots   []fragEntry // allocated at the first fragment: most captures have none
	size    int
	mask    uint64
	timeout int64
	evicted uint64
}

func newFragCache(size int, timeout int64) fragCache {
	n := 16
	for n < size {
		n <<= 1
	}
	return fragCache{size: n, mask: uint64(n - 1), timeout: timeout}
}

func (k *fragKey) hash() uint64 {
	h := uint64(14695981039346656037)
	for _, b := range k.src[8:] {
		h = (h ^ uint64(b)) * 1099511628211
	}
	for _, b := range k.dst[8:] {
		h = (h ^ uint64(b)) * 1099511628211
	}
	h = (h ^ uint64(k.id)) * 1099511628211
	h = (h ^ (uint64(k.tunnel)<<32 | uint64(k.vlanOuter)<<16 | uint64(k.vlanInner))) * 1099511628211
	h = (h ^ uint64(k.proto)) * 1099511628211
	return h ^ h>>31
}

// put remembers the ports and upper-layer protocol of a datagram's first
// fragment seen at now.
func (c *fragCache) put(k *fragKey, sport, dport uint16, proto uint8, end uint16, now int64) {
	if c.slots == nil {
		c.slots = make([]fragEntry, c.size)
	}
	i := k.hash()
	victim := -1
	for j := range uint64(fragProbe) {
		s := int((i + j) & c.mask)
		e := &c.slots[s]
		if !e.used || e.key == *k || e.expires < now {
			victim = s
			break
		}
		if victim < 0 || e.expires < c.slots[victim].expires {
			victim = s
		}
	}
	e := &c.slots[victim]
	if e.used && e.key != *k && e.expires >= now {
		c.evicted++
	}
	*e = fragEntry{key: *k, expires: now + c.timeout, sport: sport, dport: dport, end: end, proto: proto, used: true}
}

// get returns the ports, upper-layer protocol and data length of the
// datagram's first fragment, if it was seen less than the timeout before
// now.
func (c *fragCache) get(k *fragKey, now int64) (sport, dport uint16, proto uint8, end uint16, ok bool) {
	if c.slots == nil {
		return 0, 0, 0, 0, false
	}
	i := k.hash()
	for j := range uint64(fragProbe) {
		e := &c.slots[(i+j)&c.mask]
		if !e.used {
			return 0, 0, 0, 0, false
		}
		if e.key == *k {
			if e.expires < now {
				return 0, 0, 0, 0, false
			}
			return e.sport, e.dport, e.proto, e.end, true
		}
	}
	return 0, 0, 0, 0, false
}

// Later fragments that arrive before their first fragment (old Linux sent
// a datagram's fragments last first; networks reorder) are held, so that
// they join its flow when it comes instead of a flow with ports 0. A held
// fragment is released as an orphan FragTimeout of packet time after it
// came, when more than maxHeld wait, or at the end of the stream
// (ReleaseHeld). The kernel path cannot hold packets: it counts such
// fragments in FragNoFirst with ports 0 (docs/kernel.md).

// maxHeld bounds the later fragments held at once.
const maxHeld = 1024

// heldFrag is a later fragment waiting for its datagram's first fragment.
type heldFrag struct {
	p       Packet
	key     fragKey
	off     int
	expires int64
}

// Orphan reports whether the last packet Decode returned is a later
// fragment whose first fragment has not been seen (its ports are 0).
func (d *Decoder) Orphan() bool { return d.orphan }

// Hold keeps p, the orphan fragment Decode just returned, until its first
// fragment comes: Ready then returns it with the first fragment's ports,
// right after the first fragment. It is no orphan while held.
func (d *Decoder) Hold(p *Packet) {
	if !d.orphan {
		return
	}
	d.orphan = false
	d.orphans--
	if len(d.held) >= maxHeld {
		d.releaseOrphan(0)
	}
	h := heldFrag{p: *p, key: d.orphanKey, off: d.orphanOff, expires: p.Timestamp + d.frags.timeout}
	h.p.Payload = nil // aliases the source's buffer; a later fragment's is no header anyway
	d.held = append(d.held, h)
}

// Ready moves the next released fragment into p; false when there is none.
func (d *Decoder) Ready(p *Packet) bool {
	if d.readyHead >= len(d.ready) {
		return false
	}
	*p = d.ready[d.readyHead]
	d.readyHead++
	if d.readyHead == len(d.ready) {
		d.ready, d.readyHead = d.ready[:0], 0
	}
	return true
}

// ReleaseHeld releases every held fragment as an orphan (ports 0), at the
// end of a stream.
func (d *Decoder) ReleaseHeld() {
	for len(d.held) > 0 {
		d.releaseOrphan(0)
	}
}

// Held is how many fragments wait for their first fragment.
func (d *Decoder) Held() int { return len(d.held) }

// releaseOrphan releases held[i] as it came: an orphan with ports 0.
func (d *Decoder) releaseOrphan(i int) {
	d.orphans++
	d.ready = append(d.ready, d.held[i].p)
	d.held = append(d.held[:i], d.held[i+1:]...)
}

// expireHeld releases, as orphans, the held fragments whose first
// fragment did not come within the timeout before now.
func (d *Decoder) expireHeld(now int64) {
	for len(d.held) > 0 && d.held[0].expires < now {
		d.releaseOrphan(0)
	}
}

// resolveHeld gives the held later fragments of datagram k the ports and
// protocol of its first fragment, just seen with data bytes of its
// fragmentable part, and releases them.
func (d *Decoder) resolveHeld(k *fragKey, sport, dport uint16, proto uint8, data int) {
	j := 0
	for i := range d.held {
		h := &d.held[i]
		if h.key != *k {
			d.held[j] = *h
			j++
			continue
		}
		p := h.p
		p.Key, p.SrcIsLo = MakeKey(&k.src, &k.dst, sport, dport, proto, k.vlanOuter, k.vlanInner)
		if k.tunnel != 0 {
			p.Key.SetTunnelID(k.tunnel)
		}
		if h.off < data && !p.WrongFragment {
			// Overlaps the first fragment (teardrop).
			p.WrongFragment = true
			d.wrong++
		}
		d.ready = append(d.ready, p)
	}
	clear(d.held[j:])
	d.held = d.held[:j]
}
