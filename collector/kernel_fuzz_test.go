//go:build linux

package collector

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/flowhawk/flowhawk/bpf"
)

// FuzzKernelParser runs arbitrary frames through the XDP program: it must
// always pass the packet, and when both the kernel parser and the pcap
// path's decoder take a frame as an IP packet they must agree on its key,
// direction and lengths.
func FuzzKernelParser(f *testing.F) {
	for _, c := range kernelCases(f) {
		f.Add(c.frame)
	}
	s := loadTestKernel(f, KernelConfig{MaxFlows: 4096, Samples: 1 << 20, RingSize: 1 << 20})
	runs := 0
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 {
			return // BPF_PROG_TEST_RUN rejects frames shorter than Ethernet
		}
		runs++
		if runs%1000 == 0 {
			s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
		}
		ret, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: frame})
		if err != nil {
			t.Fatalf("prog run: %v", err)
		}
		if ret != 2 {
			t.Fatalf("verdict %d, want XDP_PASS", ret)
		}
		var kp []Packet
		s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) { kp = append(kp, *p) })
		var p Packet
		if NewDecoder(DecoderOptions{}).Decode(&p, frame, 1, 0, uint32(len(frame))) != ResultIP || len(kp) == 0 {
			return
		}
		k := kp[len(kp)-1]
		if p.Fragment != NotFragment {
			return // the two fragment caches differ in what they have seen
		}
		if p.Key != k.Key || p.SrcIsLo != k.SrcIsLo || p.IPLen != k.IPLen || p.IPHeaderLen != k.IPHeaderLen ||
			p.L4HeaderLen != k.L4HeaderLen || p.PayloadLen != k.PayloadLen || p.TCPFlags != k.TCPFlags {
			t.Errorf("kernel and decoder disagree on %x:\n go     %v lo %v len %d/%d/%d/%d\n kernel %v lo %v len %d/%d/%d/%d",
				frame, p.Key, p.SrcIsLo, p.IPLen, p.IPHeaderLen, p.L4HeaderLen, p.PayloadLen,
				k.Key, k.SrcIsLo, k.IPLen, k.IPHeaderLen, k.L4HeaderLen, k.PayloadLen)
		}
	})
}
