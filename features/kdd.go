package features

import (
	"strconv"

	"github.com/flowhawk/flowhawk/collector"
)

// ConnState is the KDD/Bro connection state ("flag" column) of a flow,
// derived from the TCP flags each side sent.
type ConnState uint8

// Connection states, named as in KDD Cup 99 / NSL-KDD.
const (
	StateSF     ConnState = iota // established and closed normally (and every non-TCP flow)
	StateS0                      // SYN seen, no reply
	StateS1                      // established, not closed
	StateS2                      // established, only the initiator sent FIN
	StateS3                      // established, only the responder sent FIN
	StateREJ                     // SYN answered by RST
	StateRSTO                    // established, the initiator reset
	StateRSTR                    // established, the responder reset
	StateRSTOS0                  // SYN then RST from the initiator, no SYN-ACK
	StateRSTRH                   // SYN-ACK then RST from the responder, no SYN
	StateSH                      // SYN then FIN from the initiator, no SYN-ACK
	StateSHR                     // SYN-ACK then FIN from the responder, no SYN
	StateOTH                     // no SYN seen (midstream)
)

var stateNames = [...]string{"SF", "S0", "S1", "S2", "S3", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"}

// String is the state's NSL-KDD name (SF, S0, REJ, ...), the value of the
// flag column.
func (s ConnState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "OTH"
}

// SError reports a "SYN error" state as NSL-KDD counts them: S0, S1, S2,
// S3 and SH (in KDDTrain+ every row with count 1 in one of these states
// has serror_rate 1, every other row 0).
func (s ConnState) SError() bool { return s >= StateS0 && s <= StateS3 || s == StateSH }

// RError reports a rejected or reset connection as NSL-KDD counts them:
// REJ, RSTO, RSTR and RSTOS0 (in KDDTrain+ every row with count 1 in one of
// these states has rerror_rate 1, every other row 0). RSTRH and SHR,
// absent from NSL-KDD, are neither.
func (s ConnState) RError() bool {
	return s == StateREJ || s == StateRSTO || s == StateRSTR || s == StateRSTOS0
}

// FlowState derives the connection state from the per-direction TCP flag
// counts. Counts carry no order, so "SYN then RST" means "both seen";
// every non-TCP flow is SF, as in NSL-KDD.
func FlowState(f *collector.Flow) ConnState {
	if f.Key.Proto != 6 {
		return StateSF
	}
	const fin, syn, rst = 0, 1, 2
	fw, bw := &f.Fwd.FlagCounts, &f.Bwd.FlagCounts
	synF, synB := fw[syn] > 0, bw[syn] > 0
	finF, finB := fw[fin] > 0, bw[fin] > 0
	rstF, rstB := fw[rst] > 0, bw[rst] > 0
	switch {
	case synF && synB:
		switch {
		case rstF:
			return StateRSTO
		case rstB:
			return StateRSTR
		case finF && finB:
			return StateSF
		case finF:
			return StateS2
		case finB:
			return StateS3
		}
		return StateS1
	case synF:
		switch {
		case rstB:
			return StateREJ
		case rstF:
			return StateRSTOS0
		case finF:
			return StateSH
		}
		return StateS0
	case synB:
		switch {
		case rstB:
			return StateRSTRH
		case finB:
			return StateSHR
		}
	}
	return StateOTH
}

// kddServices maps well-known responder ports to NSL-KDD service names.
// TCP and UDP differ for a few (domain vs domain_u).
var kddTCP = map[uint16]string{
	7: "echo", 9: "discard", 11: "systat", 13: "daytime", 15: "netstat", 20: "ftp_data", 21: "ftp", 22: "ssh",
	23: "telnet", 25: "smtp", 37: "time", 42: "name", 43: "whois", 53: "domain", 57: "mtp", 70: "gopher",
	71: "remote_job", 77: "rje", 79: "finger", 80: "http", 84: "ctf", 95: "supdup", 101: "hostnames",
	102: "iso_tsap", 105: "csnet_ns", 109: "pop_2", 110: "pop_3", 111: "sunrpc", 113: "auth", 117: "uucp_path",
	119: "nntp", 137: "netbios_ns", 138: "netbios_dgm", 139: "netbios_ssn", 143: "imap4", 150: "sql_net",
	175: "vmnet", 179: "bgp", 194: "IRC", 210: "Z39_50", 245: "link", 389: "ldap", 433: "nnsp", 443: "http_443",
	512: "exec", 513: "login", 514: "shell", 515: "printer", 520: "efs", 530: "courier", 540: "uucp",
	543: "klogin", 544: "kshell", 2784: "http_2784", 5190: "aol", 6667: "IRC", 8001: "http_8001",
}

var kddUDP = map[uint16]string{
	53: "domain_u", 69: "tftp_u", 123: "ntp_u",
}

// Service names the responder's service as NSL-KDD does: a well-known port
// name, X11 for 6000-6063, "private" for other TCP ports, "other" for other
// UDP ports and other protocols; ICMP and ICMPv6 flows get KDD's names from
// the type of their first packet (eco_i, ecr_i, urp_i, tim_i, red_i, oth_i).
func Service(f *collector.Flow) string {
	port := f.Dst().Port
	switch f.Key.Proto {
	case 6:
		if s, ok := kddTCP[port]; ok {
			return s
		}
		if port >= 6000 && port <= 6063 {
			return "X11"
		}
		return "private"
	case 17:
		if s, ok := kddUDP[port]; ok {
			return s
		}
		return "other"
	case 1:
		return icmpService(f.ICMPType, false)
	case 58:
		return icmpService(f.ICMPType, true)
	}
	return "other"
}

// icmpServiceNames are the KDD Cup 99 service names of ICMP connections,
// indexed by icmpServiceID.
var icmpServiceNames = [...]string{"oth_i", "eco_i", "ecr_i", "urp_i", "tim_i", "red_i"}

// icmpService maps an ICMP type to the KDD Cup 99 service names of ICMP
// connections (eco_i, ecr_i, urp_i, tim_i, red_i, ...).
func icmpService(t uint8, v6 bool) string { return icmpServiceNames[icmpServiceID(t, v6)] }

// icmpServiceID is the index in icmpServiceNames of an ICMP type's
// service: the windows key ICMP services by it, since ICMP flows have no
// ports to tell them apart.
func icmpServiceID(t uint8, v6 bool) uint8 {
	if v6 {
		switch t {
		case 128:
			return 1
		case 129:
			return 2
		case 1:
			return 3
		case 137:
			return 5
		}
		return 0
	}
	switch t {
	case 8:
		return 1
	case 0:
		return 2
	case 3:
		return 3
	case 13, 14:
		return 4
	case 5:
		return 5
	}
	return 0
}

// ProtocolType is KDD's protocol_type: tcp, udp, icmp (v4 and v6), or the
// protocol number for anything else.
func ProtocolType(proto uint8) string {
	switch proto {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1, 58:
		return "icmp"
	}
	return strconv.Itoa(int(proto))
}

func appendProto(b []byte, proto uint8) []byte {
	switch proto {
	case 6, 17, 1, 58:
		return append(b, ProtocolType(proto)...)
	}
	return strconv.AppendUint(b, uint64(proto), 10)
}

func kddDefs() []def {
	g := GroupKDD
	wv := func(name, unit, doc string, k Kind, b Basis, fn func(*WindowValues) float64) def {
		d := numCol(g, name, k, unit, Flow, doc, "see Windows", "", func(c *calc) float64 { return fn(c.wv) })
		d.Basis = b
		return d
	}
	defs := []def{
		numCol(g, "duration", Float, "s", Flow, "Flow duration in seconds (KDD's unit).", "(end - start) / 1e9", "", func(c *calc) float64 { return c.durS }),
		strCol(g, "protocol_type", Flow, "tcp, udp or icmp (ICMPv6 included); other protocols as their number.", "proto name", "", func(c *calc, b []byte) []byte { return appendProto(b, c.f.Key.Proto) }),
		strCol(g, "service", Bwd, "Responder service by port, with NSL-KDD's names (http, smtp, domain_u, private, other, ...).", "port -> name", "", func(c *calc, b []byte) []byte { return append(b, Service(c.f)...) }),
		strCol(g, "flag", Flow, "Connection state from the TCP flags (SF, S0, S1, S2, S3, REJ, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH); SF for non-TCP.", "state(tcp flags)", "", func(c *calc, b []byte) []byte { return append(b, c.state.String()...) }),
		numCol(g, "src_bytes", Int, "bytes", Fwd, "Payload bytes from initiator to responder.", "sum(fwd payload_len)", "", func(c *calc) float64 { return float64(c.f.Fwd.PayloadBytes) }),
		numCol(g, "dst_bytes", Int, "bytes", Bwd, "Payload bytes from responder to initiator.", "sum(bwd payload_len)", "", func(c *calc) float64 { return float64(c.f.Bwd.PayloadBytes) }),
		numCol(g, "land", Int, "", Flow, "1 when source and destination address and port are equal, else 0.", "src == dst", "",
			func(c *calc) float64 { return b2f(c.src.Addr == c.dst.Addr && c.src.Port == c.dst.Port) }),
		numCol(g, "wrong_fragment", Int, "packets", Flow, "Fragments with impossible offsets or lengths.", "count(wrong fragments)", "", func(c *calc) float64 { return float64(c.f.WrongFragments) }),
		numCol(g, "urgent", Int, "packets", Flow, "Packets with URG set, both directions.", "count(URG)", "", (*calc).urgent),
		wv("count", "connections", "Connections to the same responder host that started in the 2 s up to this one's start, this one included.", Int, SpanWindow, func(w *WindowValues) float64 { return w.Count }),
		wv("srv_count", "connections", "Connections to the same service (protocol and responder port) that started in the 2 s up to this one's start, this one included.", Int, SpanWindow, func(w *WindowValues) float64 { return w.SrvCount }),
		wv("serror_rate", "", "Share of the count connections in a SYN error state (S0, S1, S2, S3, SH).", Float, SpanWindow, func(w *WindowValues) float64 { return w.SErrorRate }),
		wv("srv_serror_rate", "", "Share of the srv_count connections in a SYN error state.", Float, SpanWindow, func(w *WindowValues) float64 { return w.SrvSErrorRate }),
		wv("rerror_rate", "", "Share of the count connections rejected or reset (REJ, RSTO, RSTR, RSTOS0).", Float, SpanWindow, func(w *WindowValues) float64 { return w.RErrorRate }),
		wv("srv_rerror_rate", "", "Share of the srv_count connections rejected or reset.", Float, SpanWindow, func(w *WindowValues) float64 { return w.SrvRErrorRate }),
		wv("same_srv_rate", "", "Share of the count connections to the same service.", Float, SpanWindow, func(w *WindowValues) float64 { return w.SameSrvRate }),
		wv("diff_srv_rate", "", "Share of the count connections to other services.", Float, SpanWindow, func(w *WindowValues) float64 { return w.DiffSrvRate }),
		wv("srv_diff_host_rate", "", "Share of the srv_count connections to other responder hosts.", Float, SpanWindow, func(w *WindowValues) float64 { return w.SrvDiffHostRate }),
		wv("dst_host_count", "connections", "Connections to the same responder host among the last 100, this one included.", Int, ConnWindow, func(w *WindowValues) float64 { return w.DstHostCount }),
		wv("dst_host_srv_count", "connections", "Connections to the same service among the last 100, this one included.", Int, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSrvCount }),
		wv("dst_host_same_srv_rate", "", "Share of the dst_host_count connections to the same service.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSameSrvRate }),
		wv("dst_host_diff_srv_rate", "", "Share of the dst_host_count connections to other services.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostDiffSrvRate }),
		wv("dst_host_same_src_port_rate", "", "Share of the dst_host_count connections from the same initiator port.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSameSrcPortRate }),
		wv("dst_host_srv_diff_host_rate", "", "Share of the dst_host_srv_count connections to other responder hosts.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSrvDiffHostRate }),
		wv("dst_host_serror_rate", "", "Share of the dst_host_count connections in a SYN error state.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSErrorRate }),
		wv("dst_host_srv_serror_rate", "", "Share of the dst_host_srv_count connections in a SYN error state.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSrvSErrorRate }),
		wv("dst_host_rerror_rate", "", "Share of the dst_host_count connections rejected or reset.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostRErrorRate }),
		wv("dst_host_srv_rerror_rate", "", "Share of the dst_host_srv_count connections rejected or reset.", Float, ConnWindow, func(w *WindowValues) float64 { return w.DstHostSrvRErrorRate }),
	}
	withBlock(defs[len(defs)-19:], func(c *calc, num []float64) {
		w := c.wv
		num = num[:19]
		num[0], num[1], num[2], num[3], num[4] = w.Count, w.SrvCount, w.SErrorRate, w.SrvSErrorRate, w.RErrorRate
		num[5], num[6], num[7], num[8] = w.SrvRErrorRate, w.SameSrvRate, w.DiffSrvRate, w.SrvDiffHostRate
		num[9], num[10], num[11], num[12] = w.DstHostCount, w.DstHostSrvCount, w.DstHostSameSrvRate, w.DstHostDiffSrvRate
		num[13], num[14], num[15], num[16] = w.DstHostSameSrcPortRate, w.DstHostSrvDiffHostRate, w.DstHostSErrorRate, w.DstHostSrvSErrorRate
		num[17], num[18] = w.DstHostRErrorRate, w.DstHostSrvRErrorRate
	})
	return defs
}
