package main

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/promtest"
	"github.com/flowhawk/flowhawk/pipeline"
)

// TestReplayMetricsTextfile runs replay with --metrics-textfile and no
// --metrics-addr, as a batch job would: once it has exited the file holds
// its final counts, written after the pipeline closed: flows_total sums
// to the rows written, packets_total to their packets, alerts_total to the
// alert lines (the detectors' last ones are sent as they close), and the
// malformed frame is a decode error. Each series carries --sensor, the
// go_ and process_ families are left out, and the file is mode 0644.
func TestReplayMetricsTextfile(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "in.pcap")
	writePcapWithTruncatedIP(t, pcap)
	flows, alerts := filepath.Join(dir, "flows.csv"), filepath.Join(dir, "alerts.jsonl")
	prom := filepath.Join(dir, "textfile", "flowhawk.prom")
	if err := os.Mkdir(filepath.Dir(prom), 0o755); err != nil {
		t.Fatal(err)
	}
	// --window-max-conns 2: the 2 s window must drop flows and truncate
	// windows, and window_flows_total show both as the summary does.
	code, _, stderr := runCLI(t, "replay", "--sensor", "batch1", "--metrics-textfile", prom, "--detect", "all", "--alerts", alerts,
		"--window-max-conns", "2", "-o", flows, pcap)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "does not end in .prom") {
		t.Errorf("warned about a .prom name:\n%s", stderr)
	}
	st, err := os.Stat(prom)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode %v, want 0644", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(prom)); len(ents) != 1 {
		t.Errorf("textfile directory holds %v, want the textfile alone", ents)
	}
	mf := promtest.ReadTextfile(t, prom)
	for name, fam := range mf {
		if !strings.HasPrefix(name, "flowhawk_") {
			t.Errorf("family %s in the textfile", name)
		}
		for _, m := range fam.GetMetric() {
			if promtest.Label(m, "sensor") != "batch1" {
				t.Errorf("%s series %v without sensor=batch1", name, m.GetLabel())
			}
		}
	}

	rows, packets := csvFlowsAndPackets(t, flows)
	if rows == 0 || packets == 0 {
		t.Fatalf("no flows written: %d rows, %d packets", rows, packets)
	}
	if got := promtest.Sum(mf, "flowhawk_flows_total", nil); got != float64(rows) {
		t.Errorf("flows_total sums to %v, want the %d rows written", got, rows)
	}
	if got := promtest.Sum(mf, "flowhawk_packets_total", nil); got != float64(packets) {
		t.Errorf("packets_total sums to %v, want the rows' %d packets", got, packets)
	}
	if got := promtest.Sum(mf, "flowhawk_decode_errors_total", map[string]string{"source": "pcap", "reason": "truncated ip header"}); got != 1 {
		t.Errorf("decode_errors_total{truncated ip header} = %v, want 1", got)
	}
	// The summary's figures, which the metrics must repeat.
	var nonIP, dropped, truncated int
	for _, l := range strings.Split(stderr, "\n") {
		for _, f := range []struct {
			format string
			to     *int
		}{
			{"ip packets %d; non-ip frames %d", &nonIP},
			{"window features: %d flows dropped", &dropped},
			{"window features: %d flows emitted too late", &truncated},
		} {
			var a, b int
			if strings.Count(f.format, "%d") == 2 {
				if _, err := fmt.Sscanf(l, f.format, &a, &b); err == nil {
					*f.to = b
				}
			} else if _, err := fmt.Sscanf(l, f.format, &a); err == nil {
				*f.to = a
			}
		}
	}
	if nonIP == 0 || dropped == 0 || truncated == 0 {
		t.Fatalf("summary shows %d non-IP frames, %d window drops, %d truncated windows: want each above 0\n%s", nonIP, dropped, truncated, stderr)
	}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   int
	}{
		{"flowhawk_skipped_packets_total", map[string]string{"component": "pcap", "reason": "non_ip"}, nonIP},
		{"flowhawk_window_flows_total", map[string]string{"outcome": "observed"}, rows},
		{"flowhawk_window_flows_total", map[string]string{"outcome": "dropped"}, dropped},
		{"flowhawk_window_flows_total", map[string]string{"outcome": "truncated"}, truncated},
	} {
		if got := promtest.Sum(mf, c.family, c.labels); got != float64(c.want) {
			t.Errorf("%s%v = %v, want %d (the summary's)", c.family, c.labels, got, c.want)
		}
	}
	lines := countLines(t, alerts)
	if lines == 0 {
		t.Fatalf("no alerts written to %s", alerts)
	}
	if got := promtest.Sum(mf, "flowhawk_alerts_total", nil); got != float64(lines) {
		t.Errorf("alerts_total sums to %v, want the %d alert lines written", got, lines)
	}
	if got := promtest.Sum(mf, "flowhawk_active_flows", nil); got != 0 {
		t.Errorf("active_flows %v at the end, want 0 (every flow flushed)", got)
	}
}

// TestMetricsTextfileChecked: a --metrics-textfile that cannot be written,
// or a --metrics-textfile-interval under a second, fails the run before
// any output file is created, naming the flag; a name node_exporter does
// not read is warned of, and the run goes on.
func TestMetricsTextfileChecked(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "flows.csv")
	missing := filepath.Join(dir, "missing", "flowhawk.prom")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--metrics-textfile", missing}, 1, "--metrics-textfile " + missing + ": cannot create a file in " + filepath.Dir(missing) + ": no such file or directory"},
		{[]string{"--metrics-textfile", dir}, 1, "--metrics-textfile " + dir + ": is a directory"},
		{[]string{"--metrics-textfile", "-"}, 2, "--metrics-textfile -: want a file"},
		{[]string{"--metrics-textfile", filepath.Join(dir, "f.prom"), "--metrics-textfile-interval", "500ms"}, 2, "--metrics-textfile-interval 500ms: want 1s or more"},
		{[]string{"--metrics-textfile-interval", "1m"}, 2, "--metrics-textfile-interval needs --metrics-textfile"},
		{[]string{"--metrics-textfile", out}, 2, "-o " + out + " and --metrics-textfile " + out + " are the same file"},
	} {
		code, _, stderr := runCLI(t, append(append([]string{"replay", "-o", out}, c.args...), demoPcap)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("replay %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("replay %v created -o before failing", c.args)
			os.Remove(out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the checks left files behind: %v", ents)
	}

	txt := filepath.Join(dir, "flowhawk.txt")
	code, _, stderr := runCLI(t, "replay", "-q", "-o", "none", "--metrics-textfile", txt, demoPcap)
	if code != 0 || !strings.Contains(stderr, "does not end in .prom") || strings.Count(stderr, "does not end in .prom") != 1 {
		t.Errorf("--metrics-textfile %s: exit %d, stderr %q; want exit 0 and one warning", txt, code, stderr)
	}
	if _, err := os.Stat(txt); err != nil {
		t.Errorf("no textfile written: %v", err)
	}
}

// TestMetricsTextfileFinalWriteFails: the final write, in the exporters'
// close, failing is the close's error, which the run returns (exit 1).
func TestMetricsTextfileFinalWriteFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "textfile")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ef := exporterFlags{sensor: "s", textfile: filepath.Join(dir, "flowhawk.prom"), textfileEvery: time.Hour, natsFormat: "json", natsBuffer: 1, ipfixPEN: 1, ipfixDomain: 1}
	if err := ef.check(); err != nil {
		t.Fatal(err)
	}
	s, err := ef.open(&pipeline.Config{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s.start()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = s.close()
	if err == nil || !strings.HasPrefix(err.Error(), "--metrics-textfile: final write: ") {
		t.Errorf("close with the directory gone: %v, want the final write's error", err)
	}
}

// csvFlowsAndPackets counts a flow CSV's rows and sums their packets.
func csvFlowsAndPackets(t *testing.T, path string) (rows int, packets uint64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	hdr, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	fwd, bwd := -1, -1
	for i, h := range hdr {
		switch strings.TrimSpace(h) {
		case "Total Fwd Packets":
			fwd = i
		case "Total Backward Packets":
			bwd = i
		}
	}
	if fwd < 0 || bwd < 0 {
		t.Fatalf("%s: no packet columns in %v", path, hdr)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, packets
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{fwd, bwd} {
			n, err := strconv.ParseUint(rec[i], 10, 64)
			if err != nil {
				t.Fatalf("%s row %d: %v", path, rows+1, err)
			}
			packets += n
		}
		rows++
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

// writePcapWithTruncatedIP writes demo.pcap to path with one more frame
// at its end: an Ethernet frame whose IPv4 header is cut after 6 bytes.
func writePcapWithTruncatedIP(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("%s: not a little-endian Ethernet pcap", demoPcap)
	}
	var sec, usec uint32
	for off := 24; off+16 <= len(b); off += 16 + int(binary.LittleEndian.Uint32(b[off+8:])) {
		sec, usec = binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:])
	}
	frame := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, 0x45, 0, 0, 40, 0, 0)
	rec := make([]byte, 16, 16+len(frame))
	binary.LittleEndian.PutUint32(rec[0:], sec)
	binary.LittleEndian.PutUint32(rec[4:], usec)
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
	if err := os.WriteFile(path, append(append(b, rec...), frame...), 0o644); err != nil {
		t.Fatal(err)
	}
}
