// Package ipfix exports flow records as IPFIX (RFC 7011, information
// elements of RFC 7012) biflows (RFC 5103) over UDP. Each record carries the
// 5-tuple, the ICMP type and code of an ICMP flow, VLAN IDs, per-direction
// packet and octet counters (reverse elements under PEN 29305), start and
// end times, TCP flags per direction, the end reason, and an
// enterprise-specific set of flowhawk features under a configurable Private
// Enterprise Number.
//
// Export never blocks: records go through a bounded queue to one sender
// goroutine; a full queue or a collector that refuses the datagrams is
// counted and logged at a limited rate.
package ipfix

// ReversePEN is the Private Enterprise Number RFC 5103 reserves for reverse
// information elements: the same element ID under this PEN means "the same
// thing, for the reverse direction".
const ReversePEN = 29305

// DefaultPEN is the Private Enterprise Number used for flowhawk's own
// information elements when none is configured: 32473, the number IANA
// reserves for documentation and examples (RFC 5612). An operator who feeds
// these records into a shared collector should set --ipfix-pen to their own
// organisation's number.
const DefaultPEN = 32473

// Template IDs (data sets use these set IDs).
const (
	TemplateIPv4 uint16 = 256
	TemplateIPv6 uint16 = 257
)

// Field is one field specifier of a template.
type Field struct {
	ID     uint16 // element ID without the enterprise bit
	Length uint16 // VarLen for variable length
	PEN    uint32 // 0 for IANA elements
	Name   string
}

// VarLen is the field length that marks a variable-length element.
const VarLen = 0xffff

// IANA element IDs used (RFC 7012 / IANA IPFIX registry).
const (
	ieOctetDeltaCount          = 1
	iePacketDeltaCount         = 2
	ieProtocolIdentifier       = 4
	ieTCPControlBits           = 6
	ieSourceTransportPort      = 7
	ieSourceIPv4Address        = 8
	ieDestinationTransportPort = 11
	ieDestinationIPv4Address   = 12
	ieICMPTypeCodeIPv4         = 32
	ieSourceIPv6Address        = 27
	ieDestinationIPv6Address   = 28
	ieVlanID                   = 58
	ieFlowEndReason            = 136
	ieICMPTypeCodeIPv6         = 139
	ieFlowStartMilliseconds    = 152
	ieFlowEndMilliseconds      = 153
	ieBiflowDirection          = 239
	ieDot1qCustomerVlanID      = 245
)

// Enterprise element IDs: flowhawk's extra features, under the configured
// PEN. docs/outputs.md lists them; keep the two in step.
const (
	EntFwdPayloadOctets = 1  // unsigned64: transport payload bytes, initiator to responder
	EntBwdPayloadOctets = 2  // unsigned64: transport payload bytes, responder to initiator
	EntFwdPktLenMean    = 3  // float64: mean payload length of forward packets (bytes)
	EntBwdPktLenMean    = 4  // float64: mean payload length of backward packets (bytes)
	EntFwdPktLenStd     = 5  // float64: sample std of forward payload lengths (bytes)
	EntBwdPktLenStd     = 6  // float64: sample std of backward payload lengths (bytes)
	EntFlowIATMean      = 7  // float64: mean inter-arrival time, both directions (microseconds)
	EntFlowIATStd       = 8  // float64: sample std of inter-arrival times (microseconds)
	EntActiveMean       = 9  // float64: mean active period (microseconds)
	EntIdleMean         = 10 // float64: mean idle period (microseconds)
	EntSubflowCount     = 11 // unsigned32: subflows (runs with gaps under 1 s)
	EntSamplingRate     = 12 // unsigned32: 1-in-N packet sampling that produced the record (1 = all)
	EntFlowClass        = 13 // string: classifier label, empty if unclassified
	EntTunnelID         = 14 // unsigned32: tenant of a flow unwrapped from a tunnel (VNI, VSID), 0 = none
)

// fields returns the template fields for IPv4 (v6=false) or IPv6 records,
// with the enterprise elements under pen.
func fields(v6 bool, pen uint32) []Field {
	var f []Field
	icmp := Field{ieICMPTypeCodeIPv4, 2, 0, "icmpTypeCodeIPv4"}
	if v6 {
		f = append(f, Field{ieSourceIPv6Address, 16, 0, "sourceIPv6Address"}, Field{ieDestinationIPv6Address, 16, 0, "destinationIPv6Address"})
		icmp = Field{ieICMPTypeCodeIPv6, 2, 0, "icmpTypeCodeIPv6"}
	} else {
		f = append(f, Field{ieSourceIPv4Address, 4, 0, "sourceIPv4Address"}, Field{ieDestinationIPv4Address, 4, 0, "destinationIPv4Address"})
	}
	f = append(f,
		Field{ieSourceTransportPort, 2, 0, "sourceTransportPort"},
		Field{ieDestinationTransportPort, 2, 0, "destinationTransportPort"},
		Field{ieProtocolIdentifier, 1, 0, "protocolIdentifier"},
		// ICMP type*256+code of the flow's first packet, 0 for other
		// protocols: the ports of an ICMP flow are 0.
		icmp,
		Field{ieVlanID, 2, 0, "vlanId"},
		Field{ieDot1qCustomerVlanID, 2, 0, "dot1qCustomerVlanId"},
		Field{ieFlowStartMilliseconds, 8, 0, "flowStartMilliseconds"},
		Field{ieFlowEndMilliseconds, 8, 0, "flowEndMilliseconds"},
		Field{ieOctetDeltaCount, 8, 0, "octetDeltaCount"},
		Field{iePacketDeltaCount, 8, 0, "packetDeltaCount"},
		Field{ieOctetDeltaCount, 8, ReversePEN, "reverseOctetDeltaCount"},
		Field{iePacketDeltaCount, 8, ReversePEN, "reversePacketDeltaCount"},
		// Reverse before forward: nfdump 1.7 stores either under one
		// field, the later one winning, and its flags column is forward.
		// One byte, the reduced-size encoding of RFC 7011 6.2 (we track
		// the eight classic flags only): pmacct's nfacctd reads the
		// flags only from a one-byte tcpControlBits and shows 0 for two.
		Field{ieTCPControlBits, 1, ReversePEN, "reverseTcpControlBits"},
		Field{ieTCPControlBits, 1, 0, "tcpControlBits"},
		Field{ieFlowEndReason, 1, 0, "flowEndReason"},
		Field{ieBiflowDirection, 1, 0, "biflowDirection"},
		Field{EntFwdPayloadOctets, 8, pen, "flowhawkFwdPayloadOctets"},
		Field{EntBwdPayloadOctets, 8, pen, "flowhawkBwdPayloadOctets"},
		Field{EntFwdPktLenMean, 8, pen, "flowhawkFwdPacketLengthMean"},
		Field{EntBwdPktLenMean, 8, pen, "flowhawkBwdPacketLengthMean"},
		Field{EntFwdPktLenStd, 8, pen, "flowhawkFwdPacketLengthStd"},
		Field{EntBwdPktLenStd, 8, pen, "flowhawkBwdPacketLengthStd"},
		Field{EntFlowIATMean, 8, pen, "flowhawkFlowIATMean"},
		Field{EntFlowIATStd, 8, pen, "flowhawkFlowIATStd"},
		Field{EntActiveMean, 8, pen, "flowhawkActiveMean"},
		Field{EntIdleMean, 8, pen, "flowhawkIdleMean"},
		Field{EntSubflowCount, 4, pen, "flowhawkSubflowCount"},
		Field{EntSamplingRate, 4, pen, "flowhawkSamplingRate"},
		Field{EntTunnelID, 4, pen, "flowhawkTunnelId"},
		Field{EntFlowClass, VarLen, pen, "flowhawkFlowClass"},
	)
	return f
}

// Fields returns the template of IPv4 or IPv6 records, for documentation
// and for collectors that want to check what they receive.
func Fields(v6 bool, pen uint32) []Field { return fields(v6, pen) }
