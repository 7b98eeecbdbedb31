package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
)

// Live holds counters that other goroutines (a metrics scrape) may read
// while the pipeline runs. They are refreshed once per batch of flows and
// every 64 Ki packets (and at the end of each file), not per packet, and
// when a live input (standard input, a FIFO) is about to wait for its
// writer, at most once a second, so a slow pipe shows current values.
type Live struct {
	ActiveFlows atomic.Int64
	Packets     atomic.Uint64
	// NewestRecord is the latest packet time (Unix ns) of the records
	// handed to the outputs so far: the collector lag is the wall clock
	// minus it.
	NewestRecord atomic.Int64

	// windowsOn tells whether the NSL-KDD windows run (not --no-windows);
	// the window counts are refreshed after each batch they see.
	windowsOn                                      bool
	windowObserved, windowDropped, windowTruncated atomic.Uint64

	mu        sync.Mutex
	malformed map[string]uint64
	nonIP     uint64
}

// Skipped returns the frames the pcap path left out by design so far:
// "non_ip" (ARP, LLDP, ...), once there is one (capture's pipeline reads no
// pcap, and must not show a pcap count of 0).
func (l *Live) Skipped() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nonIP == 0 {
		return map[string]uint64{}
	}
	return map[string]uint64{"non_ip": l.nonIP}
}

// Windows returns the NSL-KDD time windows' counts so far by outcome
// (features.WindowStats), or nothing when the windows do not run.
func (l *Live) Windows() map[string]uint64 {
	if !l.windowsOn {
		return map[string]uint64{}
	}
	return map[string]uint64{
		"observed":  l.windowObserved.Load(),
		"dropped":   l.windowDropped.Load(),
		"truncated": l.windowTruncated.Load(),
	}
}

func (l *Live) setWindows(st features.WindowStats) {
	l.windowObserved.Store(st.Observed)
	l.windowDropped.Store(st.Dropped)
	l.windowTruncated.Store(st.Truncated)
}

// DecodeErrors returns the malformed-packet counts by reason so far.
func (l *Live) DecodeErrors() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint64, len(l.malformed))
	for k, v := range l.malformed {
		out[k] = v
	}
	return out
}

func (l *Live) setDecode(total *collector.SourceStats, cur *collector.SourceStats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.malformed == nil {
		l.malformed = make(map[string]uint64)
	}
	l.nonIP = total.NonIP + cur.NonIP
	for r := range total.MalformedBy {
		n := total.MalformedBy[r] + cur.MalformedBy[r]
		if n > 0 {
			l.malformed[collector.MalformedReason(r).String()] = n
		}
	}
	if n := total.UnknownLink + cur.UnknownLink; n > 0 {
		// pcapng frames of an interface of another link type
		l.malformed["unknown link type"] = n
	}
	if n := total.BadTimestamps + cur.BadTimestamps; n > 0 {
		l.malformed["timestamp out of range"] = n
	}
}

// Live returns the pipeline's live counters.
func (p *Pipeline) Live() *Live { return &p.live }
