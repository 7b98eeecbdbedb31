//go:build linux

package collector

// Losses names every kernel-path counter of packets or flows not fully
// accounted, read fresh from the kernel on each call (a Prometheus scrape).
func (s *KernelSource) Losses() map[string]uint64 {
	st := s.Stats()
	return map[string]uint64{
		"map_full_ipv4":     st.MapFull - st.MapFull6,
		"map_full_ipv6":     st.MapFull6,
		"ringbuf_full":      st.RingbufFull,
		"parse_error":       st.ParseErrors,
		"ipv6_ext_limit":    st.ExtLimit,
		"non_ip":            st.NonIP,
		"sampled_out":       st.SampledOut,
		"fragment_no_first": st.FragNoFirst,
		"evicted_flows":     st.Evicted,
		"bad_events":        st.BadEvents,
	}
}
