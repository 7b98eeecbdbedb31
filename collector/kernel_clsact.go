//go:build linux

package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// clsactLink is a TC program attached the pre-TCX way, for kernels without
// TCX (before 6.6): a direct-action bpf filter on a clsact qdisc, under a
// preference no other filter uses, added through rtnetlink on a socket
// made in the interface's network namespace at attach time (a netlink
// socket stays in the namespace it was made in, so the scans and Close
// need no setns, hence no CAP_SYS_ADMIN). The filter holds the program
// itself: nothing is pinned and no tc(8) runs. Close removes that filter
// and the qdisc if we added it and no filter is left on it. When ingress
// and egress are both attached this way, the ingress link is made first,
// adds the qdisc and is closed last (Detach closes in reverse), so the
// egress filter is gone before the qdisc is checked.
type clsactLink struct {
	iface    string
	dir      string // "ingress" or "egress"
	parent   uint32 // netlink.HANDLE_MIN_INGRESS or HANDLE_MIN_EGRESS
	pref     uint16 // our filter's preference, free when we attached; 0 if we have no filter
	progID   int    // the program's ID, which the kernel reports for our filter
	name     string // our filter's name, flowhawk_PID_N_IFACE_DIR, N unique in the process
	addQdisc bool
	nl       *netlink.Handle // rtnetlink in iface's namespace
	ifindex  int             // iface's index at attach: the device, whatever its name later
	sock     int             // a socket in iface's namespace, to ask the kernel what ifindex names; -1 if none
	gone     bool            // the device went, and our filter (and qdisc) with it
	removed  bool            // gone only because another tool took our filter off the device, which stays
	missing  bool            // the last check found our filter gone from the device still here
}

// clsactHandle is our filter's handle under its preference: a preference
// holds only our filter, so the first handle.
const clsactHandle = 1

// deviceGone reports whether the device the filter was attached to has
// gone: its ifindex no longer exists in its namespace, or now names a
// device that does not hold our filter. A device re-created under the same
// name has a new index, and its filters (perhaps another capture's under
// our preference) are not ours to delete. A device renamed keeps our
// filter: iface follows the new name, for the messages. A device that
// stays but lost our filter (`tc qdisc del dev IFACE clsact` by another
// tool) counts as gone too, so that it is warned about and attached again
// rather than counting nothing without a word.
func (l *clsactLink) deviceGone() bool {
	if l.gone || l.sock < 0 {
		return l.gone
	}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return false
	}
	ifr.SetUint32(uint32(l.ifindex))
	err = unix.IoctlIfreq(l.sock, unix.SIOCGIFNAME, ifr)
	switch {
	case errors.Is(err, unix.ENODEV):
		l.gone = true
		return true
	case err != nil || l.pref == 0:
		return false // cannot tell: take it as there
	}
	held, known := l.holdsFilter()
	switch {
	case !known:
	case held && ifr.Name() != l.iface:
		slog.Info("captured interface renamed", "iface", l.iface, "now", ifr.Name())
		l.iface = ifr.Name()
	case held:
		l.missing = false
	case ifr.Name() != l.iface:
		l.gone = true // the index names another device
	case !l.missing:
		// The filter is gone and the device is still here: taken off by
		// another tool, or the device is on its way to another namespace
		// (its filters can go before it leaves this one's list). The
		// next check tells which: a capture whose only interface moved
		// said another tool had removed its filter.
		l.missing = true
	default:
		l.gone, l.removed = true, true
	}
	return l.gone
}

// dev is the device the filter was attached to, by index, for netlink.
func (l *clsactLink) dev() netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: l.ifindex}}
}

// holdsFilter reports whether our filter is on our hook of the device:
// at our preference and handle, running our program (by its ID, which a
// filter another capture or tool put there would not have) under our
// name (unique to this attach: after a filter was lost, the attach that
// replaces it may take the same preference, with the same program).
// known is false when the kernel could not be asked.
func (l *clsactLink) holdsFilter() (held, known bool) {
	fs, err := l.nl.FilterList(l.dev(), l.parent)
	if err != nil {
		return false, false
	}
	for _, f := range fs {
		if b, ok := f.(*netlink.BpfFilter); ok && l.ours(b) {
			return true, true
		}
	}
	return false, true
}

func (l *clsactLink) ours(b *netlink.BpfFilter) bool {
	return b.Priority == l.pref && b.Handle == clsactHandle && b.Id == l.progID && b.Name == l.name
}

// filterSeq tells apart the filters of several sources in one process.
var filterSeq atomic.Uint64

// clsactPrefBase is where flowhawk's filter preferences start: each
// capture takes one no filter on the hook uses (from base + pid), so two
// captures on one interface, or another tool's filters, are never deleted
// with ours.
const clsactPrefBase = 49152

// freePref returns a filter preference not used on our hook. With warn it
// also warns about the stale flowhawk filters there.
func (l *clsactLink) freePref(warn bool) (uint16, error) {
	fs, err := l.nl.FilterList(l.dev(), l.parent)
	if err != nil {
		return 0, fmt.Errorf("list the %s filters of %s: %w", l.dir, l.iface, err)
	}
	used := map[uint16]bool{}
	for _, f := range fs {
		used[f.Attrs().Priority] = true
	}
	if warn {
		for _, st := range staleFilters(fs, os.Getpid(), processAlive) {
			slog.Warn("a flowhawk filter whose capture is not running in this PID namespace is still attached and runs on every packet; "+
				"a capture killed before it could detach (SIGKILL) leaves it. Remove it with the command given",
				"interface", l.iface, "direction", l.dir, "pref", st.pref, "pid", st.pid,
				"command", fmt.Sprintf("tc filter del dev %s %s pref %d", l.iface, l.dir, st.pref))
		}
	}
	start := os.Getpid() % 16384
	for i := 0; i < 16384; i++ {
		p := uint16(clsactPrefBase + (start+i)%16384)
		if !used[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free tc filter preference on %s %s", l.iface, l.dir)
}

// staleFilter is a flowhawk filter left by a process that is gone.
type staleFilter struct {
	pref uint16
	pid  int
}

// staleFilters finds, among a hook's filters, those flowhawk attached
// (named flowhawk_PID_...; before netlink, tc(8) named them after their
// pin, flowhawk_PID_..._DIR:[*fsobj]) whose process is not alive. A
// capture in another PID namespace looks dead from here, so these are
// warned about, never deleted.
func staleFilters(fs []netlink.Filter, self int, alive func(pid int) bool) []staleFilter {
	var st []staleFilter
	seen := map[uint16]bool{}
	for _, f := range fs {
		b, ok := f.(*netlink.BpfFilter)
		if !ok || seen[b.Priority] {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(b.Name, "flowhawk_%d_", &pid); err != nil || pid == self || alive(pid) {
			continue
		}
		seen[b.Priority] = true
		st = append(st, staleFilter{b.Priority, pid})
	}
	return st
}

// processAlive reports whether pid exists in this PID namespace.
func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// hookEmpty reports whether the hook parent of the device holds no filter
// (a failed dump counts as not empty: the qdisc then stays).
func (l *clsactLink) hookEmpty(parent uint32) bool {
	fs, err := l.nl.FilterList(l.dev(), parent)
	return err == nil && len(fs) == 0
}

// clsactQdisc is the clsact qdisc of the device at ifindex.
func clsactQdisc(ifindex int) *netlink.GenericQdisc {
	return &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Parent: netlink.HANDLE_CLSACT, Handle: netlink.MakeHandle(0xffff, 0)},
		QdiscType:  "clsact",
	}
}

// hasClsact reports whether the device has a clsact qdisc.
func (l *clsactLink) hasClsact() bool {
	qs, err := l.nl.QdiscList(l.dev())
	if err != nil {
		return false
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			return true
		}
	}
	return false
}

// bpffsPrefix starts the name of the private bpffs mount point that
// versions before the netlink attach mounted for their pins, followed by
// the owner's pid and a dash.
const bpffsPrefix = "flowhawk-bpffs-"

var staleBPFFSOnce sync.Once

// removeStaleBPFFS removes the private bpffs directories in tmp that
// captures of earlier versions, killed with SIGKILL, left, once their
// owner process no longer runs. Only empty directories go (rmdir): the
// mount itself ended with the owner's mount namespace, or with its
// process where it had none of its own; a directory still mounted here
// stays.
func removeStaleBPFFS(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, bpffsPrefix+"*-*"))
	for _, d := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), bpffsPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
			continue // running (or not ours to signal: alive)
		}
		if err := unix.Rmdir(d); err == nil {
			slog.Debug("removed the private bpffs directory of a capture that is gone", "dir", d, "pid", pid)
		}
	}
}

// attachClsact attaches prog on dir ("ingress" or "egress") of iface,
// whose index is ifindex, in the calling thread's network namespace.
func attachClsact(prog *ebpf.Program, iface string, ifindex int, dir string) (*clsactLink, error) {
	staleBPFFSOnce.Do(func() { removeStaleBPFFS(os.TempDir()) })
	info, err := prog.Info()
	if err != nil {
		return nil, fmt.Errorf("%s program info: %w", dir, err)
	}
	id, ok := info.ID()
	if !ok {
		return nil, fmt.Errorf("%s program: the kernel reports no program ID", dir)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink socket: %w", err)
	}
	h.SetSocketTimeout(10 * time.Second) // a hung request fails rather than stopping the scans
	l := &clsactLink{iface: iface, dir: dir, parent: netlink.HANDLE_MIN_EGRESS, progID: int(id), nl: h, ifindex: ifindex, sock: -1}
	if dir == "ingress" {
		l.parent = netlink.HANDLE_MIN_INGRESS
	}
	capErr := func(err error) error {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w: CAP_NET_ADMIN: %v", ErrCapability, err)
		}
		return err
	}
	err = h.QdiscAdd(clsactQdisc(ifindex))
	switch {
	case err == nil:
		l.addQdisc = true
	case errors.Is(err, unix.EEXIST):
		// There already (ours for the other direction, or someone else's).
	default:
		l.Close()
		return nil, fmt.Errorf("add a clsact qdisc to %s: %w", iface, capErr(err))
	}
	l.name = fmt.Sprintf("flowhawk_%d_%d_%s_%s", os.Getpid(), filterSeq.Add(1), iface, dir)
	for try := 0; ; try++ {
		pref, err := l.freePref(try == 0)
		if err != nil {
			l.Close()
			return nil, err
		}
		err = h.FilterAdd(&netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{
				LinkIndex: ifindex, Parent: l.parent, Handle: clsactHandle,
				Priority: pref, Protocol: unix.ETH_P_ALL,
			},
			Fd: prog.FD(), Name: l.name, DirectAction: true,
		})
		if errors.Is(err, unix.EEXIST) && try < 3 {
			continue // another capture took that preference since the list
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("add a bpf filter to %s %s pref %d: %w", iface, dir, pref, capErr(err))
		}
		l.pref = pref
		break
	}
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
		l.sock = fd // bound to this thread's namespace, iface's
	}
	return l, nil
}

func (l *clsactLink) Close() error {
	if l.nl == nil {
		return nil
	}
	var errs []string
	// A device that went took the filter and the qdisc with it (its name
	// may be another device's now); one that lost our filter to another
	// tool may still hold the qdisc we added.
	if !l.deviceGone() || l.removed {
		if l.pref != 0 && !l.removed {
			f := &netlink.BpfFilter{FilterAttrs: netlink.FilterAttrs{
				LinkIndex: l.ifindex, Parent: l.parent, Handle: clsactHandle, Priority: l.pref, Protocol: unix.ETH_P_ALL,
			}, Fd: -1} // by preference and handle: that filter alone
			if err := l.nl.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Sprintf("delete the %s filter pref %d of %s: %v", l.dir, l.pref, l.iface, err))
			}
		}
		// The qdisc goes only if we added it and no filter is left on
		// it: another capture (or tool) may have attached since.
		if l.addQdisc && l.hookEmpty(netlink.HANDLE_MIN_INGRESS) && l.hookEmpty(netlink.HANDLE_MIN_EGRESS) && l.hasClsact() {
			if err := l.nl.QdiscDel(clsactQdisc(l.ifindex)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Sprintf("delete the clsact qdisc of %s: %v", l.iface, err))
			}
		}
	}
	l.nl.Close()
	l.nl = nil
	if l.sock >= 0 {
		unix.Close(l.sock)
		l.sock = -1
	}
	if len(errs) > 0 {
		return fmt.Errorf("detach clsact: %s", strings.Join(errs, "; "))
	}
	return nil
}
