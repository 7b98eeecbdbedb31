package collector

import "testing"

// TestFlowPoolGetIsZeroed checks that a record handed back dirty comes out
// of Get as a zero record (the kernel source fills only what it has) with
// its sample capacity kept, and that a record with too little sample room
// is not handed out for a larger need.
func TestFlowPoolGetIsZeroed(t *testing.T) {
	var p FlowPool
	f := p.Get(4)
	if cap(f.Samples) < 4 || len(f.Samples) != 0 {
		t.Fatalf("new record: samples len %d cap %d", len(f.Samples), cap(f.Samples))
	}
	f.ID, f.Fwd.Packets, f.IAT.N, f.EndReason, f.Partial = 7, 3, 2, EndRST, true
	f.Samples = append(f.Samples, Sample{Len: 60})
	p.Put(f)
	for range 100 { // sync.Pool may drop it; then Get builds a new one
		g := p.Get(4)
		if g.ID != 0 || g.Fwd.Packets != 0 || g.IAT.N != 0 || g.EndReason != 0 || g.Partial || len(g.Samples) != 0 {
			t.Fatalf("recycled record not zeroed: %+v", g)
		}
		if cap(g.Samples) < 4 {
			t.Fatalf("sample capacity %d < 4", cap(g.Samples))
		}
		if h := p.Get(64); cap(h.Samples) < 64 {
			t.Fatalf("Get(64) gave sample capacity %d", cap(h.Samples))
		}
		p.Put(g)
	}
	p.Put(nil) // ignored
}
