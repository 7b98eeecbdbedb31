//go:build linux

package collector

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestKernelConfigRanges checks that sizes the kernel holds in 32 bits are
// refused, naming the field and value, before anything loads: they were
// truncated in silence (SampleRate 2^32+1 sampled every packet while the
// records were scaled by 2^32+1; MaxFlows 2^32+1 made maps of one entry;
// MaxFlows6 2^32 failed as "MaxEntries may be incorrectly set to zero"),
// and a negative RingSize became 4 MiB.
func TestKernelConfigRanges(t *testing.T) {
	page := os.Getpagesize()
	for _, c := range []struct {
		cfg  KernelConfig
		want string
	}{
		{KernelConfig{SampleRate: 1<<32 + 1}, "SampleRate 4294967297 out of range 0..4294967295"},
		{KernelConfig{SampleRate: -1}, "SampleRate -1"},
		{KernelConfig{MaxFlows: 1<<32 + 1}, "MaxFlows 4294967297 out of range 0..134217728"},
		{KernelConfig{MaxFlows: MaxKernelFlows + 1}, "MaxFlows 134217729"},
		{KernelConfig{MaxFlows: -5}, "MaxFlows -5"},
		{KernelConfig{MaxFlows6: 1 << 32}, "MaxFlows6 4294967296"},
		{KernelConfig{Samples: 1 << 32}, "Samples 4294967296"},
		{KernelConfig{RingSize: 1<<32 + 4096}, "RingSize 4294971392: want a power of two from"},
		{KernelConfig{RingSize: -1}, "RingSize -1"},
		{KernelConfig{RingSize: 3 * page}, "RingSize " + strconv.Itoa(3*page)},
		{KernelConfig{RingSize: page / 2}, "RingSize " + strconv.Itoa(page/2)},
		{KernelConfig{RingSize: 1 << 32}, "RingSize 4294967296"},
	} {
		_, err := LoadKernel(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadKernel(%+v): %v, want an error with %q", c.cfg, err, c.want)
		}
		// OpenKernel refuses before it looks the interface up.
		c.cfg.Interfaces = []string{"fhnosuch0"}
		if _, err := OpenKernel(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenKernel(%+v): %v, want an error with %q", c.cfg, err, c.want)
		}
	}
	for _, cfg := range []KernelConfig{
		{},
		{MaxFlows: MaxKernelFlows, MaxFlows6: 1, Samples: MaxKernelSamples, SampleRate: MaxSampleRate, RingSize: MaxRingSize},
		{SampleRate: 1, RingSize: page},
	} {
		if err := cfg.validate(); err != nil {
			t.Errorf("validate(%+v): %v", cfg, err)
		}
	}
}
