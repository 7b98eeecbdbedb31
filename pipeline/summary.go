package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
)

// FileSummary is what one capture file gave.
type FileSummary struct {
	Path  string
	Stats collector.SourceStats
	// Err is the read error that ended the file early, if any; every
	// packet before it was processed.
	Err error
}

// ProtoSummary counts flows, packets and bytes of one IP protocol.
type ProtoSummary struct {
	Flows, Packets, Bytes uint64
}

// Summary is the account of a run, printed on stderr by the CLI.
type Summary struct {
	Files   []FileSummary
	Source  collector.SourceStats
	Table   collector.TableStats
	Windows features.WindowStats
	Protos  map[uint8]*ProtoSummary
	Flows   uint64
	// RowsLost counts the flows of RowsDue given to the flow output (-o)
	// that it did not write, when it failed (a full disk): the run goes
	// on to its summary, and this says what the file lacks.
	RowsLost, RowsDue uint64
	// Labels counts flows by dataset label (Config.Label), Predicted by
	// the model's label (Config.Predictor), "Unknown" included.
	Labels, Predicted map[string]uint64
}

// countLabel adds a flow of label lab to *m.
func countLabel(m *map[string]uint64, lab string) {
	if *m == nil {
		*m = make(map[string]uint64)
	}
	(*m)[lab]++
}

// labelCounts lists the counts of m, largest first (ties by name).
func labelCounts(m map[string]uint64) string {
	labs := make([]string, 0, len(m))
	for l := range m {
		labs = append(labs, l)
	}
	sort.Slice(labs, func(i, j int) bool {
		if m[labs[i]] != m[labs[j]] {
			return m[labs[i]] > m[labs[j]]
		}
		return labs[i] < labs[j]
	})
	parts := make([]string, len(labs))
	for i, l := range labs {
		// A label with a line break (a --label-dir directory's name)
		// split the summary line: such a label is quoted here only.
		if strings.ContainsFunc(l, unicode.IsControl) {
			l = strconv.Quote(l)
		}
		parts[i] = fmt.Sprintf("%s %d", l, m[labs[i]])
	}
	return strings.Join(parts, ", ")
}

func (s *Summary) countFlow(f *collector.Flow) {
	if s.Protos == nil {
		s.Protos = make(map[uint8]*ProtoSummary)
	}
	ps := s.Protos[f.Key.Proto]
	if ps == nil {
		ps = &ProtoSummary{}
		s.Protos[f.Key.Proto] = ps
	}
	ps.Flows++
	ps.Packets += f.Packets()
	ps.Bytes += f.Bytes()
	s.Flows++
}

// ProtoName names common IP protocols.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	}
	return fmt.Sprintf("proto-%d", p)
}

// Print writes the summary for people.
func (s *Summary) Print(w io.Writer) {
	src := &s.Source
	if len(s.Files) > 0 { // the pcap path; the kernel path prints its own counters
		fmt.Fprintf(w, "files      %d\n", len(s.Files))
		fmt.Fprintf(w, "frames     %d (%d bytes on the wire, %d captured)\n", src.Frames, src.Bytes, src.CapturedBytes)
		fmt.Fprintf(w, "ip packets %d; non-ip frames %d; malformed %d%s\n", src.IPPackets, src.NonIP, src.Malformed, malformedDetail(src))
		if first := firstMalformed(src); first != "" {
			fmt.Fprintf(w, "first malformed: %s\n", first)
		}
		if src.SnapTruncated > 0 || src.Fragments > 0 {
			fmt.Fprintf(w, "snaplen-truncated %d; fragments %d (orphans %d, wrong %d)\n", src.SnapTruncated, src.Fragments, src.OrphanFragments, src.WrongFragments)
		}
		if src.UnknownLink > 0 {
			fmt.Fprintf(w, "skipped    %d frames of pcapng interfaces of link types not decoded: %s\n", src.UnknownLink, src.UnknownLinkString(10))
		}
		if src.SkippedBlocks > 0 {
			fmt.Fprintf(w, "skipped    %d pcapng blocks that carry no packet (name resolution, statistics, custom or unknown types)\n", src.SkippedBlocks)
		}
		if src.BadTimestamps > 0 {
			fmt.Fprintf(w, "skipped    %d pcapng frames with a timestamp outside 1677-2262\n", src.BadTimestamps)
		}
		if src.TimeJumps > 0 {
			fmt.Fprintf(w, "records    %d with a time over a day from the previous record's (kept; flows across them split), first: %s\n", src.TimeJumps, src.FirstTimeJump)
		}
		if src.WireShorter > 0 {
			fmt.Fprintf(w, "records    %d with an original length below the captured one (taken as captured)\n", src.WireShorter)
		}
		if src.Decapsulated > 0 {
			fmt.Fprintf(w, "tunnels    %d packets decapsulated (counted in their inner flow)\n", src.Decapsulated)
		}
		if src.DecapFallback > 0 {
			fmt.Fprintf(w, "tunnels    %d packets kept in their outer flow: the snap length cut their inner headers\n", src.DecapFallback)
		}
		fmt.Fprintf(w, "flows      %d (peak %d in table, about %.0f MiB; evicted %d because the table was full)\n",
			s.Flows, s.Table.PeakSize, float64(s.Table.PeakBytes)/(1<<20), s.Table.Evicted)
	} else {
		fmt.Fprintf(w, "flows      %d\n", s.Flows)
	}
	if s.RowsLost > 0 {
		fmt.Fprintf(w, "output     %d of %d flows not written: the flow output failed\n", s.RowsLost, s.RowsDue)
	}
	var ends []string
	for r, n := range s.Table.Ended {
		if n > 0 {
			ends = append(ends, fmt.Sprintf("%s %d", collector.EndReason(r), n))
		}
	}
	if len(ends) > 0 {
		fmt.Fprintf(w, "ended by   %s\n", strings.Join(ends, ", "))
	}
	protos := make([]uint8, 0, len(s.Protos))
	for p := range s.Protos {
		protos = append(protos, p)
	}
	// Ties by number: map order made two runs of one dataset print
	// "tcp 2, udp 2" and "udp 2, tcp 2".
	sort.Slice(protos, func(i, j int) bool {
		if a, b := s.Protos[protos[i]].Flows, s.Protos[protos[j]].Flows; a != b {
			return a > b
		}
		return protos[i] < protos[j]
	})
	fmt.Fprintf(w, "%-10s %10s %12s %14s\n", "protocol", "flows", "packets", "ip bytes")
	for _, p := range protos {
		ps := s.Protos[p]
		fmt.Fprintf(w, "%-10s %10d %12d %14d\n", ProtoName(p), ps.Flows, ps.Packets, ps.Bytes)
	}
	if len(s.Labels) > 0 {
		fmt.Fprintf(w, "labels     %s\n", labelCounts(s.Labels))
	}
	if len(s.Predicted) > 0 {
		fmt.Fprintf(w, "predicted  %s\n", labelCounts(s.Predicted))
	}
	if s.Windows.Dropped > 0 {
		fmt.Fprintf(w, "window features: %d flows dropped from the 2 s window (--window-max-conns reached)\n", s.Windows.Dropped)
	}
	if s.Windows.Truncated > 0 {
		fmt.Fprintf(w, "window features: %d flows emitted too late for all of their 2 s window (horizon or bound)\n", s.Windows.Truncated)
	}
	for _, f := range s.Files {
		switch {
		case errors.Is(f.Err, context.Canceled):
			// A stop asked for, not a fault of the file.
			fmt.Fprintf(w, "stopped    %s: interrupted; the flows of the packets read so far were written\n", f.Path)
		case f.Err != nil:
			fmt.Fprintf(w, "error      %v\n", f.Err)
		}
	}
}

// firstMalformed says where each malformed reason was first seen, so a
// user can look at that frame (tshark -Y frame.number==N).
func firstMalformed(src *collector.SourceStats) string {
	var parts []string
	for i, ref := range src.FirstMalformed {
		if ref.Frame != 0 && src.MalformedBy[i] > 0 {
			parts = append(parts, fmt.Sprintf("%s at %s", collector.MalformedReason(i), ref))
		}
	}
	return strings.Join(parts, "; ")
}

func malformedDetail(src *collector.SourceStats) string {
	if src.Malformed == 0 {
		return ""
	}
	return " (" + src.MalformedString() + ")"
}
