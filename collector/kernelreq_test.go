package collector

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// TestExplainLoadFailure checks that a load refused by a kernel without a
// feature names the feature, its release and the kernel's, and keeps the
// loader's error; and that a probe that cannot tell blames nothing.
func TestExplainLoadFailure(t *testing.T) {
	loadErr := errors.New("load program: invalid argument: unknown func bpf_xdp_load_bytes#189")
	needs := []kernelNeed{
		{"ring buffer maps", "5.8", func() error { return nil }},
		{"the bpf_xdp_load_bytes helper", "5.18", func() error { return ebpf.ErrNotSupported }},
		{"something unprobeable", "9.9", func() error { return errors.New("probe: operation not permitted") }},
	}
	err := explainLoadFailure(loadErr, needs, "5.15.0-91-generic")
	if err == nil || !errors.Is(err, loadErr) {
		t.Fatalf("error %v, want one wrapping the load error", err)
	}
	for _, want := range []string{"this kernel (5.15.0-91-generic) lacks the bpf_xdp_load_bytes helper (Linux 5.18)", "needs Linux " + MinKernel + " or later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ring buffer") || strings.Contains(err.Error(), "unprobeable") {
		t.Errorf("error %q blames a feature the kernel has or that could not be probed", err)
	}
	if err := explainLoadFailure(loadErr, needs[:1], "6.1.0"); err != nil {
		t.Errorf("nothing missing: %v, want nil (the loader's own error stands)", err)
	}
}

// TestKernelNeedsHere probes the real kernel: the one the tests run on
// loads the programs, so it must lack nothing, and MinKernel must be the
// newest release the needs name.
func TestKernelNeedsHere(t *testing.T) {
	newest := ""
	for _, n := range kernelNeeds {
		if versionLess(newest, n.release) {
			newest = n.release
		}
	}
	if newest != MinKernel {
		t.Errorf("MinKernel %s, but the newest need is from %s", MinKernel, newest)
	}
	needRoot(t)
	if miss := missingKernelFeatures(kernelNeeds); len(miss) > 0 {
		t.Errorf("this kernel (%s) lacks %v, yet the kernel tests load the programs here", kernelRelease(), miss)
	}
}

// versionLess compares dotted release numbers ("5.8" < "5.18").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for len(pa) < len(pb) {
		pa = append(pa, "0")
	}
	for len(pb) < len(pa) {
		pb = append(pb, "0")
	}
	for i := range pa {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}
