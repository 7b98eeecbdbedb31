package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// hostileDNSNames are query names a client on the monitored network can
// send: DNS labels are any octets, so they hold markup, quotes, line
// separators and bytes that are not UTF-8.
var hostileDNSNames = []string{
	`<script>document.body.setAttribute("data-pwned","1")<`,
	`"><img src=x onerror=document.body.setAttribute('data-pwned','2')>`,
	"a\u2028b\u2029c",
	"bad\xff\xfe\xc3name",
	`</script><!--<script>`,
	`__f__x__f__`,
}

// udpPcap creates the pcap path (closed when the test ends) and returns
// a function writing one Ethernet/IPv4/UDP packet of payload to it.
func udpPcap(t *testing.T, path string) func(ts time.Time, src, dst net.IP, sport, dport uint16, payload gopacket.SerializableLayer) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	w := pcapgo.NewWriter(fh)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return func(ts time.Time, src, dst net.IP, sport, dport uint16, payload gopacket.SerializableLayer) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, payload); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
}

// writeHostileDNS writes a pcap of DNS queries (each answered NXDOMAIN)
// for the hostile names under a suspicious TLD, so the DNS detector
// alerts on them.
func writeHostileDNS(t *testing.T, path string) {
	writeUDP := udpPcap(t, path)
	cli, srv := net.IPv4(10, 0, 0, 5).To4(), net.IPv4(10, 0, 0, 53).To4()
	ts := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	n := 0
	packet := func(src, dst net.IP, sport, dport uint16, dns *layers.DNS) {
		n++
		writeUDP(ts.Add(time.Duration(n)*10*time.Millisecond), src, dst, sport, dport, dns)
	}
	for round := 0; round < 5; round++ {
		for i, name := range hostileDNSNames {
			q := layers.DNSQuestion{Name: []byte(name + ".evil.tk"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}
			id := uint16(round*100 + i)
			sport := uint16(40000 + round*100 + i)
			packet(cli, srv, sport, 53, &layers.DNS{ID: id, RD: true, Questions: []layers.DNSQuestion{q}})
			packet(srv, cli, 53, sport, &layers.DNS{ID: id, QR: true, RD: true, RA: true, ResponseCode: layers.DNSResponseCodeNXDomain, Questions: []layers.DNSQuestion{q}})
		}
	}
}

// TestReportHostileCapture runs the path a security team runs on a
// capture an attacker shaped: DNS names with markup, quotes, U+2028 and
// bad UTF-8 reach the DNS detector's alerts, the flows are labelled by a
// directory whose name is markup, and the flow file's own name is markup;
// the report made from them holds no element, comment or script the
// report did not write itself, and shows the label as given.
func TestReportHostileCapture(t *testing.T) {
	dir := t.TempDir()
	label := `"><img src=x onerror=alert(1)><script>alert(2)<`
	capDir := filepath.Join(dir, "corpus", label)
	if err := os.MkdirAll(capDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeHostileDNS(t, filepath.Join(capDir, "dns.pcap"))
	flows := filepath.Join(dir, `"><img src=x onerror=alert(3)>.csv`)
	alerts, page := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "report.html")
	if code, _, stderr := runCLI(t, "dataset", "-q", "--label-dir", filepath.Join(dir, "corpus"), "-o", flows); code != 0 {
		t.Fatalf("dataset: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "replay", "-q", "--detect", "dns", "--alerts", alerts, filepath.Join(capDir, "dns.pcap"), "-o", "none"); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	ab, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	// The detector saw the names: at least one alert carries one.
	var sawName bool
	for _, l := range bytes.Split(bytes.TrimSpace(ab), []byte("\n")) {
		var a map[string]any
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatalf("alert line %q: %v", l, err)
		}
		sawName = sawName || strings.Contains(string(l), `\u003cscript\u003e`) || strings.Contains(string(l), `<script>`)
	}
	if !sawName {
		t.Fatalf("no alert names a hostile DNS name; alerts:\n%s", ab)
	}
	if code, _, stderr := runCLI(t, "report", flows, "--alerts", alerts, "-o", page); code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// Leave out the inlined library: the rest is what the input can reach.
	html := string(b)
	lib := regexp.MustCompile(`(?s)<script>\n.*?\n</script>`).FindStringIndex(html)
	if lib == nil {
		t.Fatal("no inlined library")
	}
	rest := html[:lib[0]] + html[lib[1]:]
	if n, m := strings.Count(rest, "<script"), strings.Count(rest, "</script"); n != 1 || m != 1 {
		t.Errorf("outside the library: %d <script and %d </script, want the report's one", n, m)
	}
	for _, bad := range []string{"<img", "<!--", "\u2028", "\u2029", "__f__"} {
		if i := strings.Index(rest, bad); i >= 0 {
			t.Errorf("page holds %q at %d: %q", bad, i, rest[max(0, i-60):min(len(rest), i+60)])
		}
	}
	if !strings.Contains(rest, "<title>flowhawk report: &#34;&gt;&lt;img src=x onerror=alert(3)&gt;.csv</title>") {
		t.Errorf("title does not show the file name escaped: %.200s", rest[strings.Index(rest, "<title>"):])
	}
	cs := pageCharts(t, rest)
	if got := texts(path(cs["class-mix"], "xAxis", 0, "data")); len(got) != 1 || got[0] != label {
		t.Errorf("class chart labels %q, want [%q]", got, label)
	}
	if got := path(cs["alerts"], "series", 0, "name"); got != "dns" {
		t.Errorf("alert series %v, want dns", got)
	}
}
