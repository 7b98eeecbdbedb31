package detect

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// tickNS is how often (in packet time) aggregated alerts are flushed and
// the blocklists checked; windows also roll at their exact ends.
const tickNS = int64(1e9)

// Engine runs the enabled detectors over packets and flows and hands
// aggregated alerts to its sink. It is safe for concurrent use (packets
// and flows may come from different goroutines), but the packet clock is
// the largest timestamp seen, so feed each source in time order.
type Engine struct {
	mu       sync.Mutex
	cfg      Config
	sink     func(*Alert)
	now      int64
	clocked  bool // now is an input's time (0 is 1970, not "none yet")
	nextTick int64
	closed   bool
	// flowDelay is how long after its End a flow record may still reach
	// OnFlow (SetFlowDelay), in ns.
	flowDelay int64

	ps    *portScan
	sf    *synFlood
	dns   *dnsDetector
	size  *sizeDetector
	seq   *seqRepeat
	top   *topTalkers
	intel *intel
	geo   *geoIP

	msg  dnsMsg // reused DNS decode state
	msg2 dnsMsg // scratch for the names of a response's answers
	idx  *flowIndex
	hs   *handshakes // when ps or sf runs

	agg   aggregator
	stats engineStats
	wins  []*window // the enabled detectors' windows
}

type engineStats struct {
	packets, flows  uint64
	dnsMsgs, dnsBad uint64
	byRule          map[string]*ruleStats
	hosts           *bounded[netip.Addr, hostStats]
}

type ruleStats struct {
	detector  string
	raised    uint64 // occurrences
	sent      uint64 // alerts handed to the sink
	maxSev    Severity
	lastHosts []string
}

type hostStats struct {
	raised uint64
	rules  map[string]uint64
}

// ConfigError is a setting New refuses (not a file it could not read), so
// the CLI can call it a usage error.
type ConfigError struct{ Err error }

// Error is the refused setting's message, which names its flag.
func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap gives errors.Is and errors.As the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// Check returns the *ConfigError New would return for c, without opening
// a file, so capture can refuse a bad flag before it attaches.
func (c *Config) Check() error {
	if err := c.validate(); err != nil {
		return &ConfigError{err}
	}
	on, err := c.Enabled()
	if err != nil {
		return &ConfigError{err}
	}
	if len(c.DGAAllow) > 0 && !on[DNS] {
		return &ConfigError{fmt.Errorf("detect: --dga-allow needs the dns detector (--detect dns or all)")}
	}
	return nil
}

// New builds an engine for cfg; sink receives every alert (and owns it).
// An engine with no detector enabled accepts input and raises nothing.
func New(cfg Config, sink func(*Alert)) (*Engine, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	on, err := cfg.Enabled()
	if err != nil {
		return nil, &ConfigError{err}
	}
	if sink == nil {
		sink = func(*Alert) {}
	}
	e := &Engine{cfg: cfg, sink: sink, idx: newFlowIndex(max(cfg.MaxHosts/2, 16)), flowDelay: int64(defaultFlowDelay()), nextTick: math.MinInt64}
	e.agg.init(cfg.AlertInterval, cfg.MaxHosts)
	e.stats.byRule = map[string]*ruleStats{}
	e.stats.hosts = newBounded[netip.Addr](cfg.MaxHosts, func(h *hostStats) uint64 { return h.raised })
	if on[PortScan] {
		e.ps = newPortScan(e)
	}
	if on[SynFlood] {
		e.sf = newSynFlood(e)
	}
	if (e.ps != nil || e.sf != nil) && !cfg.PartialPackets {
		e.hs = newHandshakes(cfg.MaxHosts)
	}
	if on[DNS] {
		if e.dns, err = newDNSDetector(e); err != nil {
			return nil, err
		}
	}
	if on[Size] {
		e.size = &sizeDetector{e: e}
	}
	if on[SeqRepeat] {
		e.seq = newSeqRepeat(e)
	}
	if on[TopTalkers] {
		e.top = newTopTalkers(e)
	}
	// Blocklists enable intel matching even when --detect does not name
	// it; --detect intel without blocklists matches nothing.
	if len(cfg.Blocklists) > 0 {
		if e.intel, err = newIntel(cfg.Blocklists, e); err != nil {
			return nil, err
		}
	} else if on[Intel] && !cfg.namesAll() {
		slog.Warn("--detect intel without --blocklist: nothing to match")
	}
	if cfg.GeoIP != "" {
		if e.geo, err = openGeoIP(cfg.GeoIP); err != nil {
			return nil, err
		}
	}
	if e.ps != nil {
		e.wins = append(e.wins, &e.ps.win)
	}
	if e.sf != nil {
		e.wins = append(e.wins, &e.sf.win)
	}
	if e.dns != nil {
		e.wins = append(e.wins, &e.dns.win)
	}
	return e, nil
}

// defaultFlowDelay is the flow delay of an engine whose SetFlowDelay was
// not called: what a collector.Table with the default timeouts needs.
func defaultFlowDelay() time.Duration {
	d := collector.DefaultTableConfig()
	return d.IdleTimeout + d.CloseGrace
}

// SetFlowDelay tells the engine that a flow record reaches OnFlow at most
// d of packet time after its End: the flow table's idle timeout plus its
// close grace (plus the map scan interval on the kernel path).
// toptalkers judges a window only once the clock is d past its end, so a
// record counts in the window where it ends whenever the table lets it
// go; its alerts come that much later. Records the table ends early
// (eviction, flush) arrive sooner and are counted all the same.
func (e *Engine) SetFlowDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flowDelay = max(int64(d), 0)
	if e.top != nil {
		e.top.resize()
	}
}

// advance moves the packet clock to ts and, once per second of packet
// time and at every window's end, rolls the detectors' windows and
// flushes due aggregated alerts. Ticking at the exact end keeps a window
// that is not a whole number of seconds (--dns-window 1500ms) from
// counting the next window's first events.
func (e *Engine) advance(ts int64) {
	if e.clocked && ts <= e.now {
		if uint64(e.now)-uint64(ts) <= uint64(collector.MaxTimeJump) {
			return
		}
		e.clockBack()
	}
	prev, hadClock := e.now, e.clocked
	e.now, e.clocked = ts, true
	if ts < e.nextTick {
		return
	}
	if e.ps != nil {
		e.ps.tick(ts, false)
	}
	if e.sf != nil {
		e.sf.tick(ts, false)
	}
	if e.dns != nil {
		e.dns.tick(ts, false)
	}
	if e.seq != nil {
		e.seq.tick(ts)
	}
	if e.top != nil && hadClock {
		// The clock before this input: the flow table has not seen its
		// packet yet, and that packet may end flows older than a window.
		e.top.tick(prev, false)
	}
	if e.intel != nil {
		e.intel.tick(ts)
	}
	e.agg.tick(ts, e.send)
	e.setNextTick(ts)
}

// clockBack judges what the detectors hold and starts them again when
// the packet clock goes back more than collector.MaxTimeJump (after a
// record dated far ahead, or files out of time order), as the flow table
// ends its flows and follows the packets back. Kept at the far-off time,
// no window ended before the end of the input: all later traffic counted
// in one window, and a client asking 10 names a minute for half an hour
// was dns.many_names (300 names in "60 s").
func (e *Engine) clockBack() {
	if e.ps != nil {
		e.ps.tick(e.now, true)
	}
	if e.sf != nil {
		e.sf.tick(e.now, true)
	}
	if e.dns != nil {
		e.dns.tick(e.now, true)
		e.dns.pending.reset()
	}
	if e.top != nil {
		e.top.tick(e.now, true)
		e.top.judged = false
	}
	e.agg.flush(e.send)
	e.agg.causes.reset()
	for _, w := range e.wins {
		w.started = false
	}
	if e.seq != nil {
		clear(e.seq.cur)
		clear(e.seq.old)
		e.seq.genStart = 0
	}
	if e.hs != nil {
		clear(e.hs.cur)
		clear(e.hs.prev)
		e.hs.started = false
	}
	if e.intel != nil {
		e.intel.checked = false
	}
	e.clocked, e.nextTick = false, math.MinInt64
}

// setNextTick schedules the next tick after one at ts: the next whole
// second, or an earlier window end.
func (e *Engine) setNextTick(ts int64) {
	e.nextTick = floorTo(ts, tickNS) + tickNS
	for _, w := range e.wins {
		if w.started {
			e.nextTick = min(e.nextTick, w.start+w.size)
		}
	}
}

// Advance moves the packet clock to ts (Unix ns) without an input, as
// inputs do, so that windows end and are judged on a live link whose
// packets and records have stopped coming: the kernel path feeds only
// the first packets of each flow and records as they end, so on a link
// of long-lived flows the clock stood still. capture calls it after each
// scan of the flow map with the time of the scan. A ts behind the clock
// is ignored.
func (e *Engine) Advance(ts int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.advance(ts)
}

// OnPacket feeds one decoded packet. p and its Payload are not retained.
func (e *Engine) OnPacket(p *collector.Packet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.stats.packets++
	e.advance(p.Timestamp)
	switch p.Key.Proto {
	case 6:
		done := e.hs != nil && e.hs.packet(p)
		if e.ps != nil {
			e.ps.packet(p)
			if done {
				e.ps.completed(p)
			}
		}
		if e.sf != nil {
			e.sf.packet(p)
			if done {
				e.sf.completed(p)
			}
		}
		if e.seq != nil {
			e.seq.packet(p)
		}
		if e.intel != nil && p.TCPFlags&(collector.FlagSYN|collector.FlagACK) == collector.FlagSYN {
			e.intel.packet(p)
		}
	case 17, 1, 58:
		if e.ps != nil {
			e.ps.packet(p)
		}
	}
	if (e.dns != nil || e.intel != nil) && (p.Key.Proto == 17 || p.Key.Proto == 6) &&
		(p.Key.PortLo == 53 || p.Key.PortHi == 53) && len(p.Payload) > 0 && p.Fragment != collector.LaterFragment {
		e.onDNS(p)
	}
}

func (e *Engine) onDNS(p *collector.Packet) {
	b := p.Payload
	if p.Key.Proto == 6 {
		// DNS over TCP: a 2-byte length prefix, then the message; only
		// segments that start a message are decoded.
		if len(b) < 14 || int(b[0])<<8|int(b[1]) < 12 {
			return
		}
		b = b[2:]
	}
	if err := e.msg.parse(b); err != nil {
		e.stats.dnsBad++
		return
	}
	e.stats.dnsMsgs++
	if !e.msg.hasQuestion {
		return
	}
	src, dst, sport, dport := ends(p)
	if e.dns != nil {
		e.dns.message(&e.msg, p, src, dst, sport, dport)
	}
	if e.intel != nil && !e.msg.response {
		e.intel.name(&e.msg, p, src, dst)
	}
	if e.intel != nil && e.msg.response && e.msg.ancount > 0 && e.msg.rcode == 0 {
		// A blocklisted name reached through a CNAME (CNAME cloaking, a
		// C2 behind a benign alias): the question does not show it.
		_ = e.msg.cnames(b, &e.msg2, func(target []byte) { e.intel.cname(target, &e.msg, p, dst, src) })
	}
}

// OnFlow feeds one finished flow record; f is not retained.
func (e *Engine) OnFlow(f *collector.Flow) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.stats.flows++
	// A record reaches the engine up to the flow delay after its end
	// (SetFlowDelay): only a step back beyond that and a day is the
	// clock going back (an --idle-timeout over a day made every record
	// of an idle flow restart the detectors).
	if !e.clocked || f.End > e.now || uint64(e.now)-uint64(f.End) > uint64(collector.MaxTimeJump)+uint64(e.flowDelay) {
		e.advance(f.End)
	}
	if e.ps != nil || e.sf != nil || e.dns != nil || e.seq != nil || e.intel != nil {
		e.idx.addFlow(f.Key, f.ID)
		if cause, ok := e.idx.take(f.Key); ok {
			e.agg.addFlowID(cause, f.ID)
		}
	}
	if e.size != nil {
		e.size.flow(f)
	}
	if e.top != nil {
		e.top.flow(f)
	}
	if e.intel != nil {
		e.intel.flow(f)
	}
}

// Close evaluates the partial windows, flushes every pending aggregated
// alert to the sink and releases the GeoIP database. Later input is
// ignored.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	now := e.now
	if e.ps != nil {
		e.ps.tick(now, true)
	}
	if e.sf != nil {
		e.sf.tick(now, true)
	}
	if e.dns != nil {
		e.dns.tick(now, true)
	}
	if e.top != nil {
		e.top.tick(now, true)
	}
	e.agg.flush(e.send)
	e.closed = true
	if e.geo != nil {
		return e.geo.close()
	}
	return nil
}

// raise records one occurrence of an alert; the aggregator decides when
// it reaches the sink.
func (e *Engine) raise(a *Alert) {
	if a.Time == 0 {
		a.Time = e.now
	}
	if a.First == 0 {
		a.First = a.Time
	}
	if a.Last < a.Time {
		a.Last = a.Time
	}
	if a.DNSName != "" && len(a.Names) == 0 {
		a.Names = []string{a.DNSName}
	}
	// Packet-based alerts name flows by key: finished flows resolve now,
	// the others are watched and join the cause's next aggregate.
	for _, k := range a.keys {
		if id, ok := e.idx.lookup(k); ok {
			if !slices.Contains(a.FlowIDs, id) {
				a.FlowIDs = append(a.FlowIDs, id)
			}
		} else {
			e.idx.addWatch(k, causeKey(a))
		}
	}
	a.keys = nil
	rs := e.stats.byRule[a.Rule]
	if rs == nil {
		rs = &ruleStats{detector: a.Detector}
		e.stats.byRule[a.Rule] = rs
	}
	rs.raised++
	rs.maxSev = max(rs.maxSev, a.Severity)
	for _, h := range []netip.Addr{a.Src, a.Dst} {
		if !h.IsValid() {
			continue
		}
		hs := e.stats.hosts.upsert(h)
		hs.raised++
		if hs.rules == nil {
			hs.rules = map[string]uint64{}
		}
		hs.rules[a.Rule]++
		if a.Src.IsValid() { // blame the source when there is one
			break
		}
	}
	e.agg.raise(a, e.send)
}

// send enriches an alert and hands it to the sink.
func (e *Engine) send(a *Alert) {
	a.Observer = e.cfg.Observer
	if e.geo != nil {
		a.SrcGeo = e.geo.lookup(a.Src)
		a.DstGeo = e.geo.lookup(a.Dst)
	}
	if rs := e.stats.byRule[a.Rule]; rs != nil {
		rs.sent++
	}
	e.sink(a)
}

// StateSize is the number of entries (hosts, keys, segments) the
// detectors hold now; it stays bounded by the MaxHosts-style limits.
func (e *Engine) StateSize() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.agg.len() + len(e.idx.recent) + len(e.idx.recOld) + len(e.idx.watch) + len(e.idx.watOld)
	if e.ps != nil {
		n += e.ps.hosts.len() + e.ps.vals.used
	}
	if e.sf != nil {
		n += e.sf.dsts.len() + e.sf.srcs.used
	}
	if e.hs != nil {
		n += len(e.hs.cur) + len(e.hs.prev)
	}
	if e.dns != nil {
		n += e.dns.hosts.len() + e.dns.names.used
	}
	if e.seq != nil {
		n += len(e.seq.cur) + len(e.seq.old)
	}
	if e.top != nil {
		n += e.top.hosts.len()
	}
	return n
}

// Summary writes the top offending hosts, then the table of alerts by
// rule: the table ends the output, so it is what a terminal shows last.
func (e *Engine) Summary(w io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	type hostRow struct {
		h  netip.Addr
		hs *hostStats
	}
	var hosts []hostRow
	for h, hs := range e.stats.hosts.m {
		hosts = append(hosts, hostRow{h, hs})
	}
	if len(hosts) > 0 {
		sort.Slice(hosts, func(i, j int) bool {
			if hosts[i].hs.raised != hosts[j].hs.raised {
				return hosts[i].hs.raised > hosts[j].hs.raised
			}
			return hosts[i].h.Less(hosts[j].h)
		})
		fmt.Fprintf(w, "Top hosts in alerts (the source; the target when there is no single source):\n")
		if n := e.stats.hosts.Evicted; n > 0 {
			// The list is held to --detect-max-hosts too: say that it may
			// have lost a host's earlier occurrences.
			fmt.Fprintf(w, "(approximate: %d hosts left this list at --detect-max-hosts; their earlier occurrences are not counted)\n", n)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "HOST\tOCCURRENCES\tRULES\n")
		for i, hr := range hosts {
			if i == 10 {
				break
			}
			rs := make([]string, 0, len(hr.hs.rules))
			for r, n := range hr.hs.rules {
				rs = append(rs, fmt.Sprintf("%s×%d", r, n))
			}
			sort.Strings(rs)
			fmt.Fprintf(tw, "%s\t%d\t%s\n", hr.h, hr.hs.raised, joinMax(rs, 4))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}

	losses := e.losses()
	var over []string
	for _, k := range slices.Sorted(maps.Keys(losses)) {
		if losses[k] > 0 {
			over = append(over, fmt.Sprintf("%s %d", k, losses[k]))
		}
	}
	if len(over) > 0 {
		fmt.Fprintf(w, "Detector state at its bounds (--detect-max-hosts): %s\n", strings.Join(over, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "DETECTOR\tRULE\tSEVERITY\tOCCURRENCES\tALERTS\n")
	rules := make([]string, 0, len(e.stats.byRule))
	for r := range e.stats.byRule {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		a, b := e.stats.byRule[rules[i]], e.stats.byRule[rules[j]]
		if a.detector != b.detector {
			return slices.Index(AllDetectors, a.detector) < slices.Index(AllDetectors, b.detector)
		}
		return rules[i] < rules[j]
	})
	var total, sent uint64
	for _, r := range rules {
		rs := e.stats.byRule[r]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", rs.detector, r, rs.maxSev, rs.raised, rs.sent)
		total += rs.raised
		sent += rs.sent
	}
	if len(rules) == 0 {
		fmt.Fprintf(tw, "-\t(no alerts)\t-\t0\t0\n")
	}
	fmt.Fprintf(tw, "\t\t\t%d\t%d\n", total, sent)
	tw.Flush()
}

// Losses names the detectors' state that overflowed its bounds, for
// flowhawk_dropped_total{component="detect"}: per-host state evicted to
// make room for new hosts (a flood of sources does this; detection is
// then approximate), alert causes evicted from aggregation (their next
// occurrence is sent as new), SYNs not paired with their handshake
// because the pending table was full (they count as half-open) and DNS
// queries forgotten before their answer because the pending table was
// full (an NXDOMAIN answer to one does not count).
func (e *Engine) Losses() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.losses()
}

func (e *Engine) losses() map[string]uint64 {
	// Alert aggregation is bounded by --detect-max-hosts too: an evicted
	// cause starts over at count 1 when it recurs.
	m := map[string]uint64{"alert_causes_evicted": e.agg.causes.Evicted}
	if e.ps != nil {
		m["portscan_hosts_evicted"] = e.ps.hosts.Evicted
		m["portscan_values_refused"] = e.ps.vals.refused
	}
	if e.sf != nil {
		m["synflood_hosts_evicted"] = e.sf.dsts.Evicted
		m["synflood_sources_refused"] = e.sf.srcs.refused
	}
	if e.dns != nil {
		m["dns_hosts_evicted"] = e.dns.hosts.Evicted
		m["dns_queries_evicted"] = e.dns.pending.Evicted
		m["dns_names_refused"] = e.dns.names.refused
	}
	if e.top != nil {
		m["toptalkers_hosts_evicted"] = e.top.hosts.Evicted
	}
	if e.hs != nil {
		m["handshakes_unpaired"] = e.hs.untracked
	}
	return m
}

func joinMax(s []string, n int) string {
	out := ""
	for i, x := range s {
		if i == n {
			out += fmt.Sprintf(" (+%d)", len(s)-n)
			break
		}
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// Counts returns, per rule, how many occurrences were raised: what tests
// and the CLI's exit summary check.
func (e *Engine) Counts() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]uint64, len(e.stats.byRule))
	for r, rs := range e.stats.byRule {
		m[r] = rs.raised
	}
	return m
}

// raiseAll raises alerts built from a map walk in a deterministic order
// (first seen, then rule, source, destination), so replays repeat exactly.
func (e *Engine) raiseAll(as []*Alert) {
	slices.SortFunc(as, func(a, b *Alert) int {
		if c := cmpInt(a.First, b.First); c != 0 {
			return c
		}
		if a.Rule != b.Rule {
			return strings.Compare(a.Rule, b.Rule)
		}
		if c := a.Src.Compare(b.Src); c != 0 {
			return c
		}
		if c := a.Dst.Compare(b.Dst); c != 0 {
			return c
		}
		return strings.Compare(a.DNSName, b.DNSName)
	})
	for _, a := range as {
		e.raise(a)
	}
}
