//go:build linux

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// testNet is a client namespace and a server namespace joined by a veth
// pair: Client (10.199.N.1) in ClientNS, Server (10.199.N.2) in ServerNS.
type testNet struct {
	ClientNS, ServerNS string
	ClientIf, ServerIf string
	ClientIP, ServerIP string
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("end-to-end tests create network namespaces and load eBPF programs: run as root")
	}
	for _, tool := range []string{"ip", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("end-to-end tests need %s: %v", tool, err)
		}
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNet creates the namespaces and the veth pair with names unique to
// this run; they are deleted when the test ends, pass or fail. IPv6 is
// off so no neighbour discovery traffic mixes with the test's own.
func newNet(t testing.TB) *testNet {
	t.Helper()
	needRoot(t)
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:3])
	n := &testNet{
		ClientNS: "fhc-" + id, ServerNS: "fhs-" + id,
		ClientIf: "fha" + id, ServerIf: "fhb" + id,
	}
	sub := 1 + int(b[3])%250
	n.ClientIP, n.ServerIP = fmt.Sprintf("10.199.%d.1", sub), fmt.Sprintf("10.199.%d.2", sub)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.ClientNS).Run()
		exec.Command("ip", "netns", "del", n.ServerNS).Run()
	})
	run(t, "ip", "netns", "add", n.ClientNS)
	run(t, "ip", "netns", "add", n.ServerNS)
	run(t, "ip", "link", "add", n.ClientIf, "netns", n.ClientNS, "type", "veth", "peer", "name", n.ServerIf, "netns", n.ServerNS)
	for _, s := range []struct{ ns, ifc, ip string }{{n.ClientNS, n.ClientIf, n.ClientIP}, {n.ServerNS, n.ServerIf, n.ServerIP}} {
		run(t, "ip", "netns", "exec", s.ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		run(t, "ip", "-n", s.ns, "addr", "add", s.ip+"/24", "dev", s.ifc)
		run(t, "ip", "-n", s.ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", s.ns, "link", "set", s.ifc, "up")
	}
	// GRO would merge received segments before tcpdump sees them while
	// XDP sees each one; turn it (and segmentation offloads) off so both
	// observers see the same packets.
	if _, err := exec.LookPath("ethtool"); err == nil {
		for _, s := range []struct{ ns, ifc string }{{n.ClientNS, n.ClientIf}, {n.ServerNS, n.ServerIf}} {
			exec.Command("ip", "netns", "exec", s.ns, "ethtool", "-K", s.ifc, "gro", "off", "tso", "off", "gso", "off").Run()
		}
	}
	return n
}

// inNetns runs fn on an OS thread switched into the named namespace
// (sockets and attachments made by fn belong to it); the thread is
// switched back afterwards, or discarded if that fails.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("restore netns: %w", err) // thread stays locked and exits with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// nsCmd is a command run inside a namespace.
func nsCmd(ctx context.Context, ns string, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// tcpdump records iface in ns to a file until stop is called; stop
// returns the file and tcpdump's drop report.
type tcpdump struct {
	cmd      *exec.Cmd
	path     string
	stderr   syncbuf.Buffer
	readDone chan struct{} // closed when tcpdump's stderr is at EOF
}

func startTcpdump(t *testing.T, ns, iface string) *tcpdump {
	t.Helper()
	td := &tcpdump{path: t.TempDir() + "/capture.pcap", readDone: make(chan struct{})}
	td.cmd = exec.Command("ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-w", td.path, "-U", "-n", "-s", "0", "--immediate-mode")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	td.cmd.Stderr = pw
	if err := td.cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	pw.Close()
	t.Cleanup(func() {
		if td.cmd.ProcessState == nil {
			td.cmd.Process.Kill()
			td.cmd.Wait()
		}
	})
	ready := make(chan struct{})
	go func() {
		defer close(td.readDone)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			td.stderr.Write([]byte(sc.Text() + "\n"))
			if !signalled && strings.Contains(sc.Text(), "listening on") {
				close(ready)
				signalled = true
			}
		}
		if !signalled {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump did not start: %s", td.stderr.String())
	}
	return td
}

var dropRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

func (td *tcpdump) stop(t *testing.T) string {
	t.Helper()
	td.cmd.Process.Signal(os.Interrupt)
	td.cmd.Wait()
	select { // the drop report is the last thing tcpdump writes
	case <-td.readDone:
	case <-time.After(5 * time.Second):
	}
	if m := dropRE.FindStringSubmatch(td.stderr.String()); m != nil && m[1] != "0" {
		t.Fatalf("tcpdump dropped packets: %s", td.stderr.String())
	}
	return td.path
}

// ifIndex returns the index of an interface of the calling thread's
// namespace (netlink follows the thread; /sys/class/net does not).
func ifIndex(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

var (
	tcxOnce sync.Once
	tcxOK   bool
)

// haveTCX reports whether this kernel has TCX (Linux 6.6): before it the
// TC programs attach as clsact filters, which --tc-attach auto then picks
// (make test-kernels runs the tests on Debian 12's 6.1).
func haveTCX() bool {
	tcxOnce.Do(func() {
		_, err := link.QueryPrograms(link.QueryOptions{Target: 1, Attach: ebpf.AttachTCXIngress}) // lo
		tcxOK = err == nil
	})
	return tcxOK
}

// tcHook is how --tc-attach auto attaches the TC programs on this
// kernel, as the capture banner says it: "tcx" or "clsact".
func tcHook() string {
	if haveTCX() {
		return "tcx"
	}
	return "clsact"
}

// tcPrograms names the TC programs attached to iface of ns, in direction
// dir ("ingress" or "egress"): with TCX (bpftool before 7.3 does not list
// it, so this asks the kernel), or as clsact bpf filters on a kernel
// without TCX.
func tcPrograms(tb testing.TB, ns, iface, dir string) []string {
	tb.Helper()
	if !haveTCX() {
		return clsactPrograms(tb, ns, iface, dir)
	}
	at := ebpf.AttachTCXIngress
	if dir == "egress" {
		at = ebpf.AttachTCXEgress
	}
	var names []string
	err := inNetns(ns, func() error {
		idx, err := ifIndex(iface)
		if err != nil {
			return err
		}
		res, err := link.QueryPrograms(link.QueryOptions{Target: idx, Attach: at})
		if err != nil {
			return err
		}
		for _, p := range res.Programs {
			prog, err := ebpf.NewProgramFromID(p.ID)
			if err != nil {
				return err
			}
			info, err := prog.Info()
			prog.Close()
			if err != nil {
				return err
			}
			names = append(names, info.Name)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("query TCX %s programs of %s: %v", dir, iface, err)
	}
	return names
}

// clsactPrograms names the programs of the bpf filters on dir of iface in
// ns, as tc(8) shows them ("name flowhawk_tc_ingr": the kernel keeps 15
// bytes of a program's name).
func clsactPrograms(tb testing.TB, ns, iface, dir string) []string {
	tb.Helper()
	out, err := exec.Command("tc", "-n", ns, "filter", "show", "dev", iface, dir).CombinedOutput()
	if err != nil {
		tb.Fatalf("tc filter show dev %s %s: %v: %s", iface, dir, err, out)
	}
	var names []string
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "name" {
			names = append(names, f[i+1])
		}
	}
	return names
}
