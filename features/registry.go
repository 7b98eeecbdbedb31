package features

import (
	"strconv"
	"strings"

	"github.com/flowhawk/flowhawk/collector"
)

// numCol builds a numeric definition; header is the CSV header text and the
// name is the header without surrounding spaces.
func numCol(g Group, header string, k Kind, unit string, d Direction, doc, formula, cic string, fn func(*calc) float64) def {
	return def{Column: Column{Name: strings.TrimSpace(header), Header: header, Kind: k, Unit: unit, Dir: d, Group: g, Doc: doc, Formula: formula, CIC: cic, Basis: basisOfUnit(unit)}, num: fn}
}

// timed marks a column whose unit does not say that it comes from packet
// timestamps (the shape of the gaps, the start time).
func timed(d def) def {
	d.Basis = Timed
	return d
}

func strCol(g Group, header string, d Direction, doc, formula, cic string, fn func(*calc, []byte) []byte) def {
	return def{Column: Column{Name: strings.TrimSpace(header), Header: header, Kind: String, Dir: d, Group: g, Doc: doc, Formula: formula, CIC: cic, Basis: Counted}, str: fn}
}

// registry returns the definitions selected by cfg, in output order.
func registry(cfg Config) []def {
	defs := cicDefs()
	if cfg.Extras {
		defs = append(defs, extraDefs()...)
	}
	if cfg.SPLT > 0 {
		defs = append(defs, spltDefs(cfg.SPLT)...)
	}
	if cfg.Windows {
		defs = append(defs, kddDefs()...)
	}
	return defs
}

// Deviation notes shared by several CIC columns.
const (
	devFirstTwice = "CICFlowMeter adds the first packet's payload twice to the flow-wide length statistics; we count every packet once."
	devRate       = "CICFlowMeter writes Infinity or NaN when the duration is 0; we write 0."
	devFlagDir    = "CIC-IDS2017's values are at most 1 and do not follow the packets with the flag (its Fwd PSH Flags equals its SYN Flag Count in every row); we count every packet of the direction with the flag. See Deviations (direction flags)."
	devFlagCount  = "CIC-IDS2017's values are only 0 or 1, not packet counts; we count the packets with the flag. See Deviations (flag counts)."
	devActive     = "CICFlowMeter leaves out the last active period, so its value is 0 for every flow without an idle gap; we include it, and our values may have a fraction of a microsecond. See Deviations (active periods)."
	devSubflow    = "CIC-IDS2017's Subflow columns equal the flow's totals (its subflow count is in effect 1); ours are divided by subflow_count. See Deviations (subflows)."
	devUDPHeader  = "For UDP, CIC-IDS2017 counts 20 to 44 bytes a packet, never the 8-byte UDP header; we count 8. See Deviations (UDP header length)."
	devBulk       = "CICFlowMeter's forward bulk code never updates its forward counters (always 0) and its backward bulk is computed with integer division; we follow its bulk definition (runs of at least 4 data packets of one direction, no data packet of the other direction in between, gaps at most 1 s) for both directions."
	devIntDiv     = "CICFlowMeter uses integer division; we keep the fraction."
	devUs         = "CICFlowMeter has microsecond timestamps, so its values are integral; ours are nanosecond-exact microseconds and may have a fraction."
)

// momentCols returns Max/Min/Mean/Std columns of m in CIC's order.
func dirLenCols(d Direction, prefix [4]string, cic [4]string) []def {
	sel := func(c *calc) *collector.Moments { return &c.dir(d).PayloadLen }
	dn := d.String()
	return withBlock([]def{
		numCol(GroupCIC, prefix[0], Int, "bytes", d, "Largest "+dn+" packet payload.", "max(payload_len)", cic[0], func(c *calc) float64 { return sel(c).Max }),
		numCol(GroupCIC, prefix[1], Int, "bytes", d, "Smallest "+dn+" packet payload.", "min(payload_len)", cic[1], func(c *calc) float64 { return sel(c).Min }),
		numCol(GroupCIC, prefix[2], Float, "bytes", d, "Mean "+dn+" packet payload.", "mean(payload_len)", cic[2], func(c *calc) float64 { return sel(c).Mean() }),
		numCol(GroupCIC, prefix[3], Float, "bytes", d, "Sample standard deviation of "+dn+" packet payloads (n-1), 0 below two packets.", "std(payload_len, ddof=1)", cic[3], func(c *calc) float64 { return sel(c).Std() }),
	}, func(c *calc, num []float64) {
		m := sel(c)
		num[0], num[1], num[2], num[3] = m.Max, m.Min, m.Mean(), m.Std()
	})
}

func iatCols(d Direction, total string, names [4]string) []def {
	sel := func(c *calc) *collector.Moments {
		if d == Flow {
			return &c.f.IAT
		}
		return &c.dir(d).IAT
	}
	what := "consecutive packets of the flow"
	if d != Flow {
		what = "consecutive " + d.String() + " packets"
	}
	var defs []def
	if total != "" {
		defs = append(defs, numCol(GroupCIC, total, Float, "us", d, "Sum of the gaps between "+what+": the latest minus the first packet time in capture order (last minus first when the capture is in time order; see Conventions).", "sum(iat)", devUs,
			func(c *calc) float64 { return us(sel(c).Total()) }))
	}
	defs = append(defs,
		numCol(GroupCIC, names[0], Float, "us", d, "Mean gap between "+what+", 0 below two packets.", "mean(iat)", devUs, func(c *calc) float64 { return us(sel(c).Mean()) }),
		numCol(GroupCIC, names[1], Float, "us", d, "Sample standard deviation of the gaps between "+what+", 0 below three packets.", "std(iat, ddof=1)", devUs, func(c *calc) float64 { return us(sel(c).Std()) }),
		numCol(GroupCIC, names[2], Float, "us", d, "Largest gap between "+what+".", "max(iat)", devUs, func(c *calc) float64 { return us(sel(c).Max) }),
		numCol(GroupCIC, names[3], Float, "us", d, "Smallest gap between "+what+".", "min(iat)", devUs, func(c *calc) float64 { return us(sel(c).Min) }),
	)
	return withBlock(defs, func(c *calc, num []float64) {
		m := sel(c)
		if total != "" {
			num[0], num = us(m.Total()), num[1:]
		}
		num[0], num[1], num[2], num[3] = us(m.Mean()), us(m.Std()), us(m.Max), us(m.Min)
	})
}

func periodCols(what string, names [4]string, sel func(*calc) *collector.Moments, doc, cic string) []def {
	return withBlock([]def{
		numCol(GroupCIC, names[0], Float, "us", Flow, "Mean "+what+" period. "+doc, "mean("+what+")", cic, func(c *calc) float64 { return us(sel(c).Mean()) }),
		numCol(GroupCIC, names[1], Float, "us", Flow, "Sample standard deviation of the "+what+" periods.", "std("+what+", ddof=1)", cic, func(c *calc) float64 { return us(sel(c).Std()) }),
		numCol(GroupCIC, names[2], Float, "us", Flow, "Longest "+what+" period.", "max("+what+")", cic, func(c *calc) float64 { return us(sel(c).Max) }),
		numCol(GroupCIC, names[3], Float, "us", Flow, "Shortest "+what+" period.", "min("+what+")", cic, func(c *calc) float64 { return us(sel(c).Min) }),
	}, func(c *calc, num []float64) {
		m := sel(c)
		num[0], num[1], num[2], num[3] = us(m.Mean()), us(m.Std()), us(m.Max), us(m.Min)
	})
}

func flagCount(header string, bit int, name string) def {
	return numCol(GroupCIC, header, Int, "packets", Flow, "Packets of either direction with "+name+" set.", "count(packets with "+name+")", devFlagCount,
		func(c *calc) float64 { return float64(c.f.Fwd.FlagCounts[bit]) + float64(c.f.Bwd.FlagCounts[bit]) })
}

func bulkCols(d Direction, names [3]string) []def {
	dn := d.String()
	return withBlock([]def{
		numCol(GroupCIC, names[0], Float, "bytes", d, "Mean payload bytes per "+dn+" bulk transfer, 0 without bulk.", "bulk_bytes / bulk_count", devBulk,
			func(c *calc) float64 { s := c.dir(d); return ratio(float64(s.BulkBytes), float64(s.BulkCount)) }),
		numCol(GroupCIC, names[1], Float, "packets", d, "Mean packets per "+dn+" bulk transfer, 0 without bulk.", "bulk_packets / bulk_count", devBulk,
			func(c *calc) float64 { s := c.dir(d); return ratio(float64(s.BulkPackets), float64(s.BulkCount)) }),
		numCol(GroupCIC, names[2], Float, "bytes/s", d, "Payload bytes per second inside "+dn+" bulk transfers, 0 without bulk or when the bulks took no time.", "bulk_bytes / bulk_duration", devBulk,
			func(c *calc) float64 {
				s := c.dir(d)
				return perSecond(float64(s.BulkBytes), float64(s.BulkDuration)/1e9)
			}),
	}, func(c *calc, num []float64) {
		s := c.dir(d)
		num[0] = ratio(float64(s.BulkBytes), float64(s.BulkCount))
		num[1] = ratio(float64(s.BulkPackets), float64(s.BulkCount))
		num[2] = perSecond(float64(s.BulkBytes), float64(s.BulkDuration)/1e9)
	})
}

// cicDefs is the CIC-IDS2017 TrafficLabelling layout, header text copied
// from the published CSVs (leading spaces included), without " Label".
func cicDefs() []def {
	g := GroupCIC
	defs := []def{
		strCol(g, "Flow ID", Flow, "Flow identifier: initiator IP, responder IP, initiator port, responder port, protocol, joined by '-'.", "src-dst-sport-dport-proto", "CICFlowMeter's Flow ID orders the endpoints its own way; ours always starts with the initiator.", (*calc).appendFlowID),
		strCol(g, " Source IP", Fwd, "Initiator address (sender of the first packet, or of the SYN for TCP).", "src addr", "", (*calc).appendSrc),
		numCol(g, " Source Port", Int, "", Fwd, "Initiator port (0 without ports).", "src port", "", func(c *calc) float64 { return float64(c.src.Port) }),
		strCol(g, " Destination IP", Bwd, "Responder address.", "dst addr", "", (*calc).appendDst),
		numCol(g, " Destination Port", Int, "", Bwd, "Responder port (0 without ports).", "dst port", "", func(c *calc) float64 { return float64(c.dst.Port) }),
		numCol(g, " Protocol", Int, "", Flow, "IP protocol number (6 TCP, 17 UDP, 1 ICMP).", "ip proto", "", func(c *calc) float64 { return float64(c.f.Key.Proto) }),
		timed(strCol(g, " Timestamp", Flow, "Time of the first packet, UTC, as 2006-01-02 15:04:05.000000.", "start", "CIC wrote local time as d/M/yyyy h:mm[:ss] [AM|PM]; we write UTC ISO 8601 with microseconds, which pandas.to_datetime parses without a format.", (*calc).appendStart)),
		numCol(g, " Flow Duration", Float, "us", Flow, "Time from the earliest to the latest packet, whatever their order in the capture.", "end - start", devUs, func(c *calc) float64 { return us(float64(c.f.Duration())) }),
		numCol(g, " Total Fwd Packets", Int, "packets", Fwd, "Forward packets.", "count(fwd)", "", func(c *calc) float64 { return float64(c.f.Fwd.Packets) }),
		numCol(g, " Total Backward Packets", Int, "packets", Bwd, "Backward packets.", "count(bwd)", "", func(c *calc) float64 { return float64(c.f.Bwd.Packets) }),
		numCol(g, "Total Length of Fwd Packets", Int, "bytes", Fwd, "Forward transport payload bytes.", "sum(fwd payload_len)", "", func(c *calc) float64 { return float64(c.f.Fwd.PayloadBytes) }),
		numCol(g, " Total Length of Bwd Packets", Int, "bytes", Bwd, "Backward transport payload bytes.", "sum(bwd payload_len)", "", func(c *calc) float64 { return float64(c.f.Bwd.PayloadBytes) }),
	}
	defs = append(defs, dirLenCols(Fwd, [4]string{" Fwd Packet Length Max", " Fwd Packet Length Min", " Fwd Packet Length Mean", " Fwd Packet Length Std"}, [4]string{})...)
	defs = append(defs, dirLenCols(Bwd, [4]string{"Bwd Packet Length Max", " Bwd Packet Length Min", " Bwd Packet Length Mean", " Bwd Packet Length Std"}, [4]string{})...)
	defs = append(defs,
		numCol(g, "Flow Bytes/s", Float, "bytes/s", Flow, "Payload bytes of both directions per second of flow duration; 0 when the duration is 0.", "(fwd+bwd payload bytes) / duration", devRate,
			func(c *calc) float64 { return perSecond(float64(c.f.Fwd.PayloadBytes+c.f.Bwd.PayloadBytes), c.durS) }),
		numCol(g, " Flow Packets/s", Float, "packets/s", Flow, "Packets of both directions per second; 0 when the duration is 0.", "packets / duration", devRate,
			func(c *calc) float64 { return perSecond(float64(c.f.Packets()), c.durS) }),
	)
	defs = append(defs, iatCols(Flow, "", [4]string{" Flow IAT Mean", " Flow IAT Std", " Flow IAT Max", " Flow IAT Min"})...)
	defs = append(defs, iatCols(Fwd, "Fwd IAT Total", [4]string{" Fwd IAT Mean", " Fwd IAT Std", " Fwd IAT Max", " Fwd IAT Min"})...)
	defs = append(defs, iatCols(Bwd, "Bwd IAT Total", [4]string{" Bwd IAT Mean", " Bwd IAT Std", " Bwd IAT Max", " Bwd IAT Min"})...)
	dirFlag := func(header string, d Direction, bit int, name string) def {
		return numCol(g, header, Int, "packets", d, d.String()+" packets with "+name+" set.", "count("+d.String()+" packets with "+name+")", devFlagDir,
			func(c *calc) float64 { return float64(c.dir(d).FlagCounts[bit]) })
	}
	hdr := func(header, name string, d Direction, cic string) def {
		c := numCol(g, header, Int, "bytes", d, "Sum of the transport (TCP/UDP/ICMP) header lengths of "+d.String()+" packets.", "sum(l4_header_len)", cic,
			func(c *calc) float64 { return float64(c.dir(d).L4HeaderBytes) })
		c.Name = name
		return c
	}
	defs = append(defs,
		dirFlag("Fwd PSH Flags", Fwd, 3, "PSH"),
		dirFlag(" Bwd PSH Flags", Bwd, 3, "PSH"),
		dirFlag(" Fwd URG Flags", Fwd, 5, "URG"),
		dirFlag(" Bwd URG Flags", Bwd, 5, "URG"),
		hdr(" Fwd Header Length", "Fwd Header Length", Fwd, "Some CIC-IDS2017 files hold negative values here (a CICFlowMeter counter bug); ours are 64-bit sums, never negative. "+devUDPHeader),
		hdr(" Bwd Header Length", "Bwd Header Length", Bwd, "As Fwd Header Length."),
		numCol(g, "Fwd Packets/s", Float, "packets/s", Fwd, "Forward packets per second of flow duration; 0 when the duration is 0.", "fwd packets / duration", devRate,
			func(c *calc) float64 { return perSecond(float64(c.f.Fwd.Packets), c.durS) }),
		numCol(g, " Bwd Packets/s", Float, "packets/s", Bwd, "Backward packets per second of flow duration; 0 when the duration is 0.", "bwd packets / duration", devRate,
			func(c *calc) float64 { return perSecond(float64(c.f.Bwd.Packets), c.durS) }),
		numCol(g, " Min Packet Length", Int, "bytes", Flow, "Smallest payload of any packet.", "min(payload_len)", "", func(c *calc) float64 { return c.all.Min }),
		numCol(g, " Max Packet Length", Int, "bytes", Flow, "Largest payload of any packet.", "max(payload_len)", "", func(c *calc) float64 { return c.all.Max }),
		numCol(g, " Packet Length Mean", Float, "bytes", Flow, "Mean payload of all packets.", "mean(payload_len)", devFirstTwice, func(c *calc) float64 { return c.all.Mean() }),
		numCol(g, " Packet Length Std", Float, "bytes", Flow, "Sample standard deviation of all payloads.", "std(payload_len, ddof=1)", devFirstTwice, func(c *calc) float64 { return c.all.Std() }),
		numCol(g, " Packet Length Variance", Float, "bytes^2", Flow, "Sample variance of all payloads.", "var(payload_len, ddof=1)", devFirstTwice, func(c *calc) float64 { return c.all.Variance() }),
	)
	// The flag counts in CIC's order (CWE before ECE), one block.
	flagBits := [...]int{0, 1, 2, 3, 4, 5, 7, 6}
	defs = append(defs, withBlock([]def{
		flagCount("FIN Flag Count", flagBits[0], "FIN"),
		flagCount(" SYN Flag Count", flagBits[1], "SYN"),
		flagCount(" RST Flag Count", flagBits[2], "RST"),
		flagCount(" PSH Flag Count", flagBits[3], "PSH"),
		flagCount(" ACK Flag Count", flagBits[4], "ACK"),
		flagCount(" URG Flag Count", flagBits[5], "URG"),
		flagCount(" CWE Flag Count", flagBits[6], "CWR"),
		flagCount(" ECE Flag Count", flagBits[7], "ECE"),
	}, func(c *calc, num []float64) {
		f, b := &c.f.Fwd.FlagCounts, &c.f.Bwd.FlagCounts
		for i, bit := range flagBits {
			num[i] = float64(f[bit]) + float64(b[bit])
		}
	})...)
	defs = append(defs,
		numCol(g, " Down/Up Ratio", Float, "", Flow, "Backward packets per forward packet; 0 without forward packets.", "bwd packets / fwd packets", devIntDiv,
			func(c *calc) float64 { return ratio(float64(c.f.Bwd.Packets), float64(c.f.Fwd.Packets)) }),
		numCol(g, " Average Packet Size", Float, "bytes", Flow, "Payload bytes per packet.", "(fwd+bwd payload bytes) / packets", devFirstTwice,
			func(c *calc) float64 {
				return ratio(float64(c.f.Fwd.PayloadBytes+c.f.Bwd.PayloadBytes), float64(c.f.Packets()))
			}),
		numCol(g, " Avg Fwd Segment Size", Float, "bytes", Fwd, "Forward payload bytes per forward packet (same as Fwd Packet Length Mean).", "fwd payload bytes / fwd packets", "",
			func(c *calc) float64 { return c.f.Fwd.PayloadLen.Mean() }),
		numCol(g, " Avg Bwd Segment Size", Float, "bytes", Bwd, "Backward payload bytes per backward packet (same as Bwd Packet Length Mean).", "bwd payload bytes / bwd packets", "",
			func(c *calc) float64 { return c.f.Bwd.PayloadLen.Mean() }),
		hdr(" Fwd Header Length", "Fwd Header Length.1", Fwd, "CIC-IDS2017 repeats the Fwd Header Length column here under the same header; we repeat it too (pandas reads it as \"Fwd Header Length.1\"). "+devUDPHeader),
	)
	defs = append(defs, bulkCols(Fwd, [3]string{"Fwd Avg Bytes/Bulk", " Fwd Avg Packets/Bulk", " Fwd Avg Bulk Rate"})...)
	defs = append(defs, bulkCols(Bwd, [3]string{" Bwd Avg Bytes/Bulk", " Bwd Avg Packets/Bulk", "Bwd Avg Bulk Rate"})...)
	sub := func(header string, d Direction, unit, what string, fn func(*collector.DirStats) uint64) def {
		return numCol(g, header, Float, unit, d, "Mean "+d.String()+" "+what+" per subflow (subflows are split by gaps over 1 s).", d.String()+" "+what+" / subflow_count", devSubflow,
			func(c *calc) float64 { return ratio(float64(fn(c.dir(d))), float64(c.f.SubflowCount)) })
	}
	defs = append(defs,
		sub("Subflow Fwd Packets", Fwd, "packets", "packets", func(s *collector.DirStats) uint64 { return s.Packets }),
		sub(" Subflow Fwd Bytes", Fwd, "bytes", "payload bytes", func(s *collector.DirStats) uint64 { return s.PayloadBytes }),
		sub(" Subflow Bwd Packets", Bwd, "packets", "packets", func(s *collector.DirStats) uint64 { return s.Packets }),
		sub(" Subflow Bwd Bytes", Bwd, "bytes", "payload bytes", func(s *collector.DirStats) uint64 { return s.PayloadBytes }),
		numCol(g, "Init_Win_bytes_forward", Int, "bytes", Fwd, "TCP window field of the first forward packet; -1 when there is none (not TCP, or no forward packet) or the snap length cut that packet's TCP header before the window.", "fwd first tcp window", "",
			func(c *calc) float64 { return float64(c.f.Fwd.InitWindow) }),
		numCol(g, " Init_Win_bytes_backward", Int, "bytes", Bwd, "TCP window field of the first backward packet; -1 when there is none or the snap length cut that packet's TCP header before the window.", "bwd first tcp window", "",
			func(c *calc) float64 { return float64(c.f.Bwd.InitWindow) }),
		numCol(g, " act_data_pkt_fwd", Int, "packets", Fwd, "Forward packets with at least one byte of transport payload.", "count(fwd payload_len >= 1)", "CICFlowMeter does not count the flow's first packet; we do.",
			func(c *calc) float64 { return float64(c.f.Fwd.DataPackets) }),
		numCol(g, " min_seg_size_forward", Int, "bytes", Fwd, "Smallest forward TCP/UDP segment payload (same as Fwd Packet Length Min).", "min(fwd payload_len)", "CICFlowMeter writes the smallest forward header length here; that value is in the extra column fwd_l4_header_min.",
			func(c *calc) float64 { return c.f.Fwd.PayloadLen.Min }),
	)
	defs = append(defs, periodCols("active", [4]string{"Active Mean", " Active Std", " Active Max", " Active Min"}, func(c *calc) *collector.Moments { return &c.f.Active },
		"An active period is a run of packets with no gap over 5 s, the last one included; a run of one packet (length 0) is not counted, as in CICFlowMeter, and the value is 0 when the flow has no longer run.", devActive)...)
	defs = append(defs, periodCols("idle", [4]string{"Idle Mean", " Idle Std", " Idle Max", " Idle Min"}, func(c *calc) *collector.Moments { return &c.f.Idle },
		"An idle period is a gap over 5 s between packets; 0 when there is none.", devUs)...)
	return defs
}

func momentPair(prefix, what string, d Direction, b Basis, sel func(*calc) *collector.Moments) []def {
	defs := withBlock([]def{
		numCol(GroupExtra, prefix+"_skew", Float, "", d, "Skewness (Fisher-Pearson g1, biased) of "+what+"; 0 below three values or without spread.", "m3 / m2^1.5", "",
			func(c *calc) float64 { return sel(c).Skewness() }),
		numCol(GroupExtra, prefix+"_kurt", Float, "", d, "Excess kurtosis (g2, biased, 0 for a normal distribution) of "+what+"; 0 below four values or without spread.", "m4 / m2^2 - 3", "",
			func(c *calc) float64 { return sel(c).Kurtosis() }),
	}, func(c *calc, num []float64) {
		m := sel(c)
		num[0], num[1] = m.Skewness(), m.Kurtosis()
	})
	defs[0].Basis, defs[1].Basis = b, b
	return defs
}

func extraDefs() []def {
	g := GroupExtra
	defs := []def{
		numCol(g, "fwd_bytes", Int, "bytes", Fwd, "Forward IP bytes (IP headers included), the volume CIC's payload-only lengths leave out.", "sum(fwd ip_len)", "", func(c *calc) float64 { return float64(c.f.Fwd.Bytes) }),
		numCol(g, "bwd_bytes", Int, "bytes", Bwd, "Backward IP bytes (IP headers included).", "sum(bwd ip_len)", "", func(c *calc) float64 { return float64(c.f.Bwd.Bytes) }),
		numCol(g, "fwd_bwd_byte_ratio", Float, "", Flow, "Forward IP bytes per backward IP byte; with no backward bytes the denominator is taken as 1 (the value is then the forward bytes).", "fwd_bytes / max(bwd_bytes, 1)", "",
			func(c *calc) float64 { return float64(c.f.Fwd.Bytes) / float64(max(c.f.Bwd.Bytes, 1)) }),
		numCol(g, "fwd_bwd_packet_ratio", Float, "", Flow, "Forward packets per backward packet; with no backward packets the denominator is taken as 1.", "fwd packets / max(bwd packets, 1)", "",
			func(c *calc) float64 { return float64(c.f.Fwd.Packets) / float64(max(c.f.Bwd.Packets, 1)) }),
	}
	defs = append(defs, momentPair("pkt_len", "the payload lengths of all packets", Flow, Counted, func(c *calc) *collector.Moments { return &c.all })...)
	defs = append(defs, momentPair("fwd_pkt_len", "the forward payload lengths", Fwd, Counted, func(c *calc) *collector.Moments { return &c.f.Fwd.PayloadLen })...)
	defs = append(defs, momentPair("bwd_pkt_len", "the backward payload lengths", Bwd, Counted, func(c *calc) *collector.Moments { return &c.f.Bwd.PayloadLen })...)
	defs = append(defs, momentPair("iat", "the gaps between consecutive packets", Flow, Timed, func(c *calc) *collector.Moments { return &c.f.IAT })...)
	defs = append(defs, momentPair("fwd_iat", "the gaps between consecutive forward packets", Fwd, Timed, func(c *calc) *collector.Moments { return &c.f.Fwd.IAT })...)
	defs = append(defs, momentPair("bwd_iat", "the gaps between consecutive backward packets", Bwd, Timed, func(c *calc) *collector.Moments { return &c.f.Bwd.IAT })...)
	defs = append(defs,
		numCol(g, "fwd_l4_header_min", Int, "bytes", Fwd, "Smallest forward transport header (what CICFlowMeter calls min_seg_size_forward).", "min(fwd l4_header_len)", "", func(c *calc) float64 { return float64(c.f.Fwd.MinL4HeaderLen) }),
		numCol(g, "subflow_count", Int, "", Flow, "Number of subflows (runs of packets without a gap over 1 s); at least 1.", "1 + count(gaps > 1 s)", "", func(c *calc) float64 { return float64(c.f.SubflowCount) }),
		strCol(g, "end_reason", Flow, "Why the record ended: idle, active, fin, rst, evicted or flush (a closed TCP flow whose key a new SYN reuses keeps fin or rst).", "record end reason", "", func(c *calc, b []byte) []byte { return append(b, c.f.EndReason.String()...) }),
		numCol(g, "partial", Int, "", Flow, "1 when the record was cut (active timeout or table eviction) and the flow may continue in a later record (after an active-timeout cut, in the same direction whichever side sends first), else 0.", "end_reason in {active, evicted}", "", func(c *calc) float64 { return b2f(c.f.Partial) }),
		numCol(g, "sampling", Int, "", Flow, "1-in-N packet sampling rate behind the record (1: every packet); counters are already scaled.", "max(sampled, 1)", "", func(c *calc) float64 { return float64(max(c.f.Sampled, 1)) }),
		// The rest of the flow key beyond the 5-tuple: records that differ
		// only there are different flows and must not look the same.
		numCol(g, "vlan_outer", Int, "", Flow, "Outer 802.1Q/802.1ad VLAN ID of the flow (0: untagged); the same 5-tuple on two VLANs is two flows.", "key VLANOuter", "", func(c *calc) float64 { return float64(c.f.Key.VLANOuter) }),
		numCol(g, "vlan_inner", Int, "", Flow, "Inner (QinQ) VLAN ID of the flow (0: none).", "key VLANInner", "", func(c *calc) float64 { return float64(c.f.Key.VLANInner) }),
		numCol(g, "tunnel_id", Int, "", Flow, "With --decap, the tenant of the tunnel the flow was unwrapped from: VXLAN or GENEVE VNI, or NVGRE VSID (0: none); the same 5-tuple in two tenants is two flows.", "key TunnelID()", "", func(c *calc) float64 { return float64(c.f.Key.TunnelID()) }),
	)
	return defs
}

func spltDefs(n int) []def {
	g := GroupSPLT
	defs := make([]def, 0, 3*n)
	for i := 0; i < n; i++ {
		k := strconv.Itoa(i + 1)
		defs = append(defs, numCol(g, "splt_len_"+k, Int, "bytes", Flow, "IP length of packet "+k+" of the flow; 0 when the flow has fewer packets.", "ip_len[i]", "",
			func(c *calc) float64 {
				if s := c.splt(i); s != nil {
					return float64(s.Len)
				}
				return 0
			}))
	}
	for i := 0; i < n; i++ {
		k := strconv.Itoa(i + 1)
		defs = append(defs, numCol(g, "splt_dir_"+k, Int, "", Flow, "Direction of packet "+k+": 1 forward, -1 backward, 0 when the flow has fewer packets.", "+1 fwd / -1 bwd / 0 missing", "",
			func(c *calc) float64 {
				s := c.splt(i)
				switch {
				case s == nil:
					return 0
				case s.Dir == collector.Fwd:
					return 1
				}
				return -1
			}))
	}
	for i := 0; i < n; i++ {
		k := strconv.Itoa(i + 1)
		defs = append(defs, numCol(g, "splt_gap_"+k, Float, "us", Flow, "Time from the latest earlier packet to packet "+k+" (0 when it is older, in a capture out of time order); 0 for packet 1 and when the flow has fewer packets.", "t[i] - max(t[1..i-1])", "",
			func(c *calc) float64 { return spltGap(c, i) }))
	}
	return withBlock(defs, func(c *calc, num []float64) { spltBlock(c, num[:n], num[n:2*n], num[2*n:3*n]) })
}

// spltBlock computes the splt columns of n = len(lens) packets: sizes,
// directions and gaps as the columns define them, in one pass.
func spltBlock(c *calc, lens, dirs, gaps []float64) {
	s := c.f.Samples
	m := min(len(s), len(lens))
	var latest int64
	for i := range s[:m] {
		x := &s[i]
		lens[i] = float64(x.Len)
		dirs[i] = -1
		if x.Dir == collector.Fwd {
			dirs[i] = 1
		}
		if i == 0 {
			gaps[0], latest = 0, x.Offset
			continue
		}
		gaps[i] = us(float64(max(x.Offset-latest, 0)))
		latest = max(latest, x.Offset)
	}
	clear(lens[m:])
	clear(dirs[m:])
	clear(gaps[m:])
}
