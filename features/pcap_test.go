package features

import (
	"errors"
	"io"
	"math"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// replay reads a shared capture through the flow table and returns the
// flows in emission order and the number of packets accounted.
func replay(t *testing.T, name string) ([]*collector.Flow, uint64) {
	t.Helper()
	src, err := collector.OpenPcap(testshared.Path(t, "pcaps/"+name), collector.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var flows []*collector.Flow
	tab := collector.NewTable(collector.TableConfig{Samples: 10}, func(f *collector.Flow) { flows = append(flows, f) })
	var p collector.Packet
	for {
		err := src.NextPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tab.Add(&p)
	}
	tab.Flush()
	return flows, tab.Stats().Packets
}

// TestRealCaptures checks invariants on every feature of real captures:
// finite values, packet totals that add up, non-negative times and rates
// in [0, 1].
func TestRealCaptures(t *testing.T) {
	x, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cols := x.Columns()
	row := x.NewRow()
	idx := func(n string) int { return x.Index(n) }
	for _, name := range []string{"chrissanders__synscan.pcapng", "pcapplusplus__four_ipv6_http_streams.pcap", "ndpi__fuzz-2006-06-26-2594.pcap",
		"pcapplusplus__ip4_fragments.pcap", "ndpi__dns_exfiltration.pcap", "pcapplusplus__one_http_stream_rst.pcap"} {
		flows, packets := replay(t, name)
		w := NewWindows(WindowConfig{})
		var total float64
		for _, f := range flows {
			wv := w.Observe(f)
			x.Fill(f, &wv, row)
			for i, c := range cols {
				v := row.Num[i]
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s flow %d: %s = %v", name, f.ID, c.Name, v)
				}
				if (c.Unit == "us" || c.Unit == "s" || c.Unit == "bytes/s" || c.Unit == "packets/s") && c.Name[:min(5, len(c.Name))] != "splt_" && v < 0 {
					t.Errorf("%s flow %d: %s = %v < 0", name, f.ID, c.Name, v)
				}
				if c.Group == GroupKDD && len(c.Name) > 5 && c.Name[len(c.Name)-5:] == "_rate" && (v < 0 || v > 1) {
					t.Errorf("%s flow %d: %s = %v", name, f.ID, c.Name, v)
				}
			}
			total += row.Num[idx("Total Fwd Packets")] + row.Num[idx("Total Backward Packets")]
			if d, s := row.Num[idx("Flow Duration")], row.Num[idx("Fwd IAT Total")]; s > d+1e-6 {
				t.Errorf("%s flow %d: Fwd IAT Total %v > duration %v", name, f.ID, s, d)
			}
		}
		if total != float64(packets) {
			t.Errorf("%s: %v packets in rows, table accounted %d", name, total, packets)
		}
	}
}

// TestRealSYNScan replays nmap's SYN scan of scanme.nmap.org: the probes
// are S0 or REJ, to ever-changing ports, so the windows of a late probe
// show high error and different-service rates.
func TestRealSYNScan(t *testing.T) {
	flows, _ := replay(t, "chrissanders__synscan.pcapng")
	w := NewWindows(WindowConfig{})
	var probes, errs int
	var last WindowValues
	for _, f := range flows {
		wv := w.Observe(f)
		if f.Key.Proto != 6 || f.Src().Addr.String() != "172.16.0.8" {
			continue
		}
		probes++
		if st := FlowState(f); st == StateS0 || st == StateREJ || st == StateRSTOS0 || st == StateRSTO {
			errs++
		}
		last = wv
	}
	if probes < 900 || float64(errs) < 0.95*float64(probes) {
		t.Fatalf("%d probes, %d in S0/REJ/RSTO(S0)", probes, errs)
	}
	if last.DstHostCount != 100 || last.DstHostDiffSrvRate < 0.9 || last.DstHostSErrorRate+last.DstHostRErrorRate < 0.5 {
		t.Errorf("last probe windows %+v", last)
	}
	if last.Count < 10 || last.DiffSrvRate < 0.9 {
		t.Errorf("last probe time window %+v", last)
	}
}
