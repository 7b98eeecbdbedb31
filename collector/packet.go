package collector

// TCP flag bits, as in byte 13 of the TCP header.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Fragment describes how a packet relates to IP fragmentation.
type Fragment uint8

const (
	// NotFragment is an unfragmented datagram.
	NotFragment Fragment = iota
	// FirstFragment carries the transport header (offset 0, more fragments set).
	FirstFragment
	// LaterFragment is a non-first fragment; its ports come from the first
	// fragment of the same datagram (or are 0 if that was not seen).
	LaterFragment
)

// Packet is one decoded packet, the unit both sources hand to the flow
// table. It holds no pointers except Payload, which aliases the source's
// buffer and is valid only until the source's next packet.
type Packet struct {
	// Timestamp is the capture time in nanoseconds since the Unix epoch.
	Timestamp int64
	// Key is the canonical flow key; SrcIsLo tells the packet's direction.
	Key     Key
	SrcIsLo bool
	// WireLen is the frame's original length on the wire (pcap orig_len),
	// CapLen what was captured.
	WireLen uint32
	CapLen  uint32
	// IPLen is the IP datagram length from the IP header (IPv4 total length,
	// IPv6 40 + payload length); it does not depend on the link type or
	// on the snap length.
	IPLen uint32
	// IPHeaderLen includes IPv4 options and IPv6 extension headers.
	IPHeaderLen uint16
	// L4HeaderLen is the transport header length (TCP with options, UDP 8,
	// ICMP 8; 0 for non-first fragments and unknown protocols).
	L4HeaderLen uint16
	// PayloadLen is IPLen - IPHeaderLen - L4HeaderLen: transport payload
	// bytes on the wire (not only those captured).
	PayloadLen uint32
	TCPFlags   uint8
	TTL        uint8
	TCPWindow  uint16
	TCPSeq     uint32
	TCPAck     uint32
	ICMPType   uint8
	ICMPCode   uint8
	Fragment   Fragment
	// WrongFragment marks a fragment with an impossible offset/length
	// (NSL-KDD wrong_fragment): overlapping, or beyond 65535 bytes.
	WrongFragment bool
	// TCPWindowCut says the snap length cut the TCP header before its
	// window field: TCPWindow 0 is unknown, not a zero window, so the
	// packet leaves its direction's initial window unknown (-1).
	TCPWindowCut bool
	// Payload is the captured part of the transport payload (may be shorter
	// than PayloadLen). It aliases the source's buffer.
	Payload []byte
}

// Dir is a packet's direction within its flow.
type Dir uint8

const (
	// Fwd is from the flow's initiator to the responder.
	Fwd Dir = 0
	// Bwd is from the responder to the initiator.
	Bwd Dir = 1
)
