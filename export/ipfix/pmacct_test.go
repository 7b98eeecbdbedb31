package ipfix

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nfacctdPrimitives declares, for pmacct's aggregate_primitives, the
// elements nfacctd has no primitive of its own for: the RFC 5103 reverse
// counters and flags, ICMP type/code (nfacctd keeps the ports of an ICMP
// flow 0), the end reason and two of flowhawk's enterprise
// elements (under DefaultPEN).
const nfacctdPrimitives = `name=rev_bytes field_type=29305:1 len=8 semantics=u_int
name=rev_pkts field_type=29305:2 len=8 semantics=u_int
name=rev_flags field_type=29305:6 len=1 semantics=u_int
name=icmp4 field_type=32 len=2 semantics=u_int
name=icmp6 field_type=139 len=2 semantics=u_int
name=end_reason field_type=136 len=1 semantics=u_int
name=fh_subflows field_type=32473:11 len=4 semantics=u_int
name=fh_class field_type=32473:13 len=vlen semantics=str
`

// TestNfacctdReceives sends our records to pmacct's nfacctd, a second
// collector independent of nfdump, and checks its print plugin's JSON:
// every flow once, with the same key, counters in both directions, TCP
// flags, ICMP type and code, times to the millisecond, observation domain
// and enterprise elements.
func TestNfacctdReceives(t *testing.T) {
	nfacctd := needTool(t, "nfacctd", "pmacct")
	dir := t.TempDir()
	port := freeUDPPort(t)
	out := filepath.Join(dir, "flows.json")
	prims := filepath.Join(dir, "primitives.lst")
	if err := os.WriteFile(prims, []byte(nfacctdPrimitives), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: %d
plugins: print[p]
aggregate_primitives: %s
aggregate[p]: src_host, dst_host, src_port, dst_port, proto, vlan, tcpflags, timestamp_start, timestamp_end, export_proto_sysid, rev_bytes, rev_pkts, rev_flags, icmp4, icmp6, end_reason, fh_subflows, fh_class
print_output[p]: json
print_output_file[p]: %s
print_refresh_time[p]: 3600
timestamps_utc: true
logfile: %s
`, port, prims, out, filepath.Join(dir, "nfacctd.log"))
	cf := filepath.Join(dir, "nfacctd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nfacctd, "-f", cf)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	waitBound(t, port)
	// The core binds the socket before the print plugin is ready, and
	// what arrives meanwhile is lost: wait for the plugin's last start-up
	// line.
	logFile := filepath.Join(dir, "nfacctd.log")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "JSON: setting object handlers") {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("nfacctd's print plugin did not start\n%s%s", log.String(), b)
		}
	}

	const domain = 7
	e, err := New(Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), ObservationDomain: domain})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(60, time.Now().Add(-time.Minute).Truncate(time.Second))
	for _, f := range flows {
		e.Export(f, "BENIGN")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The print plugin writes its cache when nfacctd exits on SIGINT: only
	// once the core has read the datagrams already in its socket.
	waitDrained(t, port)
	_ = cmd.Process.Signal(syscall.SIGINT)
	werr := cmd.Wait()
	stopped = true
	logText, _ := os.ReadFile(logFile)
	if werr != nil {
		t.Fatalf("nfacctd: %v\n%s%s", werr, log.String(), logText)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatalf("nfacctd wrote no output: %v\n%s", err, logText)
	}
	defer fh.Close()
	type key struct {
		src, dst     string
		sport, dport int
		proto        string
		vlan         int
	}
	got := map[key]map[string]any{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("nfacctd json: %v: %s", err, sc.Bytes())
		}
		k := key{r["ip_src"].(string), r["ip_dst"].(string), num(r["port_src"]), num(r["port_dst"]), r["ip_proto"].(string), num(r["vlan"])}
		if _, dup := got[k]; dup {
			t.Errorf("nfacctd shows %v twice", k)
		}
		got[k] = r
	}
	if len(got) != len(flows) {
		t.Fatalf("nfacctd shows %d flows, want %d\n%s", len(got), len(flows), logText)
	}
	protoName := map[uint8]string{1: "icmp", 6: "tcp", 17: "udp"}
	stamp := func(ns int64) string {
		return time.Unix(0, ns).UTC().Truncate(time.Millisecond).Format("2006-01-02 15:04:05.000000")
	}
	for i, f := range flows {
		s, d := f.Src(), f.Dst()
		r, ok := got[key{s.Addr.String(), d.Addr.String(), int(s.Port), int(d.Port), protoName[f.Key.Proto], int(f.Key.VLANOuter)}]
		if !ok {
			t.Errorf("flow %d %v not in nfacctd output", i, f.Key)
			continue
		}
		icmp, icmpField := 0, "icmp4"
		if !f.Key.IsIPv4() {
			icmpField = "icmp6"
		}
		if f.Key.Proto == 1 {
			icmp = int(f.ICMPType)<<8 | int(f.ICMPCode)
		}
		flags := 0
		if f.Key.Proto == 6 {
			flags = int(flagUnion(&f.Fwd))
		}
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"packets", num(r["packets"]), int(f.Fwd.Packets)},
			{"bytes", num(r["bytes"]), int(f.Fwd.Bytes)},
			{"rev_pkts", num(r["rev_pkts"]), int(f.Bwd.Packets)},
			{"rev_bytes", num(r["rev_bytes"]), int(f.Bwd.Bytes)},
			{"tcp_flags", num(r["tcp_flags"]), flags},
			{"rev_flags", num(r["rev_flags"]), int(flagUnion(&f.Bwd))},
			{icmpField, num(r[icmpField]), icmp},
			{"timestamp_start", r["timestamp_start"], stamp(f.Start)},
			{"timestamp_end", r["timestamp_end"], stamp(f.End)},
			{"export_proto_sysid", num(r["export_proto_sysid"]), domain},
			{"end_reason", num(r["end_reason"]), int(flowEndReason(f.EndReason))},
			{"fh_subflows", num(r["fh_subflows"]), int(f.SubflowCount)},
			{"fh_class", r["fh_class"], "BENIGN"},
		} {
			if c.got != c.want {
				t.Errorf("flow %d %v: nfacctd %s = %v, want %v", i, f.Key, c.name, c.got, c.want)
			}
		}
	}
}
