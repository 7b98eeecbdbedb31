/* maps.h: the flow map, the fragment cache, the ring buffer and counters.
 * Sizes are defaults; the loader overrides max_entries from flags. */
#ifndef FLOWHAWK_MAPS_H
#define FLOWHAWK_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "config.h"
#include "flow.h"

/* Shared (not per-CPU) hash, not LRU: a full map refuses new flows and the
 * refusal is counted (CNT_MAP_FULL, CNT_MAP_FULL6) instead of silently evicting a live
 * flow; docs/kernel.md has the measurements behind the choice. IPv4 flows
 * (and IPv6 packets whose both addresses are IPv4-mapped, which the pcap
 * path keys alike) live in flows4 under the short key; the rest in flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key4);
	__type(value, struct flow_value);
} flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct frag_key);
	__type(value, struct frag_ports);
} frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* A zeroed flow value used to create map entries (too big for the stack
 * next to everything else). Never written. Raw bytes: a per-CPU map may
 * not hold a struct bpf_spin_lock. */
struct zero_flow {
	__u8 b[sizeof(struct flow_value)];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zero_flow);
} zero_value SEC(".maps");

/* Where a closed flow's old record is copied, under the flow's lock, when
 * a packet starts the flow over, to be put in the ring buffer after the
 * lock (no helper call may be made under it). A struct flow_event in raw
 * bytes, for the same reason as zero_flow. */
struct reuse_record {
	__u8 b[sizeof(struct flow_event)];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reuse_record);
} reuse_scratch SEC(".maps");

/* Interfaces the programs are attached to (ifindex -> 1), filled by the
 * loader: a packet the host forwards or bridges was counted by XDP when it
 * arrived on one of them, so TC egress skips it instead of counting it
 * twice. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} monitored SEC(".maps");

/* Scratch word the IPv6 extension walk launders lengths through. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} scratch_map SEC(".maps");

/* Tunnel hand-off (decap): a program that finds a tunnel packet stores
 * where its inner packet starts here, then tail-calls its hook's inner
 * program (inner_xdp, inner_tc), which parses from there and accounts the inner
 * packet. Two programs, because the inner parse inlined in the outer one
 * takes the verifier past its budget of a million instructions. */
struct tunnel_info {
	__u32 off; /* inner packet's offset into the frame */
	__be16 et; /* its Ethertype: IPv4, IPv6 or Ethernet (0x6558) */
	__u16 vlan_outer; /* the outer link's tags, which stay the key's */
	__u16 vlan_inner;
	__u16 pad;
	__u32 end; /* end of the outer IP datagram: an inner length of 0 (TSO,
		    * jumbogram) means the rest of it, as in the pcap path */
	__u32 tunnel; /* the tenant (VNI, VSID) for the key, 0 = none */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tunnel_info);
} tunnel_scratch SEC(".maps");

/* The inner programs, filled by the loader: flowhawk_xdp_inner, and
 * flowhawk_tc_inner for TC egress and ingress. One array per program
 * type: the first program loaded that uses an array owns it, and the
 * kernel refuses programs of another type on it. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_xdp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_tc SEC(".maps");

/* The TC programs that parse a packet again after pulling more of it
 * into the linear area (flowhawk.c, repull), filled by the loader: slot 0
 * flowhawk_tc_pulled, slot 1 flowhawk_tc_inner_pulled, slot 2
 * flowhawk_tc_l3_pulled. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u32);
} tc_repull SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		*c += 1;
}

/* submit_flags is the flags of a ring-buffer submit: a wakeup of the
 * reader only once wake_bytes are waiting (config.h). */
static __always_inline __u64 submit_flags(void)
{
	if (!wake_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif
