package features

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// cicRows reads the CIC-IDS2017 sample files as maps from the stripped
// column name (the second Fwd Header Length as "Fwd Header Length.1") to
// the value; Protocol is -1 in the file without it.
func cicRows(t *testing.T) []map[string]float64 {
	t.Helper()
	dir := testshared.Path(t, "datasets/cicids2017")
	var out []map[string]float64
	for _, name := range []string{"Wednesday-workingHours.pcap_ISCX.sample1k.csv", "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.TrafficLabelling.csv"} {
		fh, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		names := make([]string, len(recs[0]))
		seen := map[string]bool{}
		for i, h := range recs[0] {
			names[i] = strings.TrimSpace(h)
			if seen[names[i]] {
				names[i] += ".1"
			}
			seen[names[i]] = true
		}
		for _, rec := range recs[1:] {
			row := map[string]float64{"Protocol": -1}
			for i, v := range rec {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					row[names[i]] = f
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// thousands formats n with a comma between thousands, as the docs write it.
func thousands(n int) string {
	if n < 1000 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%s,%03d", thousands(n/1000), n%1000)
}

// TestCICComparisonsMatchData recounts, from real CIC-IDS2017 rows, the
// facts the "vs CICFlowMeter" notes state about the active, subflow, flag
// and header-length columns, and checks the notes state them: they used to
// call the flag counts "same", the subflows an integer division and the
// active periods a matter of microsecond fractions.
func TestCICComparisonsMatchData(t *testing.T) {
	rows := cicRows(t)
	var noIdle, activeNonZero, gapOver1s, subflowEqual, flagsAbove1, pshIsSyn, pshOne, otherDirFlags, bigTCP, bigTCPNoACK int
	var udpRows, udpEight int
	udpMin, udpMax := 1e9, 0.0
	for _, r := range rows {
		if r["Idle Max"] == 0 && r["Flow Duration"] > 0 {
			noIdle++
			if r["Active Mean"] != 0 || r["Active Std"] != 0 || r["Active Max"] != 0 || r["Active Min"] != 0 {
				activeNonZero++
			}
		}
		if r["Flow IAT Max"] > 1e6 {
			gapOver1s++
		}
		if r["Subflow Fwd Packets"] == r["Total Fwd Packets"] && r["Subflow Fwd Bytes"] == r["Total Length of Fwd Packets"] &&
			r["Subflow Bwd Packets"] == r["Total Backward Packets"] && r["Subflow Bwd Bytes"] == r["Total Length of Bwd Packets"] {
			subflowEqual++
		}
		for _, f := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "CWE", "ECE"} {
			v := r[f+" Flag Count"]
			if v != 0 && v != 1 || (f == "RST" || f == "CWE" || f == "ECE") && v != 0 {
				flagsAbove1++
			}
		}
		if r["Fwd PSH Flags"] == r["SYN Flag Count"] {
			pshIsSyn++
		}
		if r["Fwd PSH Flags"] == 1 {
			pshOne++
		}
		if r["Bwd PSH Flags"] != 0 || r["Fwd URG Flags"] != 0 || r["Bwd URG Flags"] != 0 {
			otherDirFlags++
		}
		// TCP: Protocol 6, or a forward TCP window where the file has no
		// Protocol column.
		tcp := r["Protocol"] == 6 || r["Protocol"] == -1 && r["Init_Win_bytes_forward"] != -1
		if tcp && r["Total Fwd Packets"]+r["Total Backward Packets"] >= 20 {
			bigTCP++
			if r["ACK Flag Count"] == 0 {
				bigTCPNoACK++
			}
		}
		// UDP: Protocol 17, or no TCP window on either side.
		udp := r["Protocol"] == 17 || r["Protocol"] == -1 && r["Init_Win_bytes_forward"] == -1 && r["Init_Win_bytes_backward"] == -1
		if udp && r["Total Fwd Packets"] > 0 {
			udpRows++
			per := r["Fwd Header Length"] / r["Total Fwd Packets"]
			udpMin, udpMax = min(udpMin, per), max(udpMax, per)
			if per == 8 {
				udpEight++
			}
		}
	}
	if len(rows) != 1299 || activeNonZero != 0 || subflowEqual != len(rows) || flagsAbove1 != 0 ||
		pshIsSyn != len(rows) || otherDirFlags != 0 || udpEight != 0 || udpMin < 20 || udpMax > 44 {
		t.Errorf("data: %d rows, %d of %d without idle gap have Active, %d with Subflow = totals, %d flag counts above 1 (or RST/CWE/ECE set), %d Fwd PSH = SYN, %d with Bwd PSH/URG, UDP header %v..%v a packet (%d at 8)",
			len(rows), activeNonZero, noIdle, subflowEqual, flagsAbove1, pshIsSyn, otherDirFlags, udpMin, udpMax, udpEight)
	}
	doc := strings.Join(strings.Fields(string(Doc())), " ")
	for _, fact := range []string{
		fmt.Sprintf("are 0 in all %d rows with Idle Max 0", noIdle),
		fmt.Sprintf("in all %s rows, the %d with a gap over 1 s included", thousands(subflowEqual), gapOver1s),
		fmt.Sprintf("%d of the %d TCP flows of 20 or more packets have ACK Flag Count 0", bigTCPNoACK, bigTCP),
		fmt.Sprintf("(%s of %s; %d are 1)", thousands(pshIsSyn), thousands(len(rows)), pshOne),
		fmt.Sprintf("all %d UDP rows of the TrafficLabelling sample and the %d Wednesday rows", 16, udpRows-16),
	} {
		if !strings.Contains(doc, fact) {
			t.Errorf("docs do not state the data's %q", fact)
		}
	}

	x, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"ACK Flag Count":      "not packet counts",
		"FIN Flag Count":      "not packet counts",
		"Fwd PSH Flags":       "equals its SYN Flag Count",
		"Bwd URG Flags":       "at most 1",
		"Active Mean":         "leaves out the last active period",
		"Active Min":          "leaves out the last active period",
		"Subflow Fwd Packets": "equal the flow's totals",
		"Subflow Bwd Bytes":   "equal the flow's totals",
		"Fwd Header Length":   "never the 8-byte UDP header",
		"Fwd Header Length.1": "never the 8-byte UDP header",
	} {
		if c := x.Columns()[x.Index(name)].CIC; !strings.Contains(c, want) {
			t.Errorf("%s: CIC note %q, want it to say %q", name, c, want)
		}
	}
}

// TestOutOfOrderGaps pins what the docs say of packets out of time order:
// the duration spans the earliest to the latest packet, gaps run from the
// latest time seen, an older packet makes a gap of 0, so the IAT total can
// be less than the duration.
func TestOutOfOrderGaps(t *testing.T) {
	var ps []collector.Packet
	for _, us := range []int64{100, 67, 200} {
		ps = append(ps, mkPacket(client, server, 17500, 17500, 17, pkt{us, true, 0, 8, 10, 0}))
	}
	f := runTable(t, ps, 10)[0]
	x, _ := New(Config{})
	row := x.NewRow()
	x.Fill(f, nil, row)
	for name, want := range map[string]float64{
		"Flow Duration": 133, "Fwd IAT Total": 100, "Flow IAT Max": 100, "Flow IAT Min": 0, "Fwd IAT Min": 0, "Active Mean": 100,
	} {
		if got := row.Num[x.Index(name)]; !near(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if ts := row.Text(x.Index("Timestamp")); !strings.HasSuffix(ts, ".000067") {
		t.Errorf("Timestamp %s, want the earliest packet's", ts)
	}
	if d := x.Columns()[x.Index("Fwd IAT Total")].Doc; !strings.Contains(d, "capture order") {
		t.Errorf("Fwd IAT Total doc %q does not say what happens out of time order", d)
	}
	if !strings.Contains(string(Doc()), "Captures out of time order") {
		t.Errorf("the conventions do not cover captures out of time order")
	}
}
