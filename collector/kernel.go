//go:build linux

package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/bpf"
)

// The kernel map key is read straight into Key: the sizes must agree (the
// offsets are checked by TestKernelKeyLayout).
var _ [KeySize - unsafe.Sizeof(bpf.FlowhawkFlowKey{})]struct{}
var _ [unsafe.Sizeof(bpf.FlowhawkFlowKey{}) - KeySize]struct{}

// KernelConfig sets what the kernel source attaches to and its knobs; the
// zero value of a field means its default.
type KernelConfig struct {
	// Interfaces to attach to: XDP or TC on ingress (see Ingress), TC
	// (TCX, or clsact where the kernel has no TCX) on egress.
	Interfaces []string
	// Ingress picks the ingress hook: "auto" (default: driver-mode XDP
	// where the driver has it, except on veth; TC ingress elsewhere),
	// "xdp" or "tc". An explicit XDPMode under "auto" means "xdp".
	Ingress string
	// XDPMode is how XDP attaches when it is used: "auto" (driver mode
	// where supported, else generic, the kernel's choice), "native" or
	// "generic".
	XDPMode string
	// MaxFlows is the size of the kernel's IPv4 flow map (default 65536).
	// When a map is full, new flows are counted in KernelStats.MapFull,
	// not stored.
	MaxFlows int
	// MaxFlows6 is the size of the IPv6 flow map (default MaxFlows). IPv4
	// flows have a map of their own, with a key short enough to hash in a
	// third of the time; both maps are preallocated.
	MaxFlows6 int
	// Samples is how many first packets of each flow the kernel sends to
	// user space (default 32); they become Flow.Samples and Packets.
	Samples int
	// SampleRate accounts 1 packet in SampleRate (0 or 1: all); counters
	// in the records are scaled back up and Flow.Sampled is set.
	SampleRate int
	// IdleTimeout, ActiveTimeout and CloseGrace are those of TableConfig
	// (defaults 120 s, 1800 s, 2 s).
	IdleTimeout   time.Duration
	ActiveTimeout time.Duration
	CloseGrace    time.Duration
	// RingSize is the ring buffer size in bytes, a power of two multiple of
	// the page size (default 4 MiB).
	RingSize int
	// ScanInterval is how often the flow map is scanned for timed-out
	// flows (default 1 s).
	ScanInterval time.Duration
	// EvictIdle: when the flow map refused new flows since the last scan,
	// or the last scan found it within 1/16 of full, the scan evicts the
	// least recently seen flows idle at least this long (default 5 s;
	// negative: never), up to 1/16 of the map per scan, as EndEvicted
	// partial records, so new flows get room during a flood, and after one
	// the map does not stay full of its idle flows until they time out
	// (the table's counted eviction, done at scan time).
	EvictIdle time.Duration
	// LossReport is how often Run logs a warning when a loss counter
	// (map full, ring buffer full, parse errors) grew (default 10 s).
	LossReport time.Duration
	// NoDNSSnippets stops the kernel from copying DNS payloads.
	NoDNSSnippets bool
	// Decap unwraps one level of tunnel (IP-in-IP, GRE, VXLAN, GENEVE) as
	// PcapOptions.Decap does: a tunneled packet counts in its inner flow.
	Decap bool
	// TCAttach forces the attach method of the TC programs (egress, and
	// ingress where TC is used): "" (TCX, clsact fallback), "tcx" or
	// "clsact".
	TCAttach string
}

// The largest sizes the kernel takes for KernelConfig's fields: the
// kernel holds them in 32 bits, and larger values used to be truncated in
// silence (a SampleRate of 2^32+1 sampled every packet while user space
// scaled the counters by 2^32+1).
const (
	// MaxKernelFlows is the largest flow map: a hash map of more entries
	// needs 2^28 buckets, an array past the 4 GiB the kernel allows
	// (E2BIG); at ~500 B an entry it would take 64 GiB anyway.
	MaxKernelFlows = 1 << 27
	// MaxRingSize is the largest ring buffer, the largest power of two a
	// 32-bit map size holds.
	MaxRingSize = 1 << 31
	// MaxSampleRate and MaxKernelSamples are the 32-bit limits of the
	// programs' sample_rate and max_samples.
	MaxSampleRate    = 1<<32 - 1
	MaxKernelSamples = 1<<32 - 1
)

// validate refuses sizes the kernel cannot hold, rather than let them be
// truncated to 32 bits or replaced by a default; zero still means the
// default.
func (c *KernelConfig) validate() error {
	var errs []error
	check := func(field string, v int, hi int64, zero string) {
		if v < 0 || int64(v) > hi {
			errs = append(errs, fmt.Errorf("KernelConfig.%s %d out of range 0..%d (0: %s)", field, v, hi, zero))
		}
	}
	check("MaxFlows", c.MaxFlows, MaxKernelFlows, "65536")
	check("MaxFlows6", c.MaxFlows6, MaxKernelFlows, "MaxFlows")
	check("Samples", c.Samples, MaxKernelSamples, "32")
	check("SampleRate", c.SampleRate, MaxSampleRate, "every packet, as 1")
	if err := CheckRingSize(c.RingSize); c.RingSize != 0 && err != nil {
		errs = append(errs, fmt.Errorf("KernelConfig.RingSize %d: %w (0: 4 MiB)", c.RingSize, err))
	}
	return errors.Join(errs...)
}

// CheckRingSize says why n bytes cannot be KernelConfig.RingSize, nil if
// it can: the kernel wants a power of two multiple of the page size, up
// to MaxRingSize.
func CheckRingSize(n int) error {
	page := os.Getpagesize()
	if n < page || int64(n) > MaxRingSize || n&(n-1) != 0 {
		return fmt.Errorf("want a power of two from %d (the page size) to %d bytes", page, int64(MaxRingSize))
	}
	return nil
}

func (c *KernelConfig) defaults() {
	d := DefaultTableConfig()
	if c.XDPMode == "" {
		c.XDPMode = "auto"
	}
	if c.Ingress == "" {
		c.Ingress = "auto"
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = 65536
	}
	if c.MaxFlows6 <= 0 {
		c.MaxFlows6 = c.MaxFlows
	}
	if c.Samples <= 0 {
		c.Samples = 32
	}
	if c.SampleRate < 1 {
		c.SampleRate = 1
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.ActiveTimeout <= 0 {
		c.ActiveTimeout = d.ActiveTimeout
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = d.CloseGrace
	}
	if c.RingSize <= 0 {
		c.RingSize = 4 << 20
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = time.Second
	}
	if c.LossReport <= 0 {
		c.LossReport = 10 * time.Second
	}
	if c.EvictIdle == 0 {
		c.EvictIdle = 5 * time.Second
	}
}

// KernelStats counts what the kernel programs and the source did. Every
// packet or event the sensor could not account is in one of the loss
// counters (MapFull, RingbufFull, ParseErrors, ExtLimit, NonIP).
type KernelStats struct {
	Packets      uint64 // packets seen by the programs
	Accounted    uint64 // packets accounted to a flow
	NonIP        uint64 // neither IPv4 nor IPv6 (ARP, LLDP, ...): passed, not accounted
	OtherL4      uint64 // IP packets of other transports (ports 0), accounted
	ParseErrors  uint64 // truncated or malformed headers: passed, not accounted
	ExtLimit     uint64 // IPv6 extension chain longer than the parse limit
	MapFull      uint64 // packets of new flows refused because their flow map was full (IPv4 and IPv6)
	MapFull6     uint64 // of MapFull, those refused by the IPv6 map (raise --max-flows-ipv6; the rest, --max-flows)
	RingbufFull  uint64 // samples/DNS/end events dropped because the ring buffer was full
	SampledOut   uint64 // packets skipped by 1-in-N sampling
	FragNoFirst  uint64 // later fragments whose first fragment was not seen (ports 0)
	Fragments    uint64 // IP fragments seen
	Forwarded    uint64 // egress packets the host forwarded from a monitored interface: counted once, on ingress
	Segmented    uint64 // GSO/GRO packets TC saw before segmentation or after merging, accounted as their wire segments
	Decapsulated uint64 // tunnel packets (KernelConfig.Decap) accounted in their inner flow
	Repulled     uint64 // TC packets parsed again after pulling headers that reached past the linear area

	Evicted        uint64 // flows evicted early because the map was full (EndEvicted)
	Events         uint64 // ring-buffer records read
	Flows          uint64 // flow records emitted
	MapEntries     int    // flow map entries at the last scan (0 after the final drain)
	PendingSamples int    // samples waiting for their flow to end
	SamplesLate    uint64 // samples read after their flow's record was emitted (its first-packet columns came from counters), dropped
	BadEvents      uint64 // ring-buffer records of unknown type or size
}

// KernelSource runs flowhawk's eBPF programs on live interfaces and turns
// the kernel flow map and ring buffer into Flow records and Packets, the
// same types the pcap path produces.
type KernelSource struct {
	cfg       KernelConfig
	afterScan func() // AfterScan
	objs      bpf.FlowhawkObjects
	rd        *ringbuf.Reader
	// linksMu guards links and aborted: Abort detaches from a signal
	// handler's goroutine while Run may be attaching again (checkLinks).
	linksMu  sync.Mutex
	links    []*ifaceLink
	aborted  bool // Abort ran: nothing attaches again
	attached []Attachment
	offset   int64    // wall clock minus CLOCK_MONOTONIC, ns
	netns    *os.File // the network namespace the interfaces were found in, for attaching again
	// nsSock is a socket made in that namespace, to ask what an
	// interface index names there (nil if none): a device moved to
	// another namespace keeps its TCX and XDP links and its index.
	nsSock *os.File
	// reattachErr is the last error attaching again to an interface that
	// came back, by name, so each new error is logged once.
	reattachErr map[string]string

	mu       sync.Mutex // guards stats
	stats    KernelStats
	pending  map[Key][]pendingSample // first-packet samples waiting for their flow's record
	liveKeys map[Key]struct{}        // Scan's scratch: the keys of pending that the walk of the maps found
	closing  []closeDue
	// continued holds the initiator of flows the active timeout cut, for
	// the record that goes on with them (toFlow): the kernel starts that
	// entry over from whichever side sends first.
	continued map[Key]cutFlow
	nextID    uint64
	mapFull   [kcntMax]uint64 // map-full counters (kcntMapFull, kcntMapFull6) at the previous scan
	mapSeen   [kcntMax]int    // entries the previous scan found, by the map's map-full counter
	rec       ringbuf.Record
	drained   []flowAt // drainAll's records, reused across drains
	scratch   Flow     // reused by toFlow for what only sample sequences give
	slab      []Flow
	pool      *FlowPool // records handed back by the outputs, if set

	// batch buffers, reused
	batches [batchBuffers]*mapBatch // reused by iterate
}

// cutFlow is a flow the active timeout cut: its initiator, its last
// packet (monotonic ns), and which sides had sent a FIN (by the key's
// sides, as the kernel's Dir), so that the other side's FIN in the entry
// that goes on with it closes the connection (finPairAcrossCut).
type cutFlow struct {
	initiator uint8
	last      uint64
	fin       [2]uint8
	alive     int64 // when a scan last found the record that goes on with it (monotonic ns)
}

// finPairAcrossCut reports whether the TCP flow of entry v, which the
// kernel does not know closed, has seen a FIN from each side counting the
// one the active timeout cut before it: the flow table keeps the FINs a
// cut falls between, and ends such a flow as FIN after its grace. The
// kernel's entry starts over at the cut and sees only the second FIN.
func (s *KernelSource) finPairAcrossCut(k *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue) bool {
	if k.Proto != 6 || v.Flags&flowFClosed != 0 || v.Dir[0].Fin|v.Dir[1].Fin == 0 {
		return false
	}
	c, ok := s.continued[keyOf(k)]
	return ok && v.First > c.last && c.fin[0]|v.Dir[0].Fin != 0 && c.fin[1]|v.Dir[1].Fin != 0
}

type closeDue struct {
	key Key
	due int64 // monotonic ns
}

type detacher interface{ Close() error }

// ifaceLink is an attachment on one interface; gone is set once the
// interface was found deleted (the kernel detached the link).
type ifaceLink struct {
	detacher
	iface string
	asked string // the name the interface was asked for by (maybe an altname), to find it again
	index int    // the interface's index at attach
	gone  bool
}

// ErrInterfacesGone ends a capture whose every interface has gone: nothing
// is attached any more, and a service manager should restart it
// (Restart=on-failure) rather than see it run on, counting nothing.
var ErrInterfacesGone = errors.New("every captured interface is gone")

// checkLinks warns, once per interface, when a captured interface has gone
// (deleted, or moved to another namespace): its bpf links are then
// defunct (interface index 0), its clsact filters went with the device,
// and the capture goes on with the others. Gateways lose interfaces (VPN
// tunnels, hotplug); a capture that silently stopped seeing one would look
// like a quiet link. An interface of the same name that appears again (a
// VPN tap or VLAN device re-created on reconnect) is attached again. When none
// is left it returns ErrInterfacesGone.
func (s *KernelSource) checkLinks() error {
	s.linksMu.Lock()
	defer s.linksMu.Unlock()
	if s.aborted {
		return nil
	}
	for _, l := range s.links {
		if l.gone || !l.defunct(s.nsSock) {
			continue
		}
		what := "captured interface is gone (deleted or moved)"
		removed := false
		if cl, ok := l.detacher.(*clsactLink); ok && cl.removed {
			// The device is still there: the other hook's filter may be
			// too, and is left for its own check and Close to find.
			what, removed = "captured interface lost our tc filter (a tc qdisc del or tc filter del by another tool)", true
		}
		var left []string
		for _, o := range s.links {
			if o.iface == l.iface {
				o.gone = true // one warning per interface, not per hook
				if cl, ok := o.detacher.(*clsactLink); ok && !removed {
					cl.gone = true // nothing of ours left on the device to delete
				}
			} else if !o.gone && !slices.Contains(left, o.iface) {
				left = append(left, o.iface)
			}
		}
		if len(left) > 0 {
			slog.Warn(what+"; its programs are detached, the capture goes on with the others and attaches again if it comes back", "iface", l.iface, "left", strings.Join(left, ","))
		} else {
			slog.Warn(what+"; no captured interface is left, the capture ends unless it is back at once", "iface", l.iface)
		}
	}
	s.reattach()
	var gone []string
	for _, l := range s.links {
		if !l.gone {
			return nil
		}
		if !slices.Contains(gone, l.iface) {
			gone = append(gone, l.iface)
		}
	}
	if len(gone) == 0 {
		return nil // nothing attached (Detach ran)
	}
	return fmt.Errorf("%w (%s: deleted or moved to another namespace); nothing is left to capture", ErrInterfacesGone, strings.Join(gone, ", "))
}

// reattach attaches the programs again to each gone interface that is
// back under the name it was asked for, in the namespace the capture
// found it in. The gone links are closed and replaced; an attach that
// fails leaves nothing of itself and is tried again at the next scan.
func (s *KernelSource) reattach() {
	var names []string
	for _, l := range s.links {
		if l.gone && !slices.Contains(names, l.asked) {
			names = append(names, l.asked)
		}
	}
	for _, asked := range names {
		var ifi *net.Interface
		var err error
		if err := s.inCaptureNetns(func() { ifi, err = interfaceByName(asked) }); err != nil {
			continue
		}
		if err != nil {
			continue // still gone
		}
		if err := s.attachAgain(ifi, asked); err != nil {
			if msg := err.Error(); s.reattachErr[asked] != msg {
				slog.Warn("captured interface is back but attaching to it failed; trying again at each scan", "iface", ifi.Name, "err", err)
				if s.reattachErr == nil {
					s.reattachErr = map[string]string{}
				}
				s.reattachErr[asked] = msg
			}
			continue
		}
		delete(s.reattachErr, asked)
	}
}

// inCaptureNetns runs fn in the network namespace the capture started in
// (the Run goroutine's thread may be in another).
func (s *KernelSource) inCaptureNetns(fn func()) error {
	if s.netns == nil {
		fn()
		return nil
	}
	return inNetns(s.netns, fn)
}

// inNetns runs fn on a thread in the network namespace ns (the caller's
// goroutine may have moved to a thread of another namespace since attach):
// finding and attaching again to an interface that came back.
func inNetns(ns *os.File, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if sameFile(orig, ns) {
			// Already there: setns needs CAP_SYS_ADMIN, which the
			// systemd unit does not grant.
			fn()
			runtime.UnlockOSThread()
			errc <- nil
			return
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // else the thread exits with the goroutine
		}
		errc <- nil
	}()
	return <-errc
}

// sameFile reports whether a and b are the same inode (namespaces are).
func sameFile(a, b *os.File) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(int(a.Fd()), &sa) == nil && unix.Fstat(int(b.Fd()), &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// attachAgain replaces the gone links of the interface asked for by a new
// attachment to ifi.
func (s *KernelSource) attachAgain(ifi *net.Interface, asked string) error {
	n := len(s.links)
	var err error
	if nerr := s.inCaptureNetns(func() { err = s.attach(ifi, asked) }); nerr != nil {
		err = nerr
	}
	if err != nil {
		for _, l := range s.links[n:] {
			l.Close()
		}
		s.links = s.links[:n] // attach records an Attachment only on success
		return err
	}
	fresh := len(s.links) - n // the new attachment's links, kept at the end
	kept := s.links[:0]
	var oldIndex []int
	var oldName []string
	// The qdisc we added stays when the device did (a filter was taken
	// off, not the device), and the new filters went on it. The hook that
	// lost its filter need not be the one whose attach added the qdisc
	// (ingress, attached first): a tc filter del of egress left it.
	removed, added := false, false
	for i, l := range s.links {
		if i < n && l.gone && l.asked == asked {
			if cl, ok := l.detacher.(*clsactLink); ok {
				removed = removed || cl.removed
				added = added || cl.addQdisc
			}
			l.Close() // a defunct bpf link's fd; a gone clsact filter deletes nothing
			if !slices.Contains(oldIndex, l.index) {
				oldIndex = append(oldIndex, l.index)
			}
			oldName = append(oldName, l.iface)
			continue
		}
		kept = append(kept, l)
	}
	clear(s.links[len(kept):])
	s.links = kept
	if removed && added {
		// The first clsact link of the new attachment is closed last, so
		// it deletes the qdisc once no filter is left, as at first.
		for _, l := range s.links[len(s.links)-fresh:] {
			if cl, ok := l.detacher.(*clsactLink); ok {
				cl.addQdisc = true
				break
			}
		}
	}
	for _, idx := range oldIndex {
		if idx != ifi.Index {
			s.objs.Monitored.Delete(uint32(idx)) // not there for loopback
		}
	}
	// The new attachment replaces the old one in Attachments.
	at := s.attached[len(s.attached)-1]
	s.attached = slices.DeleteFunc(s.attached[:len(s.attached)-1], func(a Attachment) bool { return slices.Contains(oldName, a.Iface) })
	s.attached = append(s.attached, at)
	slog.Info("captured interface is back; programs attached again", "iface", ifi.Name, "ingress", at.Ingress, "egress", at.Egress)
	return nil
}

// defunct reports whether l's device has gone: a bpf link's interface index
// turns 0 when the device is deleted, and names no device of the capture's
// namespace (asked on nsSock, when not nil) when it moved to another one,
// where its links stay attached: they are closed then, as they counted
// that namespace's traffic until the capture stopped. A clsact filter's
// device no longer answers to its index.
func (l *ifaceLink) defunct(nsSock *os.File) bool {
	switch d := l.detacher.(type) {
	case *clsactLink:
		return d.deviceGone()
	case link.Link:
		info, err := d.Info()
		if err != nil {
			return false
		}
		var idx uint32
		switch {
		case info.TCX() != nil:
			idx = info.TCX().Ifindex
		case info.XDP() != nil:
			idx = info.XDP().Ifindex
		default:
			return false
		}
		if idx == 0 {
			return true
		}
		if nsSock == nil {
			return false
		}
		ifr, err := unix.NewIfreq("")
		if err != nil {
			return false
		}
		ifr.SetUint32(idx)
		if errors.Is(unix.IoctlIfreq(int(nsSock.Fd()), unix.SIOCGIFNAME, ifr), unix.ENODEV) {
			d.Close()
			return true
		}
	}
	return false
}

// Counter indexes of the kernel's per-CPU counters (enum counter in
// bpf/headers/flow.h).
const (
	kcntPackets   = iota
	kcntAccounted // unused by the kernel: see accounted
	kcntNonIP
	kcntOtherL4
	kcntParseError
	kcntExtLimit
	kcntMapFull
	kcntRingbufFull
	kcntSampledOut
	kcntFragNoFirst
	kcntFragments
	kcntForwarded
	kcntSegmented
	kcntMapFull6
	kcntDecap
	kcntRepulled
	kcntMax
)

// Kernel event types and flags (bpf/headers/flow.h).
const (
	evSample = 1
	evEnd    = 2
	evFlow   = 3

	pktFSample    = 1
	pktFPayload   = 2
	pktFFragFirst = 4
	pktFFragLater = 8
	pktFWrongFrag = 16

	flowFRST    = 1
	flowFClosed = 2
)

// ErrCapability reports missing privileges; the message names the
// capabilities needed.
var ErrCapability = errors.New("missing capability")

// checkCaps fails early, with the names of the capabilities, when the
// process cannot load and attach eBPF programs.
func checkCaps() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil // cannot tell: let the kernel decide
	}
	var eff uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	sysAdmin := has(unix.CAP_SYS_ADMIN)
	var missing []string
	if !has(unix.CAP_BPF) && !sysAdmin {
		missing = append(missing, "CAP_BPF")
	}
	if !has(unix.CAP_NET_ADMIN) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if !has(unix.CAP_PERFMON) && !sysAdmin {
		missing = append(missing, "CAP_PERFMON")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (run as root, or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, e.g. with deploy/flowhawk.service)", ErrCapability, strings.Join(missing, ", "))
	}
	return nil
}

// LoadKernel loads every program and the maps with cfg's sizes and knobs
// but attaches nothing (tests and benchmarks drive the programs with
// BPF_PROG_TEST_RUN). OpenKernel loads what it attaches, and attaches.
func LoadKernel(cfg KernelConfig) (*KernelSource, error) {
	return loadKernel(cfg, nil)
}

// programsFor names the programs a capture with cfg on ifaces can attach
// or tail-call, so OpenKernel loads only those: the verifier takes about
// half a second for each of the big ones, and one to two for the inner
// ones that --decap needs. TC egress and its second parse always; TC
// ingress, XDP or both (--ingress auto falls back from one to the other,
// but picks TC alone for veth and loopback); the inner programs of those
// with decap; never the benchmarks' no-op programs.
func programsFor(cfg KernelConfig, ifaces []*net.Interface) map[string]bool {
	need := map[string]bool{bpf.FlowhawkProgFlowhawkTc: true, bpf.FlowhawkProgFlowhawkTcPulled: true}
	xdp, tc := cfg.Ingress == "xdp", cfg.Ingress == "tc"
	if cfg.Ingress == "auto" {
		if cfg.XDPMode != "auto" {
			xdp = true
		} else {
			for _, ifi := range ifaces {
				if raw, _ := rawIP(ifi); !raw && ifi.Flags&net.FlagLoopback == 0 && driverOf(ifi.Name) != "veth" {
					xdp = true
				}
			}
			tc = true
		}
	}
	raw, eth := false, false
	for _, ifi := range ifaces {
		if r, _ := rawIP(ifi); r {
			raw = true
		} else {
			eth = true
		}
	}
	if !eth {
		// Raw-IP devices alone: their own TC programs.
		xdp, tc = false, false
		delete(need, bpf.FlowhawkProgFlowhawkTc)
		delete(need, bpf.FlowhawkProgFlowhawkTcPulled)
	}
	need[bpf.FlowhawkProgFlowhawkXdp] = xdp
	need[bpf.FlowhawkProgFlowhawkTcIngress] = tc
	need[bpf.FlowhawkProgFlowhawkTcL3] = raw
	need[bpf.FlowhawkProgFlowhawkTcIngressL3] = raw
	need[bpf.FlowhawkProgFlowhawkTcL3Pulled] = raw
	if cfg.Decap {
		need[bpf.FlowhawkProgFlowhawkXdpInner] = xdp
		need[bpf.FlowhawkProgFlowhawkTcInner] = true
		need[bpf.FlowhawkProgFlowhawkTcInnerPulled] = true
	}
	return need
}

// loadKernel is LoadKernel for the programs in keep (nil: all of them);
// the others stay nil in s.objs.
func loadKernel(cfg KernelConfig, keep map[string]bool) (*KernelSource, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if err := checkCaps(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise memlock limit: %w (kernels before 5.11 charge eBPF maps to RLIMIT_MEMLOCK: "+
			"run with an unlimited one, e.g. LimitMEMLOCK=infinity or prlimit --memlock=unlimited, or grant CAP_SYS_RESOURCE)", err)
	}
	spec, err := bpf.LoadFlowhawk()
	if err != nil {
		return nil, fmt.Errorf("load eBPF object: %w", err)
	}
	spec.Maps[bpf.FlowhawkMapFlows].MaxEntries = uint32(cfg.MaxFlows6)
	spec.Maps[bpf.FlowhawkMapFlows4].MaxEntries = uint32(cfg.MaxFlows)
	spec.Maps[bpf.FlowhawkMapEvents].MaxEntries = uint32(cfg.RingSize)
	set := func(name string, v any) error {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		return nil
	}
	dns, decap := uint8(1), uint8(0)
	if cfg.NoDNSSnippets {
		dns = 0
	}
	if cfg.Decap {
		decap = 1
	}
	if err := errors.Join(set(bpf.FlowhawkVarMaxSamples, uint32(cfg.Samples)),
		set(bpf.FlowhawkVarSampleRate, uint32(cfg.SampleRate)),
		set(bpf.FlowhawkVarDnsSnippets, dns),
		set(bpf.FlowhawkVarDecap, decap),
		set(bpf.FlowhawkVarWakeBytes, uint64(cfg.RingSize/8)),
		set(bpf.FlowhawkVarCloseGraceNs, uint64(cfg.CloseGrace))); err != nil {
		return nil, err
	}
	if keep != nil {
		for name := range spec.Programs {
			if !keep[name] {
				delete(spec.Programs, name)
			}
		}
	}
	s := &KernelSource{cfg: cfg, pending: make(map[Key][]pendingSample), liveKeys: make(map[Key]struct{}), continued: make(map[Key]cutFlow)}
	if err := loadObjects(spec, &s.objs); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("load eBPF programs: %w: CAP_BPF and CAP_PERFMON (or root) are needed: %v", ErrCapability, err)
		}
		// An older kernel's refusal (a helper unknown to the verifier,
		// a map type it cannot create) names the missing feature.
		if xerr := explainLoadFailure(err, kernelNeeds, kernelRelease()); xerr != nil {
			return nil, xerr
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("eBPF verifier rejected the programs: %w", err)
		}
		if errors.Is(err, unix.ENOMEM) {
			mb := (flowMapBytes(spec.Maps[bpf.FlowhawkMapFlows4]) + flowMapBytes(spec.Maps[bpf.FlowhawkMapFlows])) >> 20
			return nil, fmt.Errorf("load eBPF programs: %w (the flow maps take about %d MB of kernel memory for --max-flows %d and --max-flows-ipv6 %d; lower them)", err, mb, cfg.MaxFlows, cfg.MaxFlows6)
		}
		if errors.Is(err, unix.E2BIG) {
			return nil, fmt.Errorf("load eBPF programs: %w (this kernel refuses flow maps as large as --max-flows %d or --max-flows-ipv6 %d; lower them)", err, cfg.MaxFlows, cfg.MaxFlows6)
		}
		return nil, fmt.Errorf("load eBPF programs: %w", err)
	}
	// The tail calls' targets: the tunnel hand-off's (decap) and TC's
	// second parse after a pull. Every slot a loaded program can reach is
	// filled; without decap the hand-off is dead code the verifier drops.
	var errs []error
	for _, t := range []struct {
		arr  *ebpf.Map
		slot uint32
		prog *ebpf.Program
	}{{s.objs.InnerXdp, 0, s.objs.FlowhawkXdpInner}, {s.objs.InnerTc, 0, s.objs.FlowhawkTcInner},
		{s.objs.TcRepull, 0, s.objs.FlowhawkTcPulled}, {s.objs.TcRepull, 1, s.objs.FlowhawkTcInnerPulled},
		{s.objs.TcRepull, 2, s.objs.FlowhawkTcL3Pulled}} {
		if t.prog != nil {
			errs = append(errs, t.arr.Put(t.slot, t.prog))
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.objs.Close()
		return nil, fmt.Errorf("fill the program arrays: %w", err)
	}
	s.rd, err = ringbuf.NewReader(s.objs.Events)
	if err != nil {
		s.objs.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	s.offset = clockOffset()
	return s, nil
}

// OpenKernel loads the programs and attaches them to every interface in
// cfg.Interfaces; on any error nothing stays attached.
func OpenKernel(cfg KernelConfig) (*KernelSource, error) {
	if len(cfg.Interfaces) == 0 {
		return nil, errors.New("no interface given")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ifaces := make([]*net.Interface, len(cfg.Interfaces))
	for i, name := range cfg.Interfaces {
		ifi, err := interfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("interface %q: no such network interface%s", name, interfaceHint(name))
		}
		for j := range i {
			if ifaces[j].Index == ifi.Index {
				return nil, fmt.Errorf("interfaces %q and %q are the same device, %s", cfg.Interfaces[j], name, ifi.Name)
			}
		}
		ifaces[i] = ifi
	}
	if err := checkStacked(ifaces); err != nil {
		return nil, err
	}
	cfg.defaults()
	if err := checkLinkLayer(cfg, ifaces); err != nil {
		return nil, err
	}
	s, err := loadKernel(cfg, programsFor(cfg, ifaces))
	if err != nil {
		return nil, err
	}
	if ns, err := os.Open("/proc/thread-self/ns/net"); err == nil {
		s.netns = ns
	}
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
		s.nsSock = os.NewFile(uintptr(fd), "netns socket") // bound to this thread's namespace, the interfaces'
	}
	for i, ifi := range ifaces {
		if err := s.attach(ifi, cfg.Interfaces[i]); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// interfaceHint says what there is instead of a missing interface: the
// names this network namespace has (for a typo, or a namespace other than
// the one meant), and for "any" that capture attaches to named devices
// only, unlike tcpdump.
func interfaceHint(name string) string {
	var hint string
	if name == "any" {
		hint = "; capture attaches its programs to named devices, it has no \"any\" like tcpdump: give them as -i eth0,eth1"
	}
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		return hint
	}
	names := make([]string, 0, len(ifs))
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	const most = 16
	more := ""
	if len(names) > most {
		more = fmt.Sprintf(" and %d more (ip -br link)", len(names)-most)
		names = names[:most]
	}
	return fmt.Sprintf("%s (this network namespace has %s%s)", hint, strings.Join(names, ", "), more)
}

// InterfaceByName finds an interface as capture's -i names it: by its
// name or by an alternative name, so that checks made before the capture
// opens (loopback's ingress) see the interface it will attach to.
func InterfaceByName(name string) (*net.Interface, error) { return interfaceByName(name) }

// interfaceByName finds an interface by its name or by one of its
// alternative names (ip link property add ... altname), which
// net.InterfaceByName does not know; the interface keeps its real name,
// for the banner and the warnings.
func interfaceByName(name string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err == nil {
		return ifi, nil
	}
	idx, aerr := linkIndexByAltName(name)
	if aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	return net.InterfaceByIndex(idx)
}

// linkIndexByAltName asks the kernel (RTM_GETLINK with IFLA_ALT_IFNAME,
// which looks up names and altnames alike, up to 127 bytes where an ioctl
// takes 15) for the index of the interface named name.
func linkIndexByAltName(name string) (int, error) {
	const altIfNameSize = 128 // ALTIFNAMSIZ, with the NUL
	if len(name) == 0 || len(name) >= altIfNameSize {
		return 0, unix.ENODEV
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink bind: %w", err)
	}
	attrLen := unix.SizeofRtAttr + len(name) + 1
	msgLen := unix.SizeofNlMsghdr + unix.SizeofIfInfomsg + (attrLen+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)
	b := make([]byte, msgLen)
	*(*unix.NlMsghdr)(unsafe.Pointer(&b[0])) = unix.NlMsghdr{Len: uint32(msgLen), Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST, Seq: 1}
	*(*unix.IfInfomsg)(unsafe.Pointer(&b[unix.SizeofNlMsghdr])) = unix.IfInfomsg{Family: unix.AF_UNSPEC}
	off := unix.SizeofNlMsghdr + unix.SizeofIfInfomsg
	*(*unix.RtAttr)(unsafe.Pointer(&b[off])) = unix.RtAttr{Len: uint16(attrLen), Type: unix.IFLA_ALT_IFNAME}
	copy(b[off+unix.SizeofRtAttr:], name)
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 1<<16)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("netlink receive: %w", err)
	}
	for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
		h := *(*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
		if h.Len < unix.SizeofNlMsghdr || int(h.Len) > len(b) {
			return 0, errors.New("netlink reply: bad message length")
		}
		data := b[unix.SizeofNlMsghdr:h.Len]
		switch {
		case h.Type == unix.NLMSG_ERROR && len(data) >= 4:
			if errno := -*(*int32)(unsafe.Pointer(&data[0])); errno != 0 {
				return 0, unix.Errno(errno)
			}
		case h.Type == unix.RTM_NEWLINK && len(data) >= unix.SizeofIfInfomsg:
			return int((*unix.IfInfomsg)(unsafe.Pointer(&data[0])).Index), nil
		}
		b = b[min((int(h.Len)+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
	}
	return 0, unix.ENODEV
}

// Attachment says how the programs were attached to one interface.
type Attachment struct {
	Iface   string
	Ingress string // "xdp native", "xdp generic", "tcx", "clsact", or "none" (loopback)
	Egress  string // "tcx" or "clsact"
	Why     string // why ingress is not native XDP under --ingress auto, "" otherwise
}

// String is the capture banner's line for the interface, so the operator sees which hooks were used.
func (a Attachment) String() string {
	s := fmt.Sprintf("%s: ingress %s, egress %s", a.Iface, a.Ingress, a.Egress)
	if a.Why != "" {
		s += " (" + a.Why + ")"
	}
	return s
}

// Attachments lists how each interface was attached, in attach order.
func (s *KernelSource) Attachments() []Attachment { return s.attached }

// flowMapBytes is the kernel memory a preallocated hash map of ms's sizes
// takes, as bpftool's memlock counts it: per entry a 48-byte element
// header, the key and the value (each rounded up to 8 bytes), and a
// 16-byte bucket per entry rounded up to a power of two. It follows the
// value's size, which has grown with the programs (the fixed figures it
// replaced were 56 B short per entry by 2026-12-04).
func flowMapBytes(ms *ebpf.MapSpec) int {
	r8 := func(n uint32) int { return (int(n) + 7) &^ 7 }
	n := int(ms.MaxEntries)
	buckets := 1
	for buckets < n {
		buckets <<= 1
	}
	return n*(48+r8(ms.KeySize)+r8(ms.ValueSize)) + buckets*16
}

// loadObjects loads spec, which may lack some of bpf.FlowhawkPrograms'
// programs, into objs: those stay nil.
func loadObjects(spec *ebpf.CollectionSpec, objs *bpf.FlowhawkObjects) error {
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return err
	}
	defer coll.Close() // whatever Assign did not take
	if err := errors.Join(coll.Assign(&objs.FlowhawkMaps), coll.Assign(&objs.FlowhawkVariables)); err != nil {
		objs.Close()
		return err
	}
	progs := reflect.ValueOf(&objs.FlowhawkPrograms).Elem()
	for i := range progs.NumField() {
		if p, ok := coll.Programs[progs.Type().Field(i).Tag.Get("ebpf")]; ok {
			progs.Field(i).Set(reflect.ValueOf(p))
		}
	}
	clear(coll.Programs) // objs owns them now
	return nil
}

// driverOf names the driver of an interface, as ethtool -i does; "" if
// the kernel does not say.
func driverOf(name string) string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	info, err := unix.IoctlGetEthtoolDrvinfo(fd, name)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(info.Driver[:])
}

// attach attaches the programs to ifi, asked for by the name asked.
func (s *KernelSource) attach(ifi *net.Interface, asked string) error {
	n := len(s.links)
	defer func() {
		for _, l := range s.links[n:] {
			l.asked, l.index = asked, ifi.Index
		}
	}()
	at := Attachment{Iface: ifi.Name}
	raw, err := rawIP(ifi)
	if err != nil {
		return err
	}
	egress := s.objs.FlowhawkTc
	if raw {
		// Its packets start at the IP header: the l3 programs on both
		// hooks (no XDP, checkLinkLayer).
		egress = s.objs.FlowhawkTcL3
		if egress == nil {
			// Back as a device of another kind than the capture loaded
			// programs for.
			return fmt.Errorf("interface %s is now a device without a link-layer header; restart the capture to take it", ifi.Name)
		}
		how, err := s.attachTC(s.objs.FlowhawkTcIngressL3, ifi, ebpf.AttachTCXIngress, "ingress")
		if err != nil {
			return err
		}
		at.Ingress, at.Why = how, "no link-layer header: TC on both hooks"
		if err := s.objs.Monitored.Put(uint32(ifi.Index), uint8(1)); err != nil {
			return fmt.Errorf("register %s as monitored: %w", ifi.Name, err)
		}
	} else if egress == nil {
		return fmt.Errorf("interface %s is now a device with a link-layer header; restart the capture to take it", ifi.Name)
	} else if ifi.Flags&net.FlagLoopback != 0 {
		// Loopback receives exactly what it sends: egress alone sees
		// each packet once, ingress as well would count it twice. Not
		// monitored on ingress, so TC egress elsewhere counts what it
		// receives.
		at.Ingress, at.Why = "none", "loopback: egress sees every packet"
	} else {
		if err := s.attachIngress(ifi, &at); err != nil {
			return err
		}
		// Packets counted on the way in: TC egress skips them when the
		// host forwards them.
		if err := s.objs.Monitored.Put(uint32(ifi.Index), uint8(1)); err != nil {
			return fmt.Errorf("register %s as monitored: %w", ifi.Name, err)
		}
	}
	how, err := s.attachTC(egress, ifi, ebpf.AttachTCXEgress, "egress")
	if err != nil {
		return err
	}
	at.Egress = how
	s.attached = append(s.attached, at)
	slog.Debug("attached", "iface", ifi.Name, "ingress", at.Ingress, "egress", at.Egress, "why", at.Why)
	return nil
}

// attachIngress attaches the ingress program cfg.Ingress and the device
// call for, and records which in at.
func (s *KernelSource) attachIngress(ifi *net.Interface, at *Attachment) error {
	xdp := true
	var flags link.XDPAttachFlags
	switch s.cfg.XDPMode {
	case "auto":
	case "native":
		flags = link.XDPDriverMode
	case "generic":
		flags = link.XDPGenericMode
	default:
		return fmt.Errorf("xdp mode %q: want auto, native or generic", s.cfg.XDPMode)
	}
	switch s.cfg.Ingress {
	case "xdp":
	case "tc":
		xdp = false
	case "auto":
		if s.cfg.XDPMode != "auto" {
			break // an explicit XDP mode asks for XDP
		}
		if drv := driverOf(ifi.Name); drv == "veth" {
			xdp, at.Why = false, "veth: XDP would move every packet through its ring"
			break
		}
		flags = link.XDPDriverMode
	default:
		return fmt.Errorf("ingress %q: want auto, xdp or tc", s.cfg.Ingress)
	}
	if xdp {
		xl, mode, err := s.attachXDP(ifi.Index, flags)
		switch {
		case err == nil:
			s.links = append(s.links, &ifaceLink{detacher: xl, iface: ifi.Name})
			at.Ingress = "xdp " + mode
			if driverOf(ifi.Name) == "veth" {
				slog.Warn("XDP on a veth does not see a VLAN tag its peer leaves in the packet's metadata (a VLAN device on the peer with txvlan on, the default): those flows are keyed on VLAN 0 in this direction; --ingress tc reads the tag, or turn it off on the peer (ethtool -K PEER txvlan off)",
					"iface", ifi.Name)
			}
			return nil
		case errors.Is(err, unix.EPERM):
			return fmt.Errorf("attach XDP to %s: %w: CAP_NET_ADMIN is needed: %v", ifi.Name, ErrCapability, err)
		case errors.Is(err, unix.ERANGE) && flags != link.XDPGenericMode && (s.cfg.Ingress != "auto" || s.cfg.XDPMode != "auto"):
			// The driver refuses native XDP for frames larger than a page
			// (veth: for its peer's MTU); the kernel says only ERANGE.
			mtu := fmt.Sprintf("MTU %d", ifi.MTU)
			if driverOf(ifi.Name) == "veth" {
				mtu += ", or its veth peer's"
			}
			return fmt.Errorf("attach XDP (%s mode) to %s: the MTU is too large for native XDP on this device (%s); use --xdp-mode generic, or --ingress tc: %w",
				s.cfg.XDPMode, ifi.Name, mtu, err)
		case errors.Is(err, unix.EBUSY) && (s.cfg.Ingress != "auto" || s.cfg.XDPMode != "auto"):
			// An interface has one XDP slot; the kernel says only EBUSY
			// when another tool's program (or another capture's) holds it.
			return fmt.Errorf("attach XDP (%s mode) to %s: another XDP program is attached to it (ip link show %s, bpftool net); use --ingress tc, which runs beside it, or detach that program: %w",
				s.cfg.XDPMode, ifi.Name, ifi.Name, err)
		case errors.Is(err, unix.EEXIST) && (s.cfg.Ingress != "auto" || s.cfg.XDPMode != "auto"):
			// EEXIST: a program holds the other mode's slot (native
			// against generic), or a device stacked on this one (a bridge
			// or bond it is a port of) has an XDP program; the kernel's
			// own explanation goes to its extack, which the link API
			// drops.
			return fmt.Errorf("attach XDP (%s mode) to %s: an XDP program is attached to it in another mode, or to a device stacked on it (a bridge or bond it is a port of) (ip link show %s, bpftool net); use --ingress tc, which runs beside it, or detach that program: %w",
				s.cfg.XDPMode, ifi.Name, ifi.Name, err)
		case s.cfg.Ingress != "auto" || s.cfg.XDPMode != "auto":
			// XDP, or this XDP mode, was asked for: no fallback.
			return fmt.Errorf("attach XDP (%s mode) to %s: %w", s.cfg.XDPMode, ifi.Name, err)
		}
		// No driver-mode XDP (or the slot is taken): TC ingress sees the
		// same packets for less than generic XDP would cost.
		at.Why = fmt.Sprintf("no native XDP: %v", err)
	}
	how, err := s.attachTC(s.objs.FlowhawkTcIngress, ifi, ebpf.AttachTCXIngress, "ingress")
	if err != nil && s.cfg.Ingress == "auto" && s.objs.FlowhawkXdp != nil {
		// No TCX and no clsact filter either: XDP in whatever mode the
		// kernel can, rather than no ingress at all (not loaded when
		// every interface is veth or loopback: --ingress xdp forces it).
		xl, mode, xerr := s.attachXDP(ifi.Index, 0)
		if xerr != nil {
			return fmt.Errorf("%w; attach XDP to %s: %v", err, ifi.Name, xerr)
		}
		s.links = append(s.links, &ifaceLink{detacher: xl, iface: ifi.Name})
		how, err, at.Why = "xdp "+mode, nil, fmt.Sprintf("%s; %v", at.Why, err)
	}
	if err != nil {
		return err
	}
	at.Ingress = how
	return nil
}

// attachXDP attaches prog to the interface in the mode flags asks for, and
// says which mode it got. With no mode it tries native, then generic when
// the driver has no native XDP (EOPNOTSUPP), which is the kernel's own
// choice made explicit: the kernel would not say which it took, and the
// banner would call generic XDP (which counts a veth's or tap's GSO
// packets whole) plain "xdp". Before generic mode it makes the program
// take each flow's lock (xdp_lock in bpf/headers/config.h), for every
// interface from then on: generic XDP can run one direction of a flow on
// several CPUs at once.
func (s *KernelSource) attachXDP(ifindex int, flags link.XDPAttachFlags) (link.Link, string, error) {
	prog := s.objs.FlowhawkXdp
	if flags == 0 {
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return l, "native", err
		}
		flags = link.XDPGenericMode
	}
	if flags == link.XDPGenericMode {
		if err := s.objs.XdpLock.Set(uint8(1)); err != nil {
			return nil, "generic", fmt.Errorf("make generic XDP lock each flow: %w", err)
		}
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: flags})
	if flags == link.XDPDriverMode {
		return l, "native", err
	}
	return l, "generic", err
}

// rawIP reports whether ifi's packets start at their IP header at the TC
// hooks, with no link-layer header: tun and WireGuard (ARPHRD_NONE), IP
// in IP, SIT and ip6tnl, point-to-point GRE and ip6gre, PPP and raw-IP
// modems (tcpdump's raw IP or cooked capture there). Those get the
// programs' l3 variants, on TC ingress and egress. It refuses any other
// device without an Ethernet header (InfiniBand, CAN, ...), and GRE
// without a remote address (NBMA or multicast), whose header_ops put the
// outer header in front at the hooks. A device it cannot ask about is
// taken for Ethernet.
func rawIP(ifi *net.Interface) (bool, error) {
	l, err := netlink.LinkByIndex(ifi.Index)
	if err != nil {
		return false, nil
	}
	const ( // ARPHRD_ types the netlink package has no name for
		arphrdRawIP  = "unknown519"
		arphrdIP6GRE = "unknown823"
	)
	switch t := l.Attrs().EncapType; t {
	case "ether", "loopback", "":
		return false, nil
	case "none", arphrdRawIP, "ipip", "tunnel6", "sit", "ppp":
		return true, nil
	case "gre", arphrdIP6GRE:
		var remote net.IP // gre and ip6gre decode as Gretun
		if g, ok := l.(*netlink.Gretun); ok {
			remote = g.Remote
		}
		if remote == nil || remote.IsUnspecified() || remote.IsMulticast() {
			return false, fmt.Errorf("interface %s: a GRE device without a single remote address (NBMA or multicast GRE), whose packets carry the outer header at the hooks: capture the device the tunnel's packets cross, with --decap, or replay a capture of it (tcpdump -i %s -w - | flowhawk replay -)", ifi.Name, ifi.Name)
		}
		return true, nil
	default:
		return false, fmt.Errorf("interface %s: link type %s, whose packets start with neither an Ethernet nor an IP header: the kernel programs would count nothing there; capture an Ethernet device the traffic crosses, or replay a capture of it (tcpdump -i %s -w - | flowhawk replay -)", ifi.Name, t, ifi.Name)
	}
}

// checkLinkLayer refuses devices rawIP refuses, and XDP asked for on
// raw-IP devices alone (with others it warns: XDP goes on those). XDP
// sees a raw-IP device's packets without a link-layer header too, but
// only in generic mode, after the socket buffer is built, where TC
// ingress costs less.
func checkLinkLayer(cfg KernelConfig, ifaces []*net.Interface) error {
	var raws []string
	xdpable := 0 // neither raw IP nor loopback, which takes no ingress hook
	for _, ifi := range ifaces {
		raw, err := rawIP(ifi)
		if err != nil {
			return err
		}
		if raw {
			raws = append(raws, ifi.Name)
		} else if ifi.Flags&net.FlagLoopback == 0 {
			xdpable++
		}
	}
	if len(raws) == 0 || (cfg.Ingress != "xdp" && (cfg.Ingress != "auto" || cfg.XDPMode == "auto")) {
		return nil
	}
	if xdpable == 0 {
		// Raw-IP devices, and loopback at most: XDP would go nowhere.
		return fmt.Errorf("interface %s: a device without a link-layer header (tun, WireGuard, IP tunnel, PPP): flowhawk takes its ingress with TC; leave out --ingress xdp and --xdp-mode", strings.Join(raws, ", "))
	}
	slog.Warn("devices without a link-layer header take their ingress with TC; --ingress xdp and --xdp-mode apply to the other interfaces", "interfaces", strings.Join(raws, ","))
	return nil
}

// checkStacked refuses interfaces of which one is stacked on another, at
// any depth (a bridge or bond and its port, a VLAN or macvlan device and
// its parent, as sysfs's upper_* links say): a packet to or from the upper
// device's own addresses passes the hooks of both, and TC egress dedups
// only forwarded packets, so it would be counted twice. Where sysfs does
// not describe these interfaces (not mounted for this network namespace)
// there is nothing to check.
func checkStacked(ifaces []*net.Interface) error {
	byName := make(map[string]int, len(ifaces))
	for i, ifi := range ifaces {
		byName[ifi.Name] = i
	}
	for _, ifi := range ifaces {
		if !sysfsIs(ifi) {
			continue
		}
		seen := map[string]bool{ifi.Name: true}
		queue := []string{ifi.Name}
		for len(queue) > 0 && len(seen) < 64 {
			name := queue[0]
			queue = queue[1:]
			ents, err := os.ReadDir(filepath.Join("/sys/class/net", name))
			if err != nil {
				continue
			}
			for _, e := range ents {
				up, ok := strings.CutPrefix(e.Name(), "upper_")
				if !ok || seen[up] {
					continue
				}
				if j, ok := byName[up]; ok && sysfsIs(ifaces[j]) {
					return fmt.Errorf("interfaces %s and %s: %s is stacked on %s (a bridge or bond and its port, or a VLAN device and its parent): a packet to or from %s's own addresses passes both and would be counted twice; capture %s alone (it sees what %s sends and receives, VLAN tags in the flow key) or %s alone",
						ifi.Name, up, up, ifi.Name, up, ifi.Name, up, up)
				}
				seen[up] = true
				queue = append(queue, up)
			}
		}
	}
	return nil
}

// sysfsIs reports whether /sys/class/net describes ifi itself (the same
// index), not a namesake in another network namespace whose sysfs is
// mounted (nsenter without a remount).
func sysfsIs(ifi *net.Interface) bool {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", ifi.Name, "ifindex"))
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && n == ifi.Index
}

// attachTC attaches a TC program with TCX, or clsact where the kernel has
// no TCX (or cfg.TCAttach asks for it), and says which.
func (s *KernelSource) attachTC(prog *ebpf.Program, ifi *net.Interface, at ebpf.AttachType, dir string) (string, error) {
	var tcxErr error
	if s.cfg.TCAttach != "clsact" {
		l, err := link.AttachTCX(link.TCXOptions{Program: prog, Interface: ifi.Index, Attach: at})
		if err == nil {
			s.links = append(s.links, &ifaceLink{detacher: l, iface: ifi.Name})
			return "tcx", nil
		}
		tcxErr = err
		if errors.Is(err, unix.EPERM) {
			return "", fmt.Errorf("attach TCX %s to %s: %w: CAP_NET_ADMIN is needed: %v", dir, ifi.Name, ErrCapability, err)
		}
		if s.cfg.TCAttach == "tcx" {
			return "", fmt.Errorf("attach TCX %s to %s: %w", dir, ifi.Name, err)
		}
	}
	cl, err := attachClsact(prog, ifi.Name, ifi.Index, dir)
	if err != nil && tcxErr != nil {
		return "", fmt.Errorf("attach TC %s to %s: tcx: %v; clsact: %w", dir, ifi.Name, tcxErr, err)
	}
	if err != nil {
		return "", fmt.Errorf("attach TC %s to %s: %w", dir, ifi.Name, err)
	}
	s.links = append(s.links, &ifaceLink{detacher: cl, iface: ifi.Name})
	return "clsact", nil
}

// Detach removes the programs from every interface. Flows already in the
// map stay there for the final drain.
func (s *KernelSource) Detach() error {
	s.linksMu.Lock()
	defer s.linksMu.Unlock()
	return s.detachLocked()
}

// Abort detaches every program at once and for good, from any goroutine,
// while Run may still be draining or writing: for a user who signals
// again rather than wait for the final flush, so that the process can
// exit without leaving clsact filters behind (bpf links go with the
// process, filters do not).
func (s *KernelSource) Abort() error {
	s.linksMu.Lock()
	defer s.linksMu.Unlock()
	s.aborted = true
	return s.detachLocked()
}

func (s *KernelSource) detachLocked() error {
	var errs []error
	for i := len(s.links) - 1; i >= 0; i-- {
		if err := s.links[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.links = nil
	return errors.Join(errs...)
}

// Close detaches and releases every kernel object.
func (s *KernelSource) Close() error {
	err := s.Detach()
	if s.netns != nil {
		s.netns.Close()
		s.netns = nil
	}
	if s.nsSock != nil {
		s.nsSock.Close()
		s.nsSock = nil
	}
	if s.rd != nil {
		err = errors.Join(err, s.rd.Close())
	}
	return errors.Join(err, s.objs.Close())
}

// clockOffset returns CLOCK_REALTIME - CLOCK_MONOTONIC in ns, the amount
// that turns bpf_ktime_get_ns() into Unix time; the two clocks are read
// back to back and the tightest of a few tries is kept.
func clockOffset() int64 {
	best, bestGap := int64(0), int64(-1)
	for range 5 {
		var m1, r, m2 unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)
		unix.ClockGettime(unix.CLOCK_REALTIME, &r)
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2)
		gap := m2.Nano() - m1.Nano()
		if bestGap < 0 || gap < bestGap {
			best, bestGap = r.Nano()-(m1.Nano()+gap/2), gap
		}
	}
	return best
}

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func (s *KernelSource) wall(mono uint64) int64 { return int64(mono) + s.offset }

// Now is the time of the kernel path's packet clock now (Unix ns), on the
// scale of its packets' and records' times, for a consumer whose clock
// must move on while no packet comes (the detectors' windows).
func (s *KernelSource) Now() int64 { return s.wall(uint64(monoNow())) }

// Stats returns the kernel counters (summed over CPUs) and the source's own.
func (s *KernelSource) Stats() KernelStats {
	var c [kcntMax]uint64
	s.readCounters(&c)
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.Packets, st.NonIP, st.OtherL4 = c[kcntPackets], c[kcntNonIP], c[kcntOtherL4]
	st.Accounted = accounted(&c)
	st.ParseErrors, st.ExtLimit, st.RingbufFull = c[kcntParseError], c[kcntExtLimit], c[kcntRingbufFull]
	st.MapFull, st.MapFull6 = c[kcntMapFull]+c[kcntMapFull6], c[kcntMapFull6]
	st.SampledOut, st.FragNoFirst, st.Fragments = c[kcntSampledOut], c[kcntFragNoFirst], c[kcntFragments]
	st.Forwarded = c[kcntForwarded]
	st.Segmented = c[kcntSegmented]
	st.Decapsulated = c[kcntDecap]
	st.Repulled = c[kcntRepulled]
	return st
}

// readCounters sums the kernel's per-CPU counters.
func (s *KernelSource) readCounters(c *[kcntMax]uint64) {
	var per []uint64
	for i := range c {
		if err := s.objs.Counters.Lookup(uint32(i), &per); err == nil {
			for _, v := range per {
				c[i] += v
			}
		}
	}
}

// accounted derives the packets accounted to flows: the kernel counts
// every packet and each reason not to account one, not the accounted ones
// (one counter update less per packet).
func accounted(c *[kcntMax]uint64) uint64 {
	return c[kcntPackets] - c[kcntNonIP] - c[kcntParseError] - c[kcntExtLimit] - c[kcntMapFull] - c[kcntMapFull6] - c[kcntSampledOut] - c[kcntForwarded]
}

// AfterScan has Run call f, on Run's goroutine, after each scan of the
// flow map: the pipeline hands what it was given to its outputs then
// (Pipeline.Submit), so records leave within a scan interval.
func (s *KernelSource) AfterScan(f func()) { s.afterScan = f }

// RecordLag is how much later than its idle timeout or close grace a flow
// may be emitted, so a consumer waiting for every record that ends before
// a time (toptalkers) waits long enough: the scan that finds the flow
// comes up to a scan interval after its timeout, and a scan may wait
// behind ring-buffer reads, so two intervals.
func (s *KernelSource) RecordLag() time.Duration { return 2 * s.cfg.ScanInterval }

// Run reads the ring buffer and scans the flow map until ctx is done,
// handing every finished flow to onFlow and every ring-buffer packet (the
// first Samples packets of each flow, and DNS packets with their payload
// snippet in Packet.Payload) to onPacket; either may be nil. The Packet
// and its Payload are valid only during the call. When ctx is done Run
// detaches the programs, drains the ring buffer and the whole flow map
// (EndFlush, or FIN/RST for closed flows) and returns nil.
func (s *KernelSource) Run(ctx context.Context, onFlow func(*Flow), onPacket func(*Packet)) error {
	onFlow, onPacket = orNop(onFlow, onPacket)
	nextScan := time.Now().Add(s.cfg.ScanInterval)
	nextReport := time.Now().Add(s.cfg.LossReport)
	var reported KernelStats
	for ctx.Err() == nil {
		if !time.Now().Before(nextReport) {
			reported = s.reportLosses(reported)
			nextReport = time.Now().Add(s.cfg.LossReport)
		}
		wait := min(100*time.Millisecond, time.Until(nextScan))
		if err := s.readEventsUntil(time.Now().Add(wait), onFlow, onPacket); err != nil {
			// The ring buffer is unusable: still hand over what the map holds.
			return errors.Join(err, s.Detach(), s.drainAll(onFlow))
		}
		if !time.Now().Before(nextScan) {
			if err := s.Scan(onFlow); err != nil {
				// A failed scan leaves flows in the map for the next one.
				slog.Warn("kernel flow map scan", "err", err)
			}
			gone := s.checkLinks()
			if s.afterScan != nil {
				s.afterScan()
			}
			if gone != nil {
				// Nothing attached is left: end through the same flush as
				// a stop, with an error so the exit status says so.
				return errors.Join(gone, s.Flush(onFlow, onPacket))
			}
			nextScan = time.Now().Add(s.cfg.ScanInterval)
		}
	}
	return s.Flush(onFlow, onPacket)
}

// Flush detaches the programs, reads what is left in the ring buffer and
// drains every flow from the kernel map.
func (s *KernelSource) Flush(onFlow func(*Flow), onPacket func(*Packet)) error {
	onFlow, onPacket = orNop(onFlow, onPacket)
	derr := s.Detach()
	if err := s.readEvents(time.Now(), onFlow, onPacket); err != nil {
		return errors.Join(derr, err)
	}
	return errors.Join(derr, s.drainAll(onFlow))
}

// reportLosses logs the loss counters that grew since prev and returns
// the current stats, so losses show while capturing, not only at the end.
func (s *KernelSource) reportLosses(prev KernelStats) KernelStats {
	st := s.Stats()
	if st.MapFull > prev.MapFull || st.RingbufFull > prev.RingbufFull || st.ParseErrors > prev.ParseErrors || st.ExtLimit > prev.ExtLimit || st.SamplesLate > prev.SamplesLate {
		slog.Warn("kernel path losses",
			"map_full", st.MapFull-prev.MapFull, "map_full_ipv6", st.MapFull6-prev.MapFull6, "ringbuf_full", st.RingbufFull-prev.RingbufFull,
			"samples_late", st.SamplesLate-prev.SamplesLate,
			"parse_errors", st.ParseErrors-prev.ParseErrors, "ipv6_ext_limit", st.ExtLimit-prev.ExtLimit,
			"evicted", st.Evicted-prev.Evicted, "map_entries", st.MapEntries, "interval", s.cfg.LossReport)
	}
	return st
}

// orNop replaces nil callbacks with ones that do nothing.
func orNop(onFlow func(*Flow), onPacket func(*Packet)) (func(*Flow), func(*Packet)) {
	if onFlow == nil {
		onFlow = func(*Flow) {}
	}
	if onPacket == nil {
		onPacket = func(*Packet) {}
	}
	return onFlow, onPacket
}

// readEvents handles ring-buffer records until the buffer is empty and
// deadline has passed: with a deadline in the past, it drains the buffer.
// Flush uses it once the programs are detached, when nothing refills it.
func (s *KernelSource) readEvents(deadline time.Time, onFlow func(*Flow), onPacket func(*Packet)) error {
	return s.readRing(deadline, false, onFlow, onPacket)
}

// readEventsUntil handles ring-buffer records until deadline, also when
// the buffer never runs empty: the reader's wait honours the deadline, but
// a reader that finds a record waiting reads it, so under a stream of
// records faster than their consumer (a DNS flood, a snippet per packet)
// readEvents did not return while the stream lasted, and Run neither
// scanned the flow map nor reported losses.
func (s *KernelSource) readEventsUntil(deadline time.Time, onFlow func(*Flow), onPacket func(*Packet)) error {
	return s.readRing(deadline, true, onFlow, onPacket)
}

// deadlineCheck is how many records readRing handles between clock reads.
const deadlineCheck = 64

func (s *KernelSource) readRing(deadline time.Time, bounded bool, onFlow func(*Flow), onPacket func(*Packet)) error {
	onFlow, onPacket = orNop(onFlow, onPacket)
	s.rd.SetDeadline(deadline)
	var p Packet
	for n := 1; ; n++ {
		err := s.rd.ReadInto(&s.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ring buffer: %w", err)
		}
		s.handleEvent(s.rec.RawSample, &p, onFlow, onPacket)
		if bounded && n%deadlineCheck == 0 && !time.Now().Before(deadline) {
			return nil
		}
	}
}

const (
	pktEventSize  = int(unsafe.Sizeof(bpf.FlowhawkPktEvent{}))
	dnsEventSize  = int(unsafe.Sizeof(bpf.FlowhawkDnsEvent{}))
	endEventSize  = int(unsafe.Sizeof(bpf.FlowhawkEndEvent{}))
	flowEventSize = int(unsafe.Sizeof(bpf.FlowhawkFlowEvent{}))
)

func (s *KernelSource) handleEvent(raw []byte, p *Packet, onFlow func(*Flow), onPacket func(*Packet)) {
	s.mu.Lock()
	s.stats.Events++
	s.mu.Unlock()
	if len(raw) == 0 {
		s.badEvent()
		return
	}
	switch raw[0] {
	case evSample:
		if len(raw) < pktEventSize {
			s.badEvent()
			return
		}
		ev := *(*bpf.FlowhawkPktEvent)(unsafe.Pointer(&raw[0]))
		key := keyOf(&ev.Key)
		s.packetOf(p, &ev, key)
		p.Payload = nil
		if ev.Flags&pktFPayload != 0 && len(raw) >= dnsEventSize {
			n := min(int(ev.SnapLen), len(raw)-pktEventSize)
			p.Payload = raw[pktEventSize : pktEventSize+n]
		}
		if ev.Flags&pktFSample != 0 {
			s.pending[key] = append(s.pending[key], pendingOf(&ev))
		}
		if n := int(ev.GsoSegs); n > 1 {
			// The detectors see the wire segments, as a capture would.
			w := *p
			for i := range n {
				cutSegment(p, &w, i, n, uint32(ev.GsoSize))
				onPacket(p)
			}
			return
		}
		onPacket(p)
	case evEnd:
		if len(raw) < endEventSize {
			s.badEvent()
			return
		}
		ev := (*bpf.FlowhawkEndEvent)(unsafe.Pointer(&raw[0]))
		s.closing = append(s.closing, closeDue{key: keyOf(&ev.Key), due: int64(ev.Ts) + int64(s.cfg.CloseGrace)})
	case evFlow:
		if len(raw) < flowEventSize {
			s.badEvent()
			return
		}
		ev := (*bpf.FlowhawkFlowEvent)(unsafe.Pointer(&raw[0]))
		key := keyOf(&ev.Key)
		v := ev.Value
		onFlow(s.toFlow(key, &v, closeReason(&v)))
	default:
		s.badEvent()
	}
}

func (s *KernelSource) badEvent() {
	s.mu.Lock()
	s.stats.BadEvents++
	s.mu.Unlock()
}

func keyOf(k *bpf.FlowhawkFlowKey) Key { return *(*Key)(unsafe.Pointer(k)) }

// v4Prefix is the ::ffff:0:0/96 prefix of IPv4-mapped addresses.
var v4Prefix = [12]byte{10: 0xff, 11: 0xff}

// widen4 converts a key of the IPv4 flow map (flows4) to the canonical key.
func widen4(dst *bpf.FlowhawkFlowKey, k *bpf.FlowhawkFlowKey4) {
	copy(dst.AddrLo[:12], v4Prefix[:])
	copy(dst.AddrHi[:12], v4Prefix[:])
	// The addresses are in network byte order in memory, as the
	// canonical key's last four bytes.
	*(*uint32)(unsafe.Pointer(&dst.AddrLo[12])) = k.AddrLo
	*(*uint32)(unsafe.Pointer(&dst.AddrHi[12])) = k.AddrHi
	dst.PortLo, dst.PortHi = k.PortLo, k.PortHi
	dst.VlanOuter, dst.VlanInner = k.VlanOuter, k.VlanInner
	dst.Proto, dst.Tunnel = k.Proto, k.Tunnel
}

// narrow4 gives the flows4 key of a canonical key whose addresses are both
// IPv4-mapped (the programs keep those flows in flows4), ok false otherwise.
func narrow4(k *bpf.FlowhawkFlowKey) (k4 bpf.FlowhawkFlowKey4, ok bool) {
	if [12]byte(k.AddrLo[:12]) != v4Prefix || [12]byte(k.AddrHi[:12]) != v4Prefix {
		return k4, false
	}
	k4.AddrLo = *(*uint32)(unsafe.Pointer(&k.AddrLo[12]))
	k4.AddrHi = *(*uint32)(unsafe.Pointer(&k.AddrHi[12]))
	k4.PortLo, k4.PortHi = k.PortLo, k.PortHi
	k4.VlanOuter, k4.VlanInner = k.VlanOuter, k.VlanInner
	k4.Proto, k4.Tunnel = k.Proto, k.Tunnel
	return k4, true
}

// putFlow stores v under a canonical key unless the key exists.
func (s *KernelSource) putFlow(k *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue) error {
	m, mk := s.objs.Flows, any(k)
	if k4, ok := narrow4(k); ok {
		m, mk = s.objs.Flows4, &k4
	}
	return m.Update(mk, v, ebpf.UpdateNoExist)
}

// lookupFlow reads (del: reads and deletes, atomically) the map entry of a
// canonical key from the map the programs keep it in.
func (s *KernelSource) lookupFlow(k *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue, del bool) error {
	m, mk := s.objs.Flows, any(k)
	if k4, ok := narrow4(k); ok {
		m, mk = s.objs.Flows4, &k4
	}
	if del {
		return m.LookupAndDelete(mk, v)
	}
	return m.Lookup(mk, v)
}

func closeReason(v *bpf.FlowhawkFlowValue) EndReason {
	if v.Flags&flowFRST != 0 {
		return EndRST
	}
	return EndFIN
}

// packetOf fills p from a ring-buffer sample: what Flow.Add reads (as
// packetOfSample fills it from a pending sample), and the rest of the
// event for the detectors.
func (s *KernelSource) packetOf(p *Packet, ev *bpf.FlowhawkPktEvent, key Key) {
	ps := pendingOf(ev)
	s.packetOfSample(p, &ps)
	p.Key = key
	p.WireLen, p.CapLen = ev.WireLen, ev.WireLen
	p.TTL = ev.Ttl
	p.TCPSeq, p.TCPAck = ev.Seq, ev.Ack
	switch {
	case ev.Flags&pktFFragFirst != 0:
		p.Fragment = FirstFragment
	case ev.Flags&pktFFragLater != 0:
		p.Fragment = LaterFragment
	}
}

// Scan looks at every flow in the kernel map and emits those whose close
// grace, idle timeout or active timeout has passed. Expired flows are
// removed with an atomic lookup-and-delete, so no packet counted before
// the delete is lost; a packet after it starts a new record, as in Table.
func (s *KernelSource) Scan(onFlow func(*Flow)) error {
	onFlow, _ = orNop(onFlow, nil)
	now := monoNow()
	grace, idle, active := int64(s.cfg.CloseGrace), int64(s.cfg.IdleTimeout), int64(s.cfg.ActiveTimeout)
	type expired struct {
		key    bpf.FlowhawkFlowKey
		reason EndReason
		due    int64  // when the flow table would have ended it (monotonic ns)
		first  uint64 // the closed entry's first packet, 0: any (the incarnation the walk saw)
	}
	var exp []expired
	type candidate struct {
		key  bpf.FlowhawkFlowKey
		last uint64
	}
	seen := 0
	var c [kcntMax]uint64
	s.readCounters(&c)
	evictIdle := int64(s.cfg.EvictIdle)
	// The IPv6 and the IPv4 map, each with its own size and map-full
	// counter: a map that refused a flow since the previous scan is under
	// pressure, and evicts by its own size.
	for _, fm := range []struct {
		m     *ebpf.Map
		short bool
		size  int
		full  int // kernel counter of flows the map refused
	}{{s.objs.Flows, false, s.cfg.MaxFlows6, kcntMapFull6}, {s.objs.Flows4, true, s.cfg.MaxFlows, kcntMapFull}} {
		nearlyFull := s.mapSeen[fm.full] >= fm.size-fm.size/16
		pressure := (c[fm.full] > s.mapFull[fm.full] || nearlyFull) && s.cfg.EvictIdle > 0
		s.mapFull[fm.full] = c[fm.full]
		var cands []candidate
		n, expired0 := 0, len(exp)
		err := s.iterateMap(fm.m, fm.short, false, func(k *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue) {
			n++
			if len(s.continued) > 0 {
				// The record that goes on with a cut flow is still live.
				if c, ok := s.continued[keyOf(k)]; ok && v.First > c.last {
					c.alive = now
					s.continued[keyOf(k)] = c
				}
			}
			if len(s.pending) > 0 {
				if key := keyOf(k); s.pending[key] != nil {
					s.liveKeys[key] = struct{}{}
				}
			}
			switch {
			case v.Flags&flowFClosed != 0 && now-int64(v.CloseTs) > grace:
				exp = append(exp, expired{*k, closeReason(v), int64(v.CloseTs) + grace, v.First})
			case len(s.continued) > 0 && now-int64(v.Last) > grace && s.finPairAcrossCut(k, v):
				// Closed by its last FIN, whose time the entry does not
				// keep: its grace runs from the last packet (the final
				// ACK, microseconds later).
				exp = append(exp, expired{*k, EndFIN, int64(v.Last) + grace, 0})
			case now-int64(v.Last) > idle:
				exp = append(exp, expired{*k, EndIdle, int64(v.Last) + idle, 0})
			case v.Flags&flowFClosed == 0 && now-int64(v.First) >= active: // a closed flow waits out its grace
				exp = append(exp, expired{*k, EndActive, int64(v.First) + active, 0})
			case pressure && now-int64(v.Last) >= evictIdle:
				cands = append(cands, candidate{*k, v.Last})
			}
		})
		if err != nil {
			clear(s.liveKeys)
			return err
		}
		seen += n
		if !pressure {
			s.mapSeen[fm.full] = n - (len(exp) - expired0) // what stays after this scan
			continue
		}
		// Least recently seen first, up to 1/16 of the map beyond what
		// expired anyway.
		room := max(fm.size/16, 1) - (len(exp) - expired0)
		if room > 0 && len(cands) > 0 {
			slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.last, b.last) })
			for _, cd := range cands[:min(room, len(cands))] {
				exp = append(exp, expired{cd.key, EndEvicted, int64(cd.last), 0})
			}
		}
		s.mapSeen[fm.full] = n - (len(exp) - expired0)
	}
	s.dropLateSamples()
	// FIN/RST ends announced by the kernel whose grace has passed (usually
	// already found above; this catches flows the iteration missed).
	keep := s.closing[:0]
	for _, c := range s.closing {
		if now-c.due <= 0 {
			keep = append(keep, c)
			continue
		}
		exp = append(exp, expired{*(*bpf.FlowhawkFlowKey)(unsafe.Pointer(&c.key)), 0xff, c.due, 0})
	}
	s.closing = keep
	// Emit in the order the flow table would have ended the flows, by when
	// each was due, not in the map's hash order: the NSL-KDD window
	// features of a flow count the flows emitted before it. Scans take
	// the flows due by their start, so the order holds across scans too.
	slices.SortStableFunc(exp, func(a, b expired) int { return cmp.Compare(a.due, b.due) })
	var v bpf.FlowhawkFlowValue
	deleted := 0
	for _, e := range exp {
		if e.reason == 0xff { // from the close queue: check it is still closed
			if err := s.lookupFlow(&e.key, &v, false); err != nil || v.Flags&flowFClosed == 0 || now-int64(v.CloseTs) <= grace {
				continue
			}
			e.reason, e.first = closeReason(&v), v.First
		}
		if err := s.lookupFlow(&e.key, &v, true); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			return fmt.Errorf("lookup-and-delete flow: %w", err)
		}
		if e.first != 0 && v.First != e.first {
			// A SYN reused the closed entry after the walk: the old record
			// went to the ring buffer, and this is a new connection. Put
			// it back; if a packet re-created the key meanwhile, the new
			// connection's start is emitted as a partial record.
			if s.putFlow(&e.key, &v) == nil {
				continue
			}
			e.reason = EndEvicted
		}
		deleted++
		if e.reason == EndEvicted {
			s.mu.Lock()
			s.stats.Evicted++
			s.mu.Unlock()
		}
		onFlow(s.toFlow(keyOf(&e.key), &v, e.reason))
	}
	s.mu.Lock()
	// Entries this scan deleted, not len(exp): the close queue repeats
	// flows the walk already expired, and some of its keys are gone, so
	// seen - len(exp) went negative under SYN/RST churn.
	s.stats.MapEntries = max(seen-deleted, 0)
	s.stats.PendingSamples = 0
	for _, l := range s.pending {
		s.stats.PendingSamples += len(l)
	}
	s.mu.Unlock()
	s.sweepPending(now)
	for k, c := range s.continued {
		if now-max(int64(c.last), c.alive) > idle+grace {
			delete(s.continued, k) // the flow ended; no record goes on with it
		}
	}
	return nil
}

// dropLateSamples drops the pending samples of keys the walk of the flow
// maps just made did not find: their flow's record was emitted before
// they were read (a ring buffer read behind the scans, as a large
// --ring-size lets it fall under a flood), so nothing would take them.
// They are counted in SamplesLate, a loss: that record's first-packet
// columns came from counters. Only the collector deletes flow entries,
// emitting their records as it does, and every sample was read before
// the walk began (samples and scans run on one goroutine), so a key that
// is gone had its record emitted. A key still in the map keeps its
// samples even if they are of an older incarnation: a SYN that reused a
// closed flow's key restarts the entry in place and sends the old record
// through the ring buffer, which may not have been read yet; takeSamples
// counts such leftovers when the key's next record is made. Without this
// the samples waited in pending for sweepPending, past the map's size,
// for idle timeout + grace + a minute: 340,000 keys, unseen, after a 25 s
// flood.
func (s *KernelSource) dropLateSamples() {
	late := 0
	for k, l := range s.pending {
		if _, live := s.liveKeys[k]; !live {
			late += len(l)
			delete(s.pending, k)
		}
	}
	clear(s.liveKeys)
	s.countLate(late)
}

// countLate adds n samples to SamplesLate.
func (s *KernelSource) countLate(n int) {
	if n > 0 {
		s.mu.Lock()
		s.stats.SamplesLate += uint64(n)
		s.mu.Unlock()
	}
}

// sweepPending drops samples whose flow left the map long ago (their
// record was emitted before the samples were read): pending stays bounded
// by the flow map size times Samples.
func (s *KernelSource) sweepPending(now int64) {
	if len(s.pending) <= s.cfg.MaxFlows+s.cfg.MaxFlows6 {
		return
	}
	horizon := now - int64(s.cfg.IdleTimeout) - int64(s.cfg.CloseGrace) - int64(time.Minute)
	for k, l := range s.pending {
		if len(l) == 0 || int64(l[len(l)-1].Ts) < horizon {
			delete(s.pending, k)
		}
	}
}

const batchSize = 4096

// batchBuffers is how many batches iterate keeps in flight: the kernel
// fills one while fn reads another.
const batchBuffers = 3

// mapBatch is one batch of flow map entries and the error that ended it.
type mapBatch struct {
	keys  []bpf.FlowhawkFlowKey
	keys4 []bpf.FlowhawkFlowKey4 // flows4's keys, widened into keys
	vals  []bpf.FlowhawkFlowValue
	n     int
	err   error
}

// iterate calls fn for every entry of the flow maps (flows, then flows4,
// whose keys it widens to canonical keys), with the batch API where the
// kernel has it and the map iterator otherwise. With del, every entry is
// also deleted (BatchLookupAndDelete, or iterate-and-delete).
//
// The batch system calls run on their own goroutine, a batch ahead of fn:
// the kernel's half of a drain (copying and deleting entries) and ours
// (building records) take about as long as each other, so on two cores
// the drain runs at the rate of the slower half instead of their sum.
func (s *KernelSource) iterate(del bool, fn func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue)) error {
	if err := s.iterateMap(s.objs.Flows, false, del, fn); err != nil {
		return err
	}
	return s.iterateMap(s.objs.Flows4, true, del, fn)
}

// iterateMap is iterate for one map; short: m is flows4.
func (s *KernelSource) iterateMap(m *ebpf.Map, short, del bool, fn func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue)) error {
	if s.batches[0] == nil {
		for i := range s.batches {
			s.batches[i] = &mapBatch{
				keys:  make([]bpf.FlowhawkFlowKey, batchSize),
				keys4: make([]bpf.FlowhawkFlowKey4, batchSize),
				vals:  make([]bpf.FlowhawkFlowValue, batchSize),
			}
		}
	}
	free := make(chan *mapBatch, batchBuffers)
	full := make(chan *mapBatch, batchBuffers)
	for _, b := range s.batches {
		free <- b
	}
	go func() {
		// Ends after the batch that carries an error (ErrKeyNotExist at
		// the end of the map); the reader consumes every batch up to it.
		var cursor ebpf.MapBatchCursor
		for b := range free {
			var keys any = b.keys
			if short {
				keys = b.keys4
			}
			if del {
				b.n, b.err = m.BatchLookupAndDelete(&cursor, keys, b.vals, nil)
			} else {
				b.n, b.err = m.BatchLookup(&cursor, keys, b.vals, nil)
			}
			// b is the reader's once sent: after the last batch it may
			// already be the next call's, refilled by that call's
			// goroutine. Reading b.err after the send raced with that
			// write, and where the new batch had no error this goroutine
			// went on waiting on a channel nobody sends to any more.
			last := b.err != nil
			full <- b
			if last {
				return
			}
		}
	}()
	for b := range full {
		for i := range b.n {
			if short {
				widen4(&b.keys[i], &b.keys4[i])
			}
			fn(&b.keys[i], &b.vals[i])
		}
		switch err := b.err; {
		case err == nil:
			free <- b
			continue
		case errors.Is(err, ebpf.ErrKeyNotExist):
			return nil
		case errors.Is(err, ebpf.ErrNotSupported):
			if short {
				return iterateSlow[bpf.FlowhawkFlowKey4](m, del, func(k *bpf.FlowhawkFlowKey4, v *bpf.FlowhawkFlowValue) {
					var wide bpf.FlowhawkFlowKey
					widen4(&wide, k)
					fn(&wide, v)
				})
			}
			return iterateSlow(m, del, fn)
		default:
			return fmt.Errorf("batch lookup of flow map %s: %w", mapName(short), err)
		}
	}
	return nil
}

func mapName(short bool) string {
	if short {
		return bpf.FlowhawkMapFlows4
	}
	return bpf.FlowhawkMapFlows
}

// iterateSlow is iterate for kernels without the batch API.
func iterateSlow[K any](m *ebpf.Map, del bool, fn func(*K, *bpf.FlowhawkFlowValue)) error {
	var k K
	var v bpf.FlowhawkFlowValue
	var keys []K
	it := m.Iterate()
	for it.Next(&k, &v) {
		if !del {
			fn(&k, &v)
			continue
		}
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate flow map: %w", err)
	}
	for i := range keys {
		if err := m.LookupAndDelete(&keys[i], &v); err == nil {
			fn(&keys[i], &v)
		}
	}
	return nil
}

// drainAll removes every flow from the map and emits it (EndFlush, or the
// FIN/RST reason of closed flows), oldest first.
func (s *KernelSource) drainAll(onFlow func(*Flow)) error {
	flows := s.drained[:0]
	err := s.iterate(true, func(k *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue) {
		reason := EndFlush
		if v.Flags&flowFClosed != 0 {
			reason = closeReason(v)
		} else if len(s.continued) > 0 && s.finPairAcrossCut(k, v) {
			reason = EndFIN
		}
		f := s.toFlow(keyOf(k), v, reason)
		flows = append(flows, flowAt{f.Start, len(flows), f})
	})
	sortByStart(flows)
	for i := range flows {
		onFlow(flows[i].f)
	}
	clear(flows) // the records are the consumer's now
	s.drained = flows[:0]
	s.closing = s.closing[:0]
	clear(s.pending)
	if err == nil {
		// Drained: every flow is a record now. The last scan's count
		// stayed, and capture's final --metrics-textfile showed them as
		// active flows too.
		s.mu.Lock()
		s.stats.MapEntries = 0
		s.mu.Unlock()
	}
	return err
}

// Print writes the counters for an operator, loss counters included.
func (s *KernelStats) Print(w io.Writer) {
	// The programs count what they run on: a GSO/GRO buffer once, where
	// the flow records hold its wire segments ("segmented" below).
	fmt.Fprintf(w, "kernel     %d buffers seen, %d accounted (a GSO/GRO buffer counts once here, as its wire packets in the flows), %d flows emitted\n", s.Packets, s.Accounted, s.Flows)
	fmt.Fprintf(w, "not counted: map full %d (IPv6 %d), ring buffer full %d, parse errors %d, ipv6 ext limit %d, non-ip %d, sampled out %d\n",
		s.MapFull, s.MapFull6, s.RingbufFull, s.ParseErrors, s.ExtLimit, s.NonIP, s.SampledOut)
	fmt.Fprintf(w, "evicted    %d flows (map full, least recently seen, emitted as partial records)\n", s.Evicted)
	if s.SamplesLate > 0 {
		fmt.Fprintf(w, "samples    %d read after their flow's record was written, dropped (the ring buffer fell behind: those records' first-packet columns came from counters)\n", s.SamplesLate)
	}
	fmt.Fprintf(w, "fragments  %d (%d without their first fragment); other transports %d; forwarded (counted on ingress) %d; bad events %d\n",
		s.Fragments, s.FragNoFirst, s.OtherL4, s.Forwarded, s.BadEvents)
	fmt.Fprintf(w, "segmented  %d GSO/GRO packets accounted as their wire segments; %d parsed again after pulling deep headers (TC)\n", s.Segmented, s.Repulled)
	if s.Decapsulated > 0 {
		fmt.Fprintf(w, "tunnels    %d packets decapsulated (accounted in their inner flow)\n", s.Decapsulated)
	}
}
