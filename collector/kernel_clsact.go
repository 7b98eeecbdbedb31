//go:build linux

package collector

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
)

// clsactLink is the egress program attached the pre-TCX way, for kernels
// without TCX (before 6.6): the program is pinned to bpffs and attached
// with tc(8) as a direct-action filter on a clsact qdisc. Close removes the
// filter, the qdisc if we added it, and the pin.
type clsactLink struct {
	iface    string
	pin      string
	addQdisc bool
}

// clsactPref is the filter preference flowhawk uses, so Close deletes
// exactly its own filter.
const clsactPref = "49207"

func attachClsact(prog *ebpf.Program, iface string) (*clsactLink, error) {
	tc, err := exec.LookPath("tc")
	if err != nil {
		return nil, fmt.Errorf("clsact fallback needs tc(8) from iproute2: %w", err)
	}
	dir := "/sys/fs/bpf"
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("clsact fallback needs bpffs at %s: %w", dir, err)
	}
	l := &clsactLink{iface: iface, pin: filepath.Join(dir, fmt.Sprintf("flowhawk_%d_%s", os.Getpid(), iface))}
	if err := prog.Pin(l.pin); err != nil {
		return nil, fmt.Errorf("pin egress program: %w", err)
	}
	out, err := exec.Command(tc, "qdisc", "add", "dev", iface, "clsact").CombinedOutput()
	switch {
	case err == nil:
		l.addQdisc = true
	case strings.Contains(string(out), "File exists"):
	default:
		prog.Unpin()
		return nil, fmt.Errorf("tc qdisc add dev %s clsact: %v: %s", iface, err, strings.TrimSpace(string(out)))
	}
	out, err = exec.Command(tc, "filter", "add", "dev", iface, "egress", "pref", clsactPref,
		"bpf", "direct-action", "object-pinned", l.pin).CombinedOutput()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("tc filter add dev %s egress: %v: %s", iface, err, strings.TrimSpace(string(out)))
	}
	return l, nil
}

func (l *clsactLink) Close() error {
	var errs []string
	if tc, err := exec.LookPath("tc"); err == nil {
		if l.addQdisc {
			// Deleting the qdisc removes our filter with it.
			if out, err := exec.Command(tc, "qdisc", "del", "dev", l.iface, "clsact").CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
				errs = append(errs, fmt.Sprintf("tc qdisc del dev %s clsact: %v: %s", l.iface, err, strings.TrimSpace(string(out))))
			}
		} else if out, err := exec.Command(tc, "filter", "del", "dev", l.iface, "egress", "pref", clsactPref).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			errs = append(errs, fmt.Sprintf("tc filter del dev %s egress: %v: %s", l.iface, err, strings.TrimSpace(string(out))))
		}
	}
	if err := os.Remove(l.pin); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("detach clsact: %s", strings.Join(errs, "; "))
	}
	return nil
}
