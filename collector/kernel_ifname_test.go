//go:build linux

package collector

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLinkIndexByAltName asks the kernel for lo by name through the
// altname lookup (which takes primary names too) and for names that do not
// exist, short and past IFNAMSIZ; it reads, never changes, an interface.
func TestLinkIndexByAltName(t *testing.T) {
	idx, err := linkIndexByAltName("lo")
	if err != nil || idx != 1 {
		t.Errorf("lo: index %d, err %v; want 1", idx, err)
	}
	for _, name := range []string{"fhnosuch0", "fhnosuch-" + strings.Repeat("x", 40), strings.Repeat("y", 200), ""} {
		if _, err := linkIndexByAltName(name); !errors.Is(err, unix.ENODEV) {
			t.Errorf("%q: %v, want ENODEV", name, err)
		}
	}
}
