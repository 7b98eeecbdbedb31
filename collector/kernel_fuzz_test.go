//go:build linux

package collector

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/flowhawk/flowhawk/bpf"
)

// FuzzKernelParser runs arbitrary frames through the XDP program: it must
// always pass the packet, and it must account exactly the frames the pcap
// path's decoder takes as IP packets, with the same key, direction and
// lengths.
func FuzzKernelParser(f *testing.F) {
	for _, c := range kernelCases(f) {
		f.Add(c.frame)
	}
	fuzzKernelParity(f, false)
}

// fuzzKernelParity runs the fuzz function shared by FuzzKernelParser and
// FuzzKernelDecap: XDP always passes, the kernel accounts exactly the
// frames the decoder (with the same decap setting) takes as IP packets,
// and those that are not fragments with the same key, direction and
// lengths.
func fuzzKernelParity(f *testing.F, decap bool) {
	s := loadTestKernel(f, KernelConfig{MaxFlows: 4096, Samples: 1 << 20, RingSize: 1 << 20, Decap: decap})
	runs := 0
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 || len(frame) > 3000 {
			// BPF_PROG_TEST_RUN rejects frames shorter than Ethernet, and
			// puts what does not fit in one page (about 3.5 KB with
			// headroom) in XDP fragments, which a program that is not
			// frags-aware never gets on a real device: it would see a
			// shorter frame than the decoder.
			return
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
		d := NewDecoder(DecoderOptions{Decap: decap})
		if r := d.Decode(&p, frame, LinkEthernet, 0, uint32(len(frame))); r != ResultIP {
			if len(kp) > 0 {
				t.Fatalf("kernel accounts %x as %v, the decoder does not (%v, %v)", frame, kp[0].Key, r, d.LastReason)
			}
			return
		}
		if p.Fragment != NotFragment {
			return // the two fragment caches differ in what they have seen
		}
		if len(kp) == 0 {
			t.Fatalf("decoder accounts %x as %v, the kernel does not", frame, p.Key)
		}
		k := kp[len(kp)-1]
		if p.Key != k.Key || p.SrcIsLo != k.SrcIsLo || p.IPLen != k.IPLen || p.IPHeaderLen != k.IPHeaderLen ||
			p.L4HeaderLen != k.L4HeaderLen || p.PayloadLen != k.PayloadLen || p.TCPFlags != k.TCPFlags {
			t.Errorf("kernel and decoder disagree on %x:\n go     %v lo %v len %d/%d/%d/%d\n kernel %v lo %v len %d/%d/%d/%d",
				frame, p.Key, p.SrcIsLo, p.IPLen, p.IPHeaderLen, p.L4HeaderLen, p.PayloadLen,
				k.Key, k.SrcIsLo, k.IPLen, k.IPHeaderLen, k.L4HeaderLen, k.PayloadLen)
		}
	})
}
