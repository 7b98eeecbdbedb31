//go:build linux

package collector

// Losses names every kernel-path counter of packets or events lost or not
// fully accounted, read fresh from the kernel on each call (a Prometheus
// scrape). Packets skipped by design are in Skipped, and flows evicted
// early still leave a record (flows_total{end_reason="evicted"}), so
// neither is a loss: an alert on any loss must not fire on ARP.
func (s *KernelSource) Losses() map[string]uint64 {
	st := s.Stats()
	return map[string]uint64{
		"map_full_ipv4":     st.MapFull - st.MapFull6,
		"map_full_ipv6":     st.MapFull6,
		"ringbuf_full":      st.RingbufFull,
		"parse_error":       st.ParseErrors,
		"ipv6_ext_limit":    st.ExtLimit,
		"fragment_no_first": st.FragNoFirst,
		"bad_events":        st.BadEvents,
		"samples_late":      st.SamplesLate,
	}
}

// Skipped names the packets the kernel path leaves out by design: frames
// that carry no IP (ARP, LLDP) and, with --sample-rate, the packets
// sampled out.
func (s *KernelSource) Skipped() map[string]uint64 {
	st := s.Stats()
	return map[string]uint64{
		"non_ip":      st.NonIP,
		"sampled_out": st.SampledOut,
	}
}
