package collector

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// MinKernel is the oldest upstream Linux release with every eBPF feature
// the programs use (bpf_xdp_load_bytes came last); distribution kernels
// that backport them work too, which is why a failed load probes the
// features rather than comparing versions.
const MinKernel = "5.18"

// kernelNeed is one eBPF feature the programs use and the upstream release
// that added it: a load that fails on a kernel without it is explained by
// name, not by the verifier's log of the first instruction it refused.
type kernelNeed struct {
	what    string
	release string
	probe   func() error
}

// kernelNeeds are the features a load probes after it failed, oldest
// first (the TCX link, 6.6, is not needed: the clsact fallback takes its
// place).
var kernelNeeds = []kernelNeed{
	{"the bpf_spin_lock helper in TC programs", "5.1", func() error { return features.HaveProgramHelper(ebpf.SchedCLS, asm.FnSpinLock) }},
	{"programs of up to 1M instructions", "5.2", features.HaveLargeInstructions},
	{"bounded loops", "5.3", features.HaveBoundedLoops},
	{"ring buffer maps", "5.8", func() error { return features.HaveMapType(ebpf.RingBuf) }},
	{"the bpf_ringbuf_query helper in XDP programs", "5.8", func() error { return features.HaveProgramHelper(ebpf.XDP, asm.FnRingbufQuery) }},
	{"the bpf_xdp_load_bytes helper", "5.18", func() error { return features.HaveProgramHelper(ebpf.XDP, asm.FnXdpLoadBytes) }},
}

// missingKernelFeatures names what needs this kernel lacks; a probe that
// cannot tell (any error but ebpf.ErrNotSupported) counts as present, so
// that only a known lack is blamed.
func missingKernelFeatures(needs []kernelNeed) []string {
	var miss []string
	for _, n := range needs {
		if err := n.probe(); errors.Is(err, ebpf.ErrNotSupported) {
			miss = append(miss, fmt.Sprintf("%s (Linux %s)", n.what, n.release))
		}
	}
	return miss
}

// explainLoadFailure wraps err, a failed load, with the features this
// kernel lacks, if any; otherwise it returns nil.
func explainLoadFailure(err error, needs []kernelNeed, release string) error {
	miss := missingKernelFeatures(needs)
	if len(miss) == 0 {
		return nil
	}
	return fmt.Errorf("load eBPF programs: this kernel (%s) lacks %s; flowhawk capture needs Linux %s or later, "+
		"or a distribution kernel that backports these (replay works on any kernel): %w",
		release, strings.Join(miss, ", "), MinKernel, err)
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown release"
	}
	return unix.ByteSliceToString(u.Release[:])
}
