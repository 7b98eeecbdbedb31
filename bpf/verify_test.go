//go:build linux

package bpf

import (
	"errors"
	"os"
	"sort"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
)

// verifyBudget is the most instructions the verifier may process for one
// program on the kernel the tests run on: the limit is 1,000,000, and an
// older kernel's verifier (`make test-kernels` boots Debian 12's 6.1)
// explores more states for the same program.
const verifyBudget = 600_000

// TestVerifyEach loads every program on its own and logs how many
// instructions the verifier processed for it (its limit is 1,000,000 per
// program): a kernel whose verifier prunes less than the development
// kernel's refuses a program that grew too branchy, and this names which.
func TestVerifyEach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF programs needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
	}
	rlimit.RemoveMemlock()
	spec, err := LoadFlowhawk()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := LoadFlowhawk()
			if err != nil {
				t.Fatal(err)
			}
			for n := range s.Programs {
				if n != name {
					delete(s.Programs, n)
				}
			}
			coll, err := ebpf.NewCollectionWithOptions(s, ebpf.CollectionOptions{})
			var ve *ebpf.VerifierError
			if errors.As(err, &ve) {
				l := ve.Log
				if len(l) > 3 {
					l = l[len(l)-3:]
				}
				t.Fatalf("verifier refused %s: %v: %q", name, err, l)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer coll.Close()
			info, err := coll.Programs[name].Info()
			if err != nil {
				t.Fatal(err)
			}
			n, _ := info.VerifiedInstructions()
			t.Logf("%s: %d instructions verified", name, n)
			if n > verifyBudget {
				t.Errorf("%s took %d instructions of the verifier's 1,000,000 here; a kernel that prunes less (6.1 took more than 1,000,000 where 6.18 took 276,000) will refuse it: keep each program under %d",
					name, n, verifyBudget)
			}
		})
	}
}
