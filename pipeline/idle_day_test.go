package pipeline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/features"
)

// TestTopTalkersIdleTimeoutOverADay: as TestTopTalkersIdleTimeout, with --idle-timeout 25h: a record reaches
// the engine up to the flow delay (idle + grace) after its end, which
// SetFlowDelay tells the engine; more than a day late, it was taken
// for a clock going back.
func TestTopTalkersIdleTimeoutOverADay(t *testing.T) {
	const sec = int64(time.Second)
	t0 := int64(1767225600) * sec
	for _, idle := range []time.Duration{300 * time.Second, 25 * time.Hour} {
		cfg := detect.DefaultConfig()
		cfg.Detect = "toptalkers"
		var alerts []*detect.Alert
		eng, err := detect.New(cfg, func(a *detect.Alert) { alerts = append(alerts, a) })
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Table: collector.TableConfig{IdleTimeout: idle}, Features: features.DefaultConfig(), Workers: 1, Detect: eng})
		if err != nil {
			t.Fatal(err)
		}
		big := 0
		for ms := int64(0); ms < 700_000; ms += 20 {
			ts := t0 + ms*1e6
			switch {
			case ms >= 1000 && ms < 13000 && ms%1000 == 0:
				c := netip.AddrFrom4([4]byte{10, 5, 0, byte(ms / 1000)}).String()
				p.Packet(tcpPacket(ts, c, "10.0.0.9", 3000, 80, collector.FlagSYN))
				p.Packet(tcpPacket(ts+1e6, "10.0.0.9", c, 80, 3000, collector.FlagSYN|collector.FlagACK))
				p.Packet(tcpPacket(ts+2e6, c, "10.0.0.9", 3000, 80, collector.FlagRST))
			}
			if ms >= 1000 && big < 1500 {
				p.Packet(udpPacket(ts+3e6, "10.6.0.1", "10.0.0.9", 40000, 5000, 1000))
				big++
			}
			if ms%1000 == 500 {
				p.Packet(udpPacket(ts, "10.7.0.1", "10.7.0.2", 7000, 7001, 29))
			}
		}
		// the link stays up for 26 hours more (one keepalive a minute)
		for s := int64(700); s < 26*3600+700; s += 60 {
			p.Packet(udpPacket(t0+s*sec, "10.7.0.1", "10.7.0.2", 7000, 7001, 29))
		}
		if _, err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Src.String() != "10.6.0.1" || alerts[0].Evidence["hosts"] != 14 {
			var got []string
			for _, a := range alerts {
				got = append(got, a.Message)
			}
			t.Errorf("--idle-timeout %v: got %d alerts %q, want one for 10.6.0.1 among 14 hosts", idle, len(alerts), got)
		}
	}
}
