package collector

import "sync"

// FlowPool passes flow records back from the outputs to the source that
// builds them, so a steady stream of flows reuses a few thousand records
// instead of allocating (and zeroing, and collecting) one per flow. It is
// safe for concurrent use; the zero value is ready.
type FlowPool struct{ p sync.Pool }

// Get returns a zeroed record with room for samples first-packet samples.
func (p *FlowPool) Get(samples int) *Flow {
	f := p.get(samples)
	*f = Flow{Samples: f.Samples[:0]}
	return f
}

// get returns a record as it was put, or a new one: for callers that
// overwrite every field (Flow.reset).
func (p *FlowPool) get(samples int) *Flow {
	if f, ok := p.p.Get().(*Flow); ok && cap(f.Samples) >= samples {
		return f
	}
	return &Flow{Samples: make([]Sample, 0, samples)}
}

// Put hands f back for reuse; the caller must not touch f afterwards.
func (p *FlowPool) Put(f *Flow) {
	if f != nil {
		p.p.Put(f)
	}
}
