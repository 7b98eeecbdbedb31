package ipfix

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// needTool returns the path of a collector tool. When it is missing the
// test is skipped on a developer's machine, naming the Debian package, and
// fails when CI=true: scripts/install-deps.sh installs every one, so CI
// must not pass by skipping the interoperability tests.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		// Daemons such as nfacctd live in /usr/sbin, which a user's PATH
		// may leave out.
		if q, err2 := exec.LookPath(filepath.Join("/usr/sbin", name)); err2 == nil {
			return q
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (Debian package %s), and CI must have it: %v", name, pkg, err)
		}
		t.Skipf("%s not installed (Debian package %s; scripts/install-deps.sh installs it): %v", name, pkg, err)
	}
	return p
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return p
}

// udpSocket returns the fields of /proc/net/udp's line of the socket
// bound to port (nil when none is), or an error when procfs cannot be
// read. Reading it does not race with the collector's bind, as probing
// with a bind of our own would.
func udpSocket(port int) ([]string, error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return nil, err
	}
	want := fmt.Sprintf(":%04X ", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasSuffix(f[1]+" ", want) {
			return f, nil
		}
	}
	return nil, nil
}

// waitBound waits until something has bound the UDP port, so we do not
// send before the collector listens.
func waitBound(t *testing.T, port int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		f, err := udpSocket(port)
		if err != nil {
			time.Sleep(time.Second) // no procfs: give the collector a second
			return
		}
		if f != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing bound udp port %d", port)
}

// waitDrained waits until the datagrams queued on the UDP port have been
// read by the collector that bound it (rx_queue 0), so that a collector
// which writes its file on a signal is signalled after it has our
// records, however busy the machine.
func waitDrained(t *testing.T, port int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		f, err := udpSocket(port)
		if err != nil {
			time.Sleep(time.Second) // no procfs: give the collector a second
			return
		}
		if f != nil && strings.HasSuffix(f[4], ":00000000") { // tx_queue:rx_queue
			time.Sleep(100 * time.Millisecond) // the last one read is handled
			return
		}
	}
	t.Fatalf("the collector on udp port %d did not read its datagrams in 10 s", port)
}

// TestNfcapdReceives sends our records to a real nfcapd and checks that
// nfdump reads back the same flows and counters.
func TestNfcapdReceives(t *testing.T) {
	nfcapd := needTool(t, "nfcapd", "nfdump")
	nfdump := needTool(t, "nfdump", "nfdump")
	dir := t.TempDir()
	port := freeUDPPort(t)
	cmd := exec.Command(nfcapd, "-b", "127.0.0.1", "-p", fmt.Sprint(port), "-w", dir, "-t", "3600")
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

	e, err := New(Config{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	flows := synthFlows(60, base)
	for _, f := range flows {
		e.Export(f, "BENIGN")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Records != uint64(len(flows)) {
		t.Fatalf("sent %d records, want %d", st.Records, len(flows))
	}
	// nfcapd writes its file on SIGTERM: only once it has read the
	// datagrams already in its receive buffer.
	waitDrained(t, port)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	werr := cmd.Wait()
	stopped = true
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		t.Fatalf("nfcapd: %v\n%s", werr, log.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "nfcapd.*"))
	if len(files) == 0 {
		t.Fatalf("nfcapd wrote no file in %s\n%s", dir, log.String())
	}
	out, err := exec.Command(nfdump, "-R", dir, "-o", "json", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("nfdump: %v\n%s", err, out)
	}
	// With -q, nfdump 1.7 leaves out the enclosing brackets.
	js := strings.TrimSpace(string(out))
	if !strings.HasPrefix(js, "[") {
		js = "[" + js + "]"
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(js), &recs); err != nil {
		t.Fatalf("nfdump json: %v\n%.2000s", err, out)
	}
	if os.Getenv("IPFIX_DEBUG") != "" {
		t.Logf("%s", js)
	}
	if len(recs) != len(flows) {
		t.Fatalf("nfdump shows %d flows, want %d\n%.3000s", len(recs), len(flows), out)
	}
	type key struct {
		src, dst     string
		sport, dport int
		proto        int
	}
	byKey := map[key]map[string]any{}
	for _, r := range recs {
		src, _ := r["src4_addr"].(string)
		dst, _ := r["dst4_addr"].(string)
		if src == "" {
			src, _ = r["src6_addr"].(string)
			dst, _ = r["dst6_addr"].(string)
		}
		sp, dp := num(r["src_port"]), num(r["dst_port"])
		if _, icmp := r["icmp_type"]; icmp { // nfdump shows type/code instead of ports
			sp, dp = 0, 0
		}
		byKey[key{src, dst, sp, dp, num(r["proto"])}] = r
	}
	for i, f := range flows {
		s, d := f.Src(), f.Dst()
		r, ok := byKey[key{s.Addr.String(), d.Addr.String(), int(s.Port), int(d.Port), int(f.Key.Proto)}]
		if !ok {
			t.Errorf("flow %d %v not in nfdump output", i, f.Key)
			continue
		}
		if got := num(r["in_packets"]); got != int(f.Fwd.Packets) {
			t.Errorf("flow %d: nfdump in_packets %d, want %d", i, got, f.Fwd.Packets)
		}
		if got := num(r["in_bytes"]); got != int(f.Fwd.Bytes) {
			t.Errorf("flow %d: nfdump in_bytes %d, want %d", i, got, f.Fwd.Bytes)
		}
		if v, ok := r["out_packets"]; ok && num(v) != int(f.Bwd.Packets) {
			t.Errorf("flow %d: nfdump out_packets %d, want %d", i, num(v), f.Bwd.Packets)
		}
		if v, ok := r["out_bytes"]; ok && num(v) != int(f.Bwd.Bytes) {
			t.Errorf("flow %d: nfdump out_bytes %d, want %d", i, num(v), f.Bwd.Bytes)
		}
		if f.Key.VLANOuter != 0 {
			if got := num(r["src_vlan"]); got != int(f.Key.VLANOuter) {
				t.Errorf("flow %d: nfdump src_vlan %d, want %d", i, got, f.Key.VLANOuter)
			}
		}
		if f.Key.Proto == 1 {
			// nfdump reads icmpTypeCodeIPv4/IPv6 (IE 32/139) as type and code.
			if num(r["icmp_type"]) != int(f.ICMPType) || num(r["icmp_code"]) != int(f.ICMPCode) {
				t.Errorf("flow %d: nfdump icmp type/code %v/%v, want %d/%d", i, r["icmp_type"], r["icmp_code"], f.ICMPType, f.ICMPCode)
			}
		}
		if got, want := r["tcp_flags"], nfdumpFlags(flagUnion(&f.Fwd)); f.Key.Proto == 6 && got != want {
			t.Errorf("flow %d: nfdump tcp_flags %v, want %v", i, got, want)
		}
		first, _ := r["first"].(string)
		wantFirst := time.Unix(0, f.Start).Local().Format("2006-01-02T15:04:05.000")
		if first != wantFirst {
			t.Errorf("flow %d: nfdump first %q, want %q", i, first, wantFirst)
		}
	}
}

// nfdumpFlags formats TCP flags as nfdump prints them: "CEUAPRSF" with a
// dot for each flag not set.
func nfdumpFlags(f uint8) string {
	const names = "FSRPAUEC"
	b := []byte("........")
	for i := 0; i < 8; i++ {
		if f&(1<<i) != 0 {
			b[7-i] = names[i]
		}
	}
	return string(b)
}

func num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		var n int
		fmt.Sscan(x, &n)
		return n
	}
	return -1
}

// TestTsharkDecodes writes our datagrams into a pcap (Ethernet/IPv4/UDP to
// port 4739) and checks that tshark's IPFIX dissector decodes every record
// without a malformed-packet or error expert item.
func TestTsharkDecodes(t *testing.T) {
	tshark := needTool(t, "tshark", "tshark")
	c := listen(t)
	e, err := New(Config{Addr: c.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	flows := synthFlows(80, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	for _, f := range flows {
		e.Export(f, "DoS Hulk")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := receive(t, c, len(flows))

	path := filepath.Join(t.TempDir(), "ipfix.pcap")
	if dir := os.Getenv("FLOWHAWK_TEST_ARTIFACTS"); dir != "" {
		path = filepath.Join(dir, "ipfix.pcap")
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(fh)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1)}
		udp := &layers.UDP{SrcPort: 50000, DstPort: 4739}
		_ = udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(m)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 0), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	fh.Close()

	out, err := exec.Command(tshark, "-r", path, "-d", "udp.port==4739,cflow", "-V", "-o", "cflow.netflow_ports:4739").CombinedOutput()
	if err != nil {
		// Older tsharks do not know the preference; retry without it.
		out, err = exec.Command(tshark, "-r", path, "-d", "udp.port==4739,cflow", "-V").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark: %v\n%.3000s", err, out)
		}
	}
	text := string(out)
	for _, bad := range []string{"Malformed", "[Expert Info (Error", "[Expert Info (Warning", "Data (no template found)", "Dissector bug"} {
		if i := strings.Index(text, bad); i >= 0 {
			t.Errorf("tshark reports %q:\n%.1500s", bad, text[max(0, i-1000):])
		}
	}
	if n := strings.Count(text, "Version: 10"); n != len(msgs) {
		t.Errorf("tshark saw %d IPFIX messages, want %d", n, len(msgs))
	}
	// Every record has a forward and a reverse octet counter.
	if n := strings.Count(text, "Octets: "); n < len(flows) {
		t.Errorf("tshark decoded %d octet counters, want at least %d", n, len(flows))
	}
	if !strings.Contains(text, "Reverse") {
		t.Errorf("tshark shows no RFC 5103 reverse element")
	}
}
