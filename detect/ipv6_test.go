package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// TestPortscanSweepIPv6Subnets sweeps port 22 over the low host numbers
// (::1 to ::28) of two adjacent /64s, 80 hosts, as IPv6 scanners walk
// subnets. The same sweep over 80 IPv4 hosts raises portscan.sweep; the
// IPv6 one counted 50 hosts: the address hash let the network half's
// change cancel against the host half's (2001:db8:0:0::15 and
// 2001:db8:0:1::0 hashed alike).
func TestPortscanSweepIPv6Subnets(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		e, c := newTest(t, only("portscan"))
		n := 0
		for s := 0; s < 2; s++ {
			for h := 1; h <= 40; h++ {
				dst := fmt.Sprintf("10.1.%d.%d", s, h)
				src := "10.0.0.9"
				if v6 {
					dst, src = fmt.Sprintf("2001:db8:0:%x::%x", s, h), "2001:db8:bad::9"
				}
				e.OnPacket(pkt(t0+int64(n)*sec/10, src, dst, 40000, 22, 6, collector.FlagSYN, nil))
				n++
			}
		}
		e.Close()
		if len(c.alerts) != 1 || c.alerts[0].Rule != "portscan.sweep" {
			t.Errorf("v6=%v: 80-host sweep raised %v, want one portscan.sweep", v6, c.rules())
		}
	}
}

// TestSynFloodIPv6Sources floods from 128 IPv6 sources (::1 to ::40 of two
// /64s) over random ports: 128 sources is a flood, but the distinct count
// said 66, under the 100 that makes it "a port scan", so nothing was
// raised.
func TestSynFloodIPv6Sources(t *testing.T) {
	e, c := newTest(t, only("synflood"))
	for i := 0; i < 2000; i++ {
		k := i % 128
		src := fmt.Sprintf("2001:db8:0:%x::%x", k/64, k%64+1)
		e.OnPacket(pkt(t0+int64(i)*sec/400, src, "2001:db8::80", uint16(1024+i), uint16(1+(i*7919)%60000), 6, collector.FlagSYN, nil))
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Evidence["distinct_sources"] != 128 {
		for _, a := range c.alerts {
			t.Logf("%s %v", a.Rule, a.Evidence["distinct_sources"])
		}
		t.Errorf("flood from 128 IPv6 sources raised %v, want synflood with distinct_sources 128", c.rules())
	}
}

// TestAlertMessageIPv6Endpoints: alert messages write an IPv6 endpoint
// with its port as RFC 5952 does, [addr]:port: "2001:db8:eeee::7:443"
// reads as the address 2001:db8:eeee::7:443, port unknown.
func TestAlertMessageIPv6Endpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bl")
	if err := os.WriteFile(path, []byte("2001:db8:eeee::/48 c2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := only("intel")
	cfg.Blocklists = []string{path}
	e, c := newTest(t, cfg)
	e.OnPacket(pkt(t0, "2001:db8::5", "2001:db8:eeee::7", 40000, 443, 6, collector.FlagSYN, nil))
	e.Close()
	if len(c.alerts) != 1 || !strings.Contains(c.alerts[0].Message, "[2001:db8:eeee::7]:443") {
		t.Errorf("intel alerts %v: %q", c.rules(), c.alerts[0].Message)
	}

	e, c = newTest(t, only("seqrepeat"))
	for i := 0; i < 2; i++ {
		p := pkt(t0+int64(i)*sec/100, "2001:db8::80", "2001:db8::9", 80, 50000, 6, collector.FlagACK|collector.FlagPSH, []byte(fmt.Sprint("payload ", i)))
		p.TCPSeq = 1000
		e.OnPacket(p)
	}
	e.Close()
	if len(c.alerts) != 1 || !strings.Contains(c.alerts[0].Message, "[2001:db8::80]:80 -> [2001:db8::9]:50000") {
		t.Errorf("seqrepeat alerts %v: %q", c.rules(), c.alerts[0].Message)
	}
}
