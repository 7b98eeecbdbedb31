//go:build linux

package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// clsactLink is a TC program attached the pre-TCX way, for kernels without
// TCX (before 6.6): the program is pinned to bpffs and attached with tc(8)
// as a direct-action filter on a clsact qdisc, under a preference no other
// filter uses. Close removes that filter, the qdisc if we added it and no
// filter is left on it, and the pin. When ingress and egress are both
// attached this way, the ingress link is made first, adds the qdisc and is
// closed last (Detach closes in reverse), so the egress filter is gone
// before the qdisc is checked.
type clsactLink struct {
	iface    string
	dir      string // "ingress" or "egress"
	pref     string // our filter's preference, free when we attached
	pin      string
	mount    string // private bpffs mounted for the pin, "" if none
	addQdisc bool
	netns    *os.File // the network namespace of iface, for tc at detach time
	ifindex  int      // iface's index at attach: the device, whatever its name later
	sock     int      // a socket in iface's namespace, to ask the kernel what ifindex names; -1 if none
	gone     bool     // the device went, and our filter (and qdisc) with it
	removed  bool     // gone only because another tool took our filter off the device, which stays
}

// deviceGone reports whether the device the filter was attached to has
// gone: its ifindex no longer exists in its namespace, or now names a
// device that does not hold our filter. A device re-created under the same
// name has a new index, and its filters (perhaps another capture's under
// our preference) are not ours to delete. A device renamed keeps our
// filter: iface follows the new name, for tc at detach time. A device
// that stays but lost our filter (`tc qdisc del dev IFACE clsact` by
// another tool) counts as gone too, so that it is warned about and
// attached again rather than counting nothing without a word.
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
	case err != nil:
		// Cannot tell: take it as there.
	case ifr.Name() != l.iface:
		if held, _ := l.holdsFilter(ifr.Name()); held {
			slog.Info("captured interface renamed", "iface", l.iface, "now", ifr.Name())
			l.iface = ifr.Name()
		} else {
			l.gone = true
		}
	case l.pref != "":
		if held, known := l.holdsFilter(l.iface); known && !held {
			l.gone, l.removed = true, true
		}
	}
	return l.gone
}

// holdsFilter reports whether our filter is on dir of the device named
// name, in iface's namespace; known is false when tc could not tell.
func (l *clsactLink) holdsFilter(name string) (held, known bool) {
	tc, err := exec.LookPath("tc")
	if err != nil || l.pref == "" {
		return false, false
	}
	var out []byte
	show := func() {
		out, err = exec.Command(tc, "filter", "show", "dev", name, l.dir, "pref", l.pref).CombinedOutput()
	}
	if l.netns != nil {
		if nerr := inNetns(l.netns, show); nerr != nil {
			return false, false
		}
	} else {
		show()
	}
	if err != nil {
		return false, false
	}
	return strings.Contains(string(out), filepath.Base(l.pin)), true
}

// inNetns runs fn on a thread in the network namespace ns (the caller's
// goroutine may have moved to a thread of another namespace since attach).
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

func isBPFFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.BPF_FS_MAGIC
}

func (l *clsactLink) unmount() {
	if l.mount != "" {
		unix.Unmount(l.mount, unix.MNT_DETACH)
		os.Remove(l.mount)
		l.mount = ""
	}
}

// pinSeq tells apart the pins of several sources in one process.
var pinSeq atomic.Uint64

// clsactPrefBase is where flowhawk's filter preferences start: each
// capture takes one no filter on the hook uses (from base + pid), so two
// captures on one interface, or another tool's filters, are never deleted
// with ours.
const clsactPrefBase = 49152

// freePref returns a filter preference not used on dir of iface.
func freePref(tc, iface, dir string) (string, error) {
	out, err := exec.Command(tc, "filter", "show", "dev", iface, dir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tc filter show dev %s %s: %v: %s", iface, dir, err, strings.TrimSpace(string(out)))
	}
	used := map[string]bool{}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "pref" {
			used[f[i+1]] = true
		}
	}
	for _, st := range staleFilters(string(out), os.Getpid(), processAlive) {
		slog.Warn("a flowhawk filter whose capture is not running in this PID namespace is still attached and runs on every packet; "+
			"a capture killed before it could detach (SIGKILL) leaves it. Remove it with the command given",
			"interface", iface, "direction", dir, "pref", st.pref, "pid", st.pid,
			"command", fmt.Sprintf("tc filter del dev %s %s pref %s", iface, dir, st.pref))
	}
	start := os.Getpid() % 16384
	for i := 0; i < 16384; i++ {
		p := fmt.Sprint(clsactPrefBase + (start+i)%16384)
		if !used[p] {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free tc filter preference on %s %s", iface, dir)
}

// staleFilter is a flowhawk filter left by a process that is gone.
type staleFilter struct {
	pref string
	pid  int
}

// staleFilters finds, in `tc filter show` output, the filters flowhawk
// attached (their pin is named flowhawk_PID_...) whose process is not
// alive. A capture in another PID namespace looks dead from here, so
// these are warned about, never deleted.
func staleFilters(out string, self int, alive func(pid int) bool) []staleFilter {
	var st []staleFilter
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		var pref, pin string
		for i, w := range f {
			if w == "pref" && i+1 < len(f) {
				pref = f[i+1]
			}
			if pin == "" && strings.HasPrefix(w, "flowhawk_") { // the pin, before the program name
				pin = w
			}
		}
		var pid int
		if pref == "" || pin == "" || seen[pref] {
			continue
		}
		if _, err := fmt.Sscanf(pin, "flowhawk_%d_", &pid); err != nil || pid == self || alive(pid) {
			continue
		}
		seen[pref] = true
		st = append(st, staleFilter{pref, pid})
	}
	return st
}

// processAlive reports whether pid exists in this PID namespace.
func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// hookEmpty reports whether dir of iface holds no filter (tc failing
// counts as not empty: the qdisc then stays).
func hookEmpty(tc, iface, dir string) bool {
	out, err := exec.Command(tc, "filter", "show", "dev", iface, dir).CombinedOutput()
	return err == nil && strings.TrimSpace(string(out)) == ""
}

// bpffsPrefix starts the name of a private bpffs mount point, followed by
// the owner's pid and a dash: a capture killed with SIGKILL cannot remove
// its directory, so the next one that mounts one removes those whose
// owner is gone.
const bpffsPrefix = "flowhawk-bpffs-"

// removeStaleBPFFS removes the private bpffs directories in tmp whose
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

// sysBPFFS is where a host mounts its bpffs (systemd: mode 0700, root's).
const sysBPFFS = "/sys/fs/bpf"

// pinIn pins prog for tc(8) to find: in the bpffs at fsDir when there is
// one this user may write to, else in a private bpffs mounted for this
// link (which needs CAP_SYS_ADMIN) and removed on Close. A service user
// without CAP_DAC_OVERRIDE cannot write to systemd's /sys/fs/bpf, so the
// private mount is also the way out when it exists: granting CAP_SYS_ADMIN
// is then enough, as deploy/flowhawk.service says for kernels before 6.6.
func (l *clsactLink) pinIn(prog *ebpf.Program, fsDir string) error {
	name := fmt.Sprintf("flowhawk_%d_%d_%s_%s", os.Getpid(), pinSeq.Add(1), l.iface, l.dir)
	var sysErr error
	if isBPFFS(fsDir) {
		l.pin = filepath.Join(fsDir, name)
		err := prog.Pin(l.pin)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("pin %s program: %w", l.dir, err)
		}
		sysErr = fmt.Errorf("%s is not writable by uid %d: %v", fsDir, os.Geteuid(), err)
	} else {
		sysErr = fmt.Errorf("no bpffs at %s", fsDir)
	}
	removeStaleBPFFS(os.TempDir())
	tmp, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", bpffsPrefix, os.Getpid()))
	if err != nil {
		return fmt.Errorf("clsact fallback: %v; %w", sysErr, err)
	}
	if err := unix.Mount("bpf", tmp, "bpf", 0, "mode=0700"); err != nil {
		os.Remove(tmp)
		if errors.Is(err, unix.EPERM) {
			err = fmt.Errorf("%w: CAP_SYS_ADMIN: %v", ErrCapability, err)
		}
		return fmt.Errorf("clsact fallback pins its programs in bpffs: %v, and mounting a private one at %s failed: %w "+
			"(mount a bpffs at %s that this user can write to, grant CAP_SYS_ADMIN, or use TCX: kernel 6.6 and later)", sysErr, tmp, err, fsDir)
	}
	l.mount = tmp
	l.pin = filepath.Join(tmp, name)
	if err := prog.Pin(l.pin); err != nil {
		l.unmount()
		return fmt.Errorf("pin %s program: %w", l.dir, err)
	}
	return nil
}

// attachClsact attaches prog on dir ("ingress" or "egress") of iface,
// whose index is ifindex.
func attachClsact(prog *ebpf.Program, iface string, ifindex int, dir string) (*clsactLink, error) {
	tc, err := exec.LookPath("tc")
	if err != nil {
		return nil, fmt.Errorf("clsact fallback needs tc(8) from iproute2: %w", err)
	}
	l := &clsactLink{iface: iface, dir: dir, ifindex: ifindex, sock: -1}
	// Pin a clone: a Program remembers one pin and pinning it again moves
	// that pin, which fails across the private mounts of two interfaces
	// (and would take the first interface's pin away on one mount).
	clone, err := prog.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone %s program: %w", dir, err)
	}
	defer clone.Close() // the pin and then tc's filter hold the program
	if err := l.pinIn(clone, sysBPFFS); err != nil {
		return nil, err
	}
	if ns, err := os.Open("/proc/thread-self/ns/net"); err == nil {
		l.netns = ns
	}
	out, err := exec.Command(tc, "qdisc", "add", "dev", iface, "clsact").CombinedOutput()
	switch {
	case err == nil:
		l.addQdisc = true
	case strings.Contains(string(out), "File exists"), strings.Contains(string(out), "Exclusivity flag on"):
		// There already (ours for the other direction, or someone else's).
	default:
		clone.Unpin()
		l.unmount()
		return nil, fmt.Errorf("tc qdisc add dev %s clsact: %v: %s", iface, err, strings.TrimSpace(string(out)))
	}
	if l.pref, err = freePref(tc, iface, dir); err != nil {
		l.Close()
		return nil, err
	}
	out, err = exec.Command(tc, "filter", "add", "dev", iface, dir, "pref", l.pref,
		"bpf", "direct-action", "object-pinned", l.pin).CombinedOutput()
	if err != nil {
		l.pref = "" // nothing of ours to delete
		l.Close()
		return nil, fmt.Errorf("tc filter add dev %s %s: %v: %s", iface, dir, err, strings.TrimSpace(string(out)))
	}
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
		l.sock = fd // bound to this thread's namespace, iface's
	}
	return l, nil
}

func (l *clsactLink) Close() error {
	var errs []string
	detach := func() {
		tc, err := exec.LookPath("tc")
		if err != nil {
			return
		}
		gone := func(out []byte) bool {
			return strings.Contains(string(out), "Cannot find device") || strings.Contains(string(out), "Parent Qdisc doesn't exists") ||
				strings.Contains(string(out), "Filter with specified priority/protocol not found")
		}
		if l.deviceGone() {
			return // the filter and the qdisc went with the device; the name may be another device's now
		}
		if l.pref != "" {
			if out, err := exec.Command(tc, "filter", "del", "dev", l.iface, l.dir, "pref", l.pref).CombinedOutput(); err != nil && !gone(out) {
				errs = append(errs, fmt.Sprintf("tc filter del dev %s %s pref %s: %v: %s", l.iface, l.dir, l.pref, err, strings.TrimSpace(string(out))))
			}
		}
		// The qdisc goes only if we added it and no filter is left on
		// it: another capture (or tool) may have attached since.
		if l.addQdisc && hookEmpty(tc, l.iface, "ingress") && hookEmpty(tc, l.iface, "egress") {
			if out, err := exec.Command(tc, "qdisc", "del", "dev", l.iface, "clsact").CombinedOutput(); err != nil && !gone(out) {
				errs = append(errs, fmt.Sprintf("tc qdisc del dev %s clsact: %v: %s", l.iface, err, strings.TrimSpace(string(out))))
			}
		}
	}
	if l.netns != nil {
		if err := inNetns(l.netns, detach); err != nil {
			errs = append(errs, err.Error())
		}
		l.netns.Close()
		l.netns = nil
	} else {
		detach()
	}
	if err := os.Remove(l.pin); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err.Error())
	}
	l.unmount()
	if l.sock >= 0 {
		unix.Close(l.sock)
		l.sock = -1
	}
	if len(errs) > 0 {
		return fmt.Errorf("detach clsact: %s", strings.Join(errs, "; "))
	}
	return nil
}
