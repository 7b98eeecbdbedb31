//go:build ignore

// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* flowhawk.c: XDP or TC (ingress) and TC (egress) programs that aggregate
 * bidirectional flows into the flows map and send the first packets of each
 * flow, DNS payload snippets and FIN/RST ends to the events ring buffer.
 * They never drop, redirect or modify a packet: XDP_PASS always, and the TC
 * programs TC_ACT_UNSPEC (TCX_NEXT), which hands the packet on to the next
 * TCX program or clsact filter: TC_ACT_OK would end the chain there, and
 * the host's own filters (a drop rule, another sensor) would stop working
 * while flowhawk is attached. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "headers/flow.h"
#include "headers/config.h"
#include "headers/maps.h"
#include "headers/parse.h"

#define EEXIST_ 17


/* Anchors so the event layouts reach BTF and bpf2go generates Go types. */
const struct pkt_event *unused_pkt_event __attribute__((unused));
const struct dns_event *unused_dns_event __attribute__((unused));
const struct end_event *unused_end_event __attribute__((unused));
const struct flow_event *unused_flow_event __attribute__((unused));

/* before reports whether (a, pa) sorts before or equal to (b, pb):
 * addresses compared as big-endian 128-bit numbers, then ports. */
static __always_inline int lo_first(const __u8 *a, const __u8 *b, __u16 pa, __u16 pb)
{
	__u64 a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	a0 = __builtin_bswap64(a0);
	a1 = __builtin_bswap64(a1);
	b0 = __builtin_bswap64(b0);
	b1 = __builtin_bswap64(b1);
	if (a0 != b0)
		return a0 < b0;
	if (a1 != b1)
		return a1 < b1;
	return pa <= pb;
}

static __always_inline void frag_key_of(struct frag_key *fk, struct pkt_info *pi)
{
	__builtin_memcpy(fk->src, pi->src, 16);
	__builtin_memcpy(fk->dst, pi->dst, 16);
	fk->id = pi->frag_id;
	fk->proto = pi->frag_proto;
	fk->tunnel[0] = pi->tunnel >> 16;
	fk->tunnel[1] = pi->tunnel >> 8;
	fk->tunnel[2] = pi->tunnel;
	fk->vlan_outer = pi->vlan_outer;
	fk->vlan_inner = pi->vlan_inner;
}

static __always_inline void send_end(struct flow_key *key, __u8 reason, __u64 ts)
{
	struct end_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(CNT_RINGBUF_FULL);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = EV_END;
	e->reason = reason;
	e->ts = ts;
	__builtin_memcpy(&e->key, key, sizeof(*key));
	bpf_ringbuf_submit(e, submit_flags());
}

/* struct seg: how many wire segments one packet stands for (TC sees
 * GSO packets before segmentation, and GRO packets after merging), and
 * their payload size; n = 1, mss = 0 for an ordinary packet. */
struct seg {
	__u32 n;
	__u32 mss;
};

static __always_inline void fill_pkt(struct pkt_event *e, struct flow_key *key, struct pkt_info *pi,
				     struct flow_value *v, __u8 side, __u8 flags, __u64 ts, __u32 wire_len,
				     struct seg sg)
{
	e->type = EV_SAMPLE;
	e->side = side;
	e->tcp_flags = pi->tcp_flags;
	e->flags = flags;
	e->ip_hdr_len = pi->ip_hdr_len;
	e->l4_hdr_len = pi->l4_hdr_len;
	e->ip_len = pi->ip_len;
	e->payload_len = pi->payload_len;
	e->ts = ts;
	e->flow_first = v->first;
	e->seq = pi->seq;
	e->ack = pi->ack;
	e->wire_len = wire_len;
	e->window = pi->window;
	e->snap_len = 0;
	e->gso_segs = sg.n;
	e->gso_size = sg.mss;
	e->ttl = pi->ttl;
	e->icmp_type = pi->icmp_type;
	e->icmp_code = pi->icmp_code;
	e->pad = 0;
	__builtin_memcpy(&e->key, key, sizeof(*key));
}

/* send_sample puts one packet (with a payload snippet when snip) into the
 * ring buffer; it returns 0 when the buffer was full. */
static __always_inline int send_sample(void *ctx, const bool xdp, struct flow_key *key, struct pkt_info *pi,
				       struct flow_value *v, __u8 side, __u8 flags, __u64 ts, __u32 wire_len,
				       int snip, struct seg sg)
{
	if (!snip) {
		struct pkt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e)
			return 0;
		fill_pkt(e, key, pi, v, side, flags, ts, wire_len, sg);
		bpf_ringbuf_submit(e, submit_flags());
		return 1;
	}
	struct dns_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	fill_pkt(&e->pkt, key, pi, v, side, flags | PKT_F_PAYLOAD, ts, wire_len, sg);
	__u32 avail = wire_len > pi->payload_off ? wire_len - pi->payload_off : 0;
	__u32 n = pi->payload_len;
	if (n > avail)
		n = avail;
	if (n > SNIP_LEN)
		n = SNIP_LEN;
	long err = -1;
	/* Round-trip n through ring-buffer memory: the verifier then sees an
	 * unknown scalar and does not mark every parser path that computed n
	 * as precise (which blows up verification); the arithmetic below
	 * bounds it to [1, 256] on the very register passed to the helper. */
	e->pkt.snap_len = n;
	n = *(volatile __u16 *)&e->pkt.snap_len;
	if (n > 0) {
		n = ((n - 1) & (SNIP_LEN - 1)) + 1;
		if (xdp)
			err = bpf_xdp_load_bytes(ctx, pi->payload_off, e->payload, n);
		else
			err = bpf_skb_load_bytes(ctx, pi->payload_off, e->payload, n);
	}
	e->pkt.snap_len = err == 0 ? n : 0;
	bpf_ringbuf_submit(e, submit_flags());
	return 1;
}

/* fill_key builds the canonical key of a packet sent by side, every byte
 * of it (process does not zero it first: IPv4 packets need it only for
 * events). */
static __always_inline void fill_key(struct flow_key *key, struct pkt_info *pi, __u8 side)
{
	if (side == SIDE_LO) {
		__builtin_memcpy(key->addr_lo, pi->src, 16);
		__builtin_memcpy(key->addr_hi, pi->dst, 16);
		key->port_lo = pi->sport;
		key->port_hi = pi->dport;
	} else {
		__builtin_memcpy(key->addr_lo, pi->dst, 16);
		__builtin_memcpy(key->addr_hi, pi->src, 16);
		key->port_lo = pi->dport;
		key->port_hi = pi->sport;
	}
	key->vlan_outer = pi->vlan_outer;
	key->vlan_inner = pi->vlan_inner;
	key->proto = pi->proto;
	key->tunnel[0] = pi->tunnel >> 16;
	key->tunnel[1] = pi->tunnel >> 8;
	key->tunnel[2] = pi->tunnel;
}

/* event_key builds the canonical key that events carry where it is not
 * built yet: an IPv4 flow is looked up by its short key only. */
static __always_inline void event_key(struct flow_key *key, struct pkt_info *pi, __u8 side)
{
	if (pi->v4)
		fill_key(key, pi, side);
}

/* get_flow finds the flow of mkey in map (flows or flows4), or creates it
 * (*created). Whether the entry starts over (just created, or a closed
 * flow reused: want_reuse) is decided under the flow's lock, in
 * account_pkt, since two CPUs may find one entry at once. NULL when the
 * map is full (counted in full). Inlined with a constant map, so each
 * lookup stays inlined by the verifier. */
static __always_inline struct flow_value *get_flow(void *map, __u32 full, void *mkey, int *created)
{
	__u32 zk = 0;
	struct zero_flow *zero;
	struct flow_value *v = bpf_map_lookup_elem(map, mkey);
	if (v)
		return v;
	zero = bpf_map_lookup_elem(&zero_value, &zk);
	if (!zero)
		return NULL;
	/* The low 32 bits only: before Linux 6.4 the verifier turns this call
	 * into a direct call of the map's update function, which returned
	 * int, so -EEXIST arrived zero-extended (0xffffffef), was taken for
	 * another error, and on 6.1 a packet whose flow another CPU created
	 * at the same moment was dropped as map full. */
	int r = (int)bpf_map_update_elem(map, mkey, zero, BPF_NOEXIST);
	if (r != 0 && r != -EEXIST_) {
		count(full);
		return NULL;
	}
	*created = r == 0;
	v = bpf_map_lookup_elem(map, mkey);
	if (!v)
		count(full);
	return v;
}

/* want_reuse tells that this packet starts a closed flow over: a TCP SYN
 * after FIN/RST closed it, or any packet once the close grace passed and
 * no scan has emitted it yet (the flow table starts a new flow then; the
 * late packet had joined the closed record). The old record goes to the
 * ring buffer whole under the canonical key. Read again under the lock to
 * decide. now > close_ts: another CPU may have closed the flow after this
 * one read the clock, and the difference would wrap. */
static __always_inline int want_reuse(struct flow_value *v, __u8 pure_syn, __u64 now)
{
	return (v->flags & FLOW_F_CLOSED) && (pure_syn || (now > v->close_ts && now - v->close_ts > close_grace_ns));
}

/* Per-direction counters are plain adds: each writer is alone on the
 * fields it adds to. XDP sees one direction of a flow on one receive queue,
 * which one CPU polls at a time (RSS keeps a flow on its queue); generic
 * XDP does not (xdp_lock, config.h) and takes the lock. TC can run
 * for one flow on several CPUs at once (threads sending on one UDP socket;
 * a veth receives on the sending CPU), so the TC programs hold the flow's
 * spin lock while they update it (process): one locked instruction per
 * packet instead of one per field, about 35 of 120 ns per TC packet on an
 * AMD EPYC VM (on an Intel Xeon VM locked adds had cost 80 of 200 ns in
 * XDP, which takes no lock). XDP and TC may update one flow at the same
 * time, one direction each, so no sum is shared by the directions: the
 * flow-level gaps' moments are kept per direction too
 * (dir_stats.flow_iat_*). */

/* dev_sq is the square of gap's distance from ref in 1.024 us units,
 * rounded to the nearest unit so that the rounding errors cancel in the sum
 * (a shift, not a 64-bit division). */
static __always_inline __u64 dev_sq(__u64 gap, __u64 ref)
{
	__u64 q = ((gap > ref ? gap - ref : ref - gap) + 512) >> 10;
	return q * q;
}

/* account adds one packet, or the sg.n wire segments a GSO/GRO packet
 * stands for, to one direction. Segments: sg.n - 1 of sg.mss payload
 * bytes and a last one with the rest, each with the packet's headers, the
 * same timestamp (gaps of 0 between them), and the TCP flags segmentation
 * gives them: FIN and PSH on the last only, CWR on the first only, the
 * others on every segment. */
static __always_inline void account(struct dir_stats *ds, struct pkt_info *pi, __u64 now, const bool xdp,
				    struct seg sg)
{
	__u32 pl = pi->payload_len;
	__u32 il = pi->ip_len;
	/* The first and the last segment; the same packet when sg.n == 1. */
	__u32 fpl = pl, fil = il, lpl = pl, lil = il;
	__u32 more = 0; /* segments after the first */
	if (!xdp && sg.n > 1) {
		__u32 hl = il - pl;
		more = sg.n - 1;
		fpl = sg.mss;
		fil = sg.mss + hl;
		lpl = pl - more * sg.mss;
		lil = lpl + hl;
	}
	if (ds->packets == 0) {
		ds->first = now;
		ds->last = now;
		if (pi->proto == IPPROTO_TCP && pi->l4_hdr_len > 0)
			ds->init_window = pi->window;
		ds->min_l4_hdr = pi->l4_hdr_len;
		ds->payload_min = lpl;
		ds->payload_max = fpl;
		ds->iplen_min = lil;
		ds->iplen_max = fil;
	} else {
		__u64 gap = now > ds->last ? now - ds->last : 0;
		if (ds->packets == 1)
			ds->iat_ref = gap;
		ds->iat_sq += dev_sq(gap, ds->iat_ref);
		if (ds->packets == 1 || gap < ds->iat_min)
			ds->iat_min = gap;
		if (gap > ds->iat_max)
			ds->iat_max = gap;
		if (now > ds->last)
			ds->last = now;
		if (pi->l4_hdr_len < ds->min_l4_hdr)
			ds->min_l4_hdr = pi->l4_hdr_len;
		if (lpl < ds->payload_min)
			ds->payload_min = lpl;
		if (fpl > ds->payload_max)
			ds->payload_max = fpl;
		if (lil < ds->iplen_min)
			ds->iplen_min = lil;
		if (fil > ds->iplen_max)
			ds->iplen_max = fil;
	}
	if (!xdp && more) {
		/* The segments after the first follow it at once: gaps of 0 (the
		 * first of them is the direction's first gap when this packet is
		 * its first, and iat_ref stays 0). */
		if (ds->packets > 0)
			ds->iat_sq += more * dev_sq(0, ds->iat_ref);
		ds->iat_min = 0;
		ds->packets += more;
		ds->iplen_sq += (__u64)fil * fil * (more - 1) + (__u64)lil * lil;
		ds->payload_sq += (__u64)fpl * fpl * (more - 1) + (__u64)lpl * lpl;
		ds->ip_hdr_bytes += (__u64)pi->ip_hdr_len * more;
		ds->l4_hdr_bytes += (__u64)pi->l4_hdr_len * more;
		ds->bytes += (__u64)(il - pl) * more;
		ds->data_packets += more;
	}
	ds->packets += 1;
	ds->bytes += il;
	ds->iplen_sq += (__u64)fil * fil;
	ds->payload_bytes += pl;
	ds->payload_sq += (__u64)fpl * fpl;
	ds->ip_hdr_bytes += pi->ip_hdr_len;
	ds->l4_hdr_bytes += pi->l4_hdr_len;
	if (pl > 0)
		ds->data_packets += 1;
	__u8 fl = pi->tcp_flags;
	if (!fl) /* one test for the packets without flags (UDP, ICMP, ...) */
		return;
#pragma unroll
	for (int b = 0; b < 8; b++) {
		if (fl & (1 << b)) {
			/* FIN (0), PSH (3), CWR (7): one segment carries them. */
			__u32 c = (b == 0 || b == 3 || b == 7) ? 1 : 1 + more;
			ds->flag_counts[b] += c;
		}
	}
}

__noinline int account_xdp(struct xdp_md *ctx, struct pkt_info *pi, __u32 wire_len);
__noinline int account_tc(struct __sk_buff *ctx, struct pkt_info *pi, __u32 wire_len, __u32 gso_segs, __u32 gso_size);

/* account_parsed hands a parsed packet to its program type's accounting
 * function. */
static __always_inline void account_parsed(void *ctx, struct pkt_info *pi, __u32 wire_len, const bool xdp,
					   __u32 gso_segs, __u32 gso_size)
{
	if (xdp)
		account_xdp(ctx, pi, wire_len);
	else
		account_tc(ctx, pi, wire_len, gso_segs, gso_size);
}

static __always_inline void to_inner(void *ctx, void *data, void *data_end, struct pkt_info *pi,
				     const bool xdp_inner);

/* TC_PULL is how many bytes (from the frame's start, or from a tunnel's
 * inner packet) the TC programs pull into the linear area before parsing;
 * TC_PULL_MAX how many they pull when the headers reach past those, so
 * that the parser reads what the pcap decoder reads (QinQ, an MPLS stack,
 * IPv4 options or IPv6 extension headers add up to more than TC_PULL only
 * rarely). The second parse runs in another program (tc_repull): inlined
 * twice, the parser takes the verifier past its budget. */
#define TC_PULL 128
#define TC_PULL_MAX 512
/* TC_LINEAR_MIN is the linear length below which TC pulls TC_PULL bytes
 * before its first parse: an Ethernet and an IPv6 header. The kernel's
 * own packets (TCP, UDP, forwarded frames, the tunnel driver's) carry
 * their headers in the linear area and are parsed as they are: a pull
 * would copy payload into it, and on TCP's egress clones reallocate the
 * head first, several hundred ns a packet. AF_PACKET TX_RING senders
 * leave only the Ethernet header linear, and get the pull. Headers that
 * reach past the linear area anyway take the second parse (repull). */
#define TC_LINEAR_MIN 54

/* A TC packet's first parse, or its second after tc_repull pulled more. */
enum pass { PASS_FIRST, PASS_PULLED };

/* make_linear pulls the first want bytes (at most the packet) of a TC
 * packet into its linear area: 1 when it pulled them, 0 when they were
 * linear already or the pull failed. */
static __always_inline int make_linear(struct __sk_buff *skb, __u32 want)
{
	if (want > skb->len)
		want = skb->len;
	if ((long)skb->data_end - (long)skb->data >= (long)want)
		return 0;
	return bpf_skb_pull_data(skb, want) == 0;
}

/* repull makes the first want bytes of a TC packet whose parse failed
 * linear and tail-calls slot of tc_repull to parse it again; it returns,
 * changing nothing, when they were linear already (the error was the
 * packet's own), and after a failed pull or tail call. */
static __always_inline void repull(void *ctx, __u32 want, __u32 slot)
{
	if (!make_linear(ctx, want))
		return;
	count(CNT_REPULLED);
	bpf_tail_call(ctx, &tc_repull, slot);
}

/* process parses one packet and accounts it; a tunnel packet (decap) goes
 * to the hook's inner program instead. A TC packet's second pass
 * (PASS_PULLED) was counted and sampled by its first. l3 says the packet
 * starts at its IP header (a device without a link-layer header: tun,
 * WireGuard, IP-in-IP). */
static __always_inline void process(void *ctx, void *data, void *data_end, __u32 wire_len, __u16 tc_vlan,
				    const bool xdp, __u32 gso_segs, __u32 gso_size, const enum pass pass,
				    const bool l3)
{
	if (pass == PASS_FIRST) {
		count(CNT_PACKETS);
		if (sample_rate > 1 && bpf_get_prandom_u32() % sample_rate != 0) {
			count(CNT_SAMPLED_OUT);
			return;
		}
	}

	struct pkt_info pi = {};
	int err;
	if (l3) {
		/* By the version, as tcpdump's raw IP and the pcap decoder go:
		 * the writer sets skb->protocol (a tun's packet information
		 * header, a packet socket's sll_protocol), and may set it
		 * wrong. Neither 4 nor 6 is the decoder's bad IP version. */
		__u8 *v = data;
		__be16 et = 0;
		if ((void *)(v + 1) <= data_end) {
			if (v[0] >> 4 == 4)
				et = bpf_htons(ETH_P_IP);
			else if (v[0] >> 4 == 6)
				et = bpf_htons(ETH_P_IPV6);
		}
		err = et ? parse_ip(data, data_end, data, 0, et, wire_len, &pi) : CNT_PARSE_ERROR;
	} else {
		err = parse(data, data_end, wire_len, tc_vlan, &pi);
	}
	if (err) {
		if (!xdp && pass == PASS_FIRST)
			repull(ctx, TC_PULL_MAX, l3 ? 2 : 0);
		count(err);
		return;
	}
	if (decap && pi.frag == FRAG_NONE)
		to_inner(ctx, data, data_end, &pi, xdp);
	account_parsed(ctx, &pi, wire_len, xdp, gso_segs, gso_size);
}

/* to_inner hands a tunnel packet to the hook's inner program, which
 * accounts its inner packet; it returns, and the packet is accounted as
 * itself, when pi is no tunnel, or when the tail call fails (it cannot:
 * the loader fills both arrays before anything attaches). */
static __always_inline void to_inner(void *ctx, void *data, void *data_end, struct pkt_info *pi, const bool xdp_inner)
{
	__be16 et = 0;
	__u32 tid = 0;
	__u32 in = tunnel_payload(data, data_end, pi, &et, &tid);
	if (!in || (et != bpf_htons(ETH_P_IP) && et != bpf_htons(ETH_P_IPV6) && et != bpf_htons(ETH_P_TEB_)))
		return;
	__u32 zk = 0;
	struct tunnel_info *ti = bpf_map_lookup_elem(&tunnel_scratch, &zk);
	if (!ti)
		return;
	ti->off = in;
	ti->et = et;
	ti->vlan_outer = pi->vlan_outer;
	ti->vlan_inner = pi->vlan_inner;
	ti->end = pi->payload_off - pi->l4_hdr_len - pi->ip_hdr_len + pi->ip_len;
	ti->tunnel = tid;
	if (xdp_inner)
		bpf_tail_call(ctx, &inner_xdp, 0);
	else
		bpf_tail_call(ctx, &inner_tc, 0);
}

/* process_inner parses and accounts the inner packet of the tunnel packet
 * the outer program handed over (tunnel_scratch). */
static __always_inline void process_inner(void *ctx, void *data, void *data_end, __u32 wire_len, const bool xdp,
					  __u32 gso_segs, __u32 gso_size, const enum pass pass)
{
	__u32 zk = 0;
	struct tunnel_info *ti = bpf_map_lookup_elem(&tunnel_scratch, &zk);
	if (!ti)
		return;
	if (pass == PASS_FIRST)
		count(CNT_DECAP);
	struct pkt_info pi = {};
	int err = parse_inner(data, data_end, wire_len, ti, &pi);
	if (err) {
		if (!xdp && pass == PASS_FIRST)
			repull(ctx, ti->off + TC_PULL_MAX, 1);
		count(err);
		return;
	}
	account_parsed(ctx, &pi, wire_len, xdp, gso_segs, gso_size);
}

/* update_flow adds one packet (or the wire segments of one GSO/GRO packet)
 * to its flow: the flow-level times and this direction's sums. The TC
 * programs, XDP in generic mode (xdp_lock), and native XDP for a flow's
 * start, SYN/FIN/RST and closed flows (account_pkt) call it holding the flow's
 * spin lock. */
static __always_inline void update_flow(struct flow_value *v, struct dir_stats *ds, struct pkt_info *pi,
					__u8 side, __u8 synack, int fresh, __u64 now, const bool xdp,
					struct seg sg)
{
	if (fresh) {
		/* fresh: no packet in the entry yet (decided under the lock) */
		v->first = now;
		v->last = now;
		v->initiator = synack ? !side : side;
		v->first_side = side;
		v->icmp_type = pi->icmp_type;
		v->icmp_code = pi->icmp_code;
		v->dir[0].init_window = -1;
		v->dir[1].init_window = -1;
	} else {
		__u64 gap = now > v->last ? now - v->last : 0;
		__u64 before = v->dir[0].packets + v->dir[1].packets;
		/* This direction's first flow-level gap is the reference. */
		if (ds->packets == (side == v->first_side))
			ds->flow_iat_ref = gap;
		ds->flow_iat_sq += dev_sq(gap, ds->flow_iat_ref);
		ds->flow_iat_sum += gap;
		if (before == 1 || gap < v->iat_min)
			v->iat_min = gap;
		if (gap > v->iat_max)
			v->iat_max = gap;
		if (now > v->last)
			v->last = now;
	}
	if (sg.n > 1) {
		v->iat_min = 0; /* the gaps between its segments */
		/* ... around the reference (0 when they are the first gaps) */
		ds->flow_iat_sq += (sg.n - 1) * dev_sq(0, ds->flow_iat_ref);
	}
	/* CNT_ACCOUNTED is derived in user space (packets minus the
	 * not-accounted counters): one counter update less per packet. */
	account(ds, pi, now, xdp, sg);
}

/* account_pkt accounts one parsed packet to its flow. */
static __always_inline void account_pkt(void *ctx, struct pkt_info *pi, __u32 wire_len, const bool xdp,
					__u32 gso_segs, __u32 gso_size)
{
	if (pi->frag != FRAG_NONE) {
		count(CNT_FRAGMENTS);
		struct frag_key fk = {};
		frag_key_of(&fk, pi);
		if (pi->frag == FRAG_FIRST) {
			__u32 fdata = pi->ip_len > pi->frag_end ? pi->ip_len - pi->frag_end : 0;
			struct frag_ports fp = {.sport = pi->sport, .dport = pi->dport, .proto = pi->proto,
						.end = fdata > 65535 ? 65535 : fdata};
			bpf_map_update_elem(&frags, &fk, &fp, BPF_ANY);
		} else {
			struct frag_ports *fp = bpf_map_lookup_elem(&frags, &fk);
			if (fp) {
				pi->sport = fp->sport;
				pi->dport = fp->dport;
				pi->proto = fp->proto;
				if (pi->frag_off < fp->end) /* overlaps the first fragment (teardrop) */
					pi->wrong_frag = 1;
			} else {
				count(CNT_FRAG_NO_FIRST);
			}
		}
	}
	if (pi->proto != IPPROTO_TCP && pi->proto != IPPROTO_UDP && pi->proto != IPPROTO_UDPLITE && pi->proto != IPPROTO_SCTP &&
	    pi->proto != IPPROTO_ICMP && pi->proto != IPPROTO_ICMPV6)
		count(CNT_OTHER_L4);

	/* A GSO or GRO packet of TCP or UDP (GSO and GRO build them of equal
	 * segments of gso_size payload bytes, the last shorter) is accounted
	 * as its wire segments. The count must follow from the payload: a
	 * tunnel's GSO packet, unless decapsulated, counts inner headers as
	 * payload and is taken whole, as are packets whose metadata does not
	 * add up. */
	struct seg sg = {.n = 1, .mss = 0};
	/* A GSO packet written through a virtio-net header (tun and tap with
	 * IFF_VNET_HDR: wireguard-go, tailscale, VMs; packet sockets with
	 * PACKET_VNET_HDR) arrives untrusted (SKB_GSO_DODGY) with gso_segs 0,
	 * left for the stack to count: its count follows from the payload. */
	if (!xdp && gso_segs == 0 && gso_size > 0 && gso_size < 0x10000 && pi->payload_len > gso_size)
		gso_segs = (pi->payload_len + gso_size - 1) / gso_size;
	if (!xdp && gso_segs > 1 && gso_size > 0 && gso_size < 0x10000 && pi->frag == FRAG_NONE &&
	    (pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) && pi->payload_len > gso_size &&
	    (pi->payload_len + gso_size - 1) / gso_size == gso_segs) {
		sg.n = gso_segs;
		sg.mss = gso_size;
		count(CNT_SEGMENTED);
	}

	/* The flow's key and side: flows4's short key for IPv4, the
	 * canonical key (which every event carries) otherwise; an IPv4 flow's
	 * canonical key is built only for an event. */
	struct flow_key key; /* fill_key writes every byte */
	struct flow_key4 k4 = {};
	__u8 side;
	if (pi->v4) {
		__be32 s4, d4;
		__builtin_memcpy(&s4, pi->src + 12, 4);
		__builtin_memcpy(&d4, pi->dst + 12, 4);
		__u32 hs = bpf_ntohl(s4), hd = bpf_ntohl(d4);
		if (hs < hd || (hs == hd && pi->sport <= pi->dport)) {
			side = SIDE_LO;
			k4.addr_lo = s4;
			k4.addr_hi = d4;
			k4.port_lo = pi->sport;
			k4.port_hi = pi->dport;
		} else {
			side = SIDE_HI;
			k4.addr_lo = d4;
			k4.addr_hi = s4;
			k4.port_lo = pi->dport;
			k4.port_hi = pi->sport;
		}
		k4.vlan_outer = pi->vlan_outer;
		k4.vlan_inner = pi->vlan_inner;
		k4.proto = pi->proto;
		k4.tunnel[0] = pi->tunnel >> 16;
		k4.tunnel[1] = pi->tunnel >> 8;
		k4.tunnel[2] = pi->tunnel;
	} else {
		side = lo_first(pi->src, pi->dst, pi->sport, pi->dport) ? SIDE_LO : SIDE_HI;
		fill_key(&key, pi, side);
	}

	__u64 now = bpf_ktime_get_ns();
	__u8 pflags = 0;
	int fresh = 0;
	__u8 synack = pi->proto == IPPROTO_TCP && (pi->tcp_flags & 0x12) == 0x12;
	__u8 pure_syn = pi->proto == IPPROTO_TCP && (pi->tcp_flags & 0x12) == 0x02;
	struct flow_value *v;
	int created = 0;
	if (pi->v4)
		v = get_flow(&flows4, CNT_MAP_FULL, &k4, &created);
	else
		v = get_flow(&flows, CNT_MAP_FULL6, &key, &created);
	if (!v)
		return;
	struct dir_stats *ds = side == SIDE_LO ? &v->dir[0] : &v->dir[1];
	/* What both directions decide (the flow's start, a reuse, the close)
	 * is decided under the flow's lock: two CPUs may reach one entry at
	 * once (TC on any, XDP ingress beside TC egress). Native XDP runs one
	 * direction on one CPU, so it takes the lock only for those: a flow it
	 * created or not yet started, SYN/FIN/RST, a closed flow; generic XDP
	 * (xdp_lock) and TC always. Two CPUs each restarted or closed one
	 * closed flow, sending its record twice, and a flow's second packet
	 * could measure its gap from 0 when the creator had not set the
	 * times yet (TestRaceCloseReuse, TestRaceCreate). */
	int lockfree = xdp && !xdp_lock && !created && v->first && !(pi->tcp_flags & 0x07) &&
		       !(v->flags & FLOW_F_CLOSED);
	__u8 end = 0; /* 1 FIN, 2 RST: this packet closed the flow */
	if (lockfree) {
		update_flow(v, ds, pi, side, synack, 0, now, xdp, sg);
	} else {
		/* A closed flow this packet may start over: its old record is
		 * copied out under the lock, so that only one CPU sends it, and
		 * put in the ring buffer after it (no helper call may be made
		 * under the lock). With too little room in the ring buffer the
		 * flow is not started over: the packet joins the closed flow,
		 * which a scan emits after its grace, rather than a whole record
		 * be lost. */
		struct flow_event *fe = NULL;
		struct zero_flow *zero = NULL;
		if (want_reuse(v, pure_syn, now)) {
			__u32 zk = 0;
			zero = bpf_map_lookup_elem(&zero_value, &zk);
			fe = bpf_map_lookup_elem(&reuse_scratch, &zk);
			if (fe && bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) -
					  bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < sizeof(*fe) + 8) {
				count(CNT_RINGBUF_FULL);
				fe = NULL;
			}
		}
		int reused = 0;
		bpf_spin_lock(&v->lock);
		if (fe && zero && want_reuse(v, pure_syn, now)) {
			__builtin_memcpy(&fe->value, v, FLOW_VALUE_DATA);
			__builtin_memcpy(v, zero, FLOW_VALUE_DATA);
			reused = 1;
		}
		fresh = v->dir[0].packets + v->dir[1].packets == 0;
		update_flow(v, ds, pi, side, synack, fresh, now, xdp, sg);
		if (pi->proto == IPPROTO_TCP && !(v->flags & FLOW_F_CLOSED)) {
			if (pi->tcp_flags & 0x04) {
				v->flags |= FLOW_F_RST | FLOW_F_CLOSED;
				v->close_ts = now;
				end = 2;
			} else if (pi->tcp_flags & 0x01) {
				ds->fin = 1;
				if (v->dir[0].fin && v->dir[1].fin) {
					v->flags |= FLOW_F_CLOSED;
					v->close_ts = now;
					end = 1;
				}
			}
		}
		bpf_spin_unlock(&v->lock);
		if (fe && reused) {
			__builtin_memset(fe, 0, 48);
			fe->type = EV_FLOW;
			fe->reason = (fe->value.flags & FLOW_F_RST) ? 2 : 1;
			event_key(&key, pi, side);
			__builtin_memcpy(&fe->key, &key, sizeof(key));
			__builtin_memset((__u8 *)&fe->value + FLOW_VALUE_DATA, 0, sizeof(fe->value) - FLOW_VALUE_DATA);
			if (bpf_ringbuf_output(&events, fe, sizeof(*fe), submit_flags()))
				count(CNT_RINGBUF_FULL);
		}
	}
	if (fresh)
		pflags |= PKT_F_NEW_FLOW;
	if (pi->wrong_frag)
		__sync_fetch_and_add(&v->wrong_frags, 1);
	if (end) {
		event_key(&key, pi, side);
		send_end(&key, end, now);
	}

	int first_n = v->samples_sent + v->samples_lost < max_samples;
	int snip = dns_snippets && (pi->proto == IPPROTO_UDP || pi->proto == IPPROTO_TCP) &&
		   (pi->sport == 53 || pi->dport == 53) && pi->payload_len > 0 && pi->frag != FRAG_LATER;
	if (!first_n && !snip)
		return;
	if (first_n)
		pflags |= PKT_F_SAMPLE;
	if (pi->frag == FRAG_FIRST)
		pflags |= PKT_F_FRAG_FIRST;
	else if (pi->frag == FRAG_LATER)
		pflags |= PKT_F_FRAG_LATER;
	if (pi->wrong_frag)
		pflags |= PKT_F_WRONG_FRAG;
	event_key(&key, pi, side);
	if (send_sample(ctx, xdp, &key, pi, v, side, pflags, now, wire_len, snip, sg)) {
		if (first_n)
			__sync_fetch_and_add(&v->samples_sent, 1);
	} else {
		count(CNT_RINGBUF_FULL);
		if (first_n)
			__sync_fetch_and_add(&v->samples_lost, 1);
	}
}

/* account_xdp and account_tc are global functions, which the verifier
 * checks once each, with *pi unknown, instead of once for every path
 * through the parser that reaches them: inlined, the TC programs took
 * 270,000-570,000 instructions of the verifier's 1,000,000 on Linux 6.18,
 * and Linux 6.1 (Debian 12), which prunes less, refused flowhawk_tc at
 * the limit. A global function's pointer argument may be NULL as far as
 * the verifier knows. */
__noinline int account_xdp(struct xdp_md *ctx, struct pkt_info *pi, __u32 wire_len)
{
	if (!pi)
		return 0;
	account_pkt(ctx, pi, wire_len, true, 1, 0);
	return 0;
}

__noinline int account_tc(struct __sk_buff *ctx, struct pkt_info *pi, __u32 wire_len, __u32 gso_segs, __u32 gso_size)
{
	if (!pi)
		return 0;
	account_pkt(ctx, pi, wire_len, false, gso_segs, gso_size);
	return 0;
}

SEC("xdp")
int flowhawk_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* The program is not frags-aware (SEC("xdp"), not "xdp.frags"), so
	 * the kernel hands it single-buffer packets only (drivers refuse to
	 * attach it where frames span buffers; generic XDP linearizes): the
	 * linear data is the whole packet, and bpf_xdp_get_buff_len(), a
	 * helper call on every packet, would return the same length. */
	process(ctx, data, data_end, (__u32)(data_end - data), 0, true, 1, 0, PASS_FIRST, false);
	return XDP_PASS;
}

/* flowhawk_xdp_inner accounts the inner packet of a tunnel packet that
 * flowhawk_xdp handed over (decap). */
SEC("xdp")
int flowhawk_xdp_inner(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	process_inner(ctx, data, data_end, (__u32)(data_end - data), true, 1, 0, PASS_FIRST);
	return XDP_PASS;
}

/* tc_process accounts one packet seen by a TC program; l3: on a device
 * without a link-layer header. */
static __always_inline void tc_process(struct __sk_buff *skb, const enum pass pass, const bool l3)
{
	/* Headers may sit in paged data (AF_PACKET TX_RING senders leave all
	 * but the Ethernet header there): then the first TC_PULL bytes, which
	 * hold the headers of nearly every packet, are pulled into the linear
	 * area; process pulls more for the rest (repull). With --decap the
	 * tunnel header after the outer transport header must be linear too
	 * (tunnel_payload reads it from there), so those programs pull always. */
	__u32 want = TC_PULL;
	if (!decap && (void *)(long)skb->data + TC_LINEAR_MIN <= (void *)(long)skb->data_end)
		want = 0;
	make_linear(skb, want);
	/* Load data and data_end afresh: merged with the loads above, clang
	 * zero-extends them with shifts the verifier refuses on packet
	 * pointers. */
	asm volatile("" ::: "memory");
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	/* Bit 15 marks a tag present: a priority tag (VID 0) is a tag too. */
	__u16 vlan = skb->vlan_present ? (0x8000 | (skb->vlan_tci & 0x0fff)) : 0;
	process(skb, data, data_end, skb->len, vlan, false, skb->gso_segs, skb->gso_size, pass, l3);
}

/* tc_inner accounts the inner packet of a tunnel packet that a TC program
 * (egress or ingress) handed over (decap). */
static __always_inline void tc_inner(struct __sk_buff *skb, const enum pass pass)
{
	__u32 zk = 0;
	struct tunnel_info *ti = bpf_map_lookup_elem(&tunnel_scratch, &zk);
	if (!ti)
		return;
	/* The inner headers may sit beyond what tc_process pulled. */
	make_linear(skb, ti->off + TC_PULL);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	process_inner(skb, data, data_end, skb->len, false, skb->gso_segs, skb->gso_size, pass);
}

SEC("tc")
int flowhawk_tc_inner(struct __sk_buff *skb)
{
	tc_inner(skb, PASS_FIRST);
	return TC_ACT_UNSPEC;
}

/* flowhawk_tc_pulled parses again a packet whose headers reached past
 * what the first TC pass had linear (tc_repull slot 0). */
SEC("tc")
int flowhawk_tc_pulled(struct __sk_buff *skb)
{
	tc_process(skb, PASS_PULLED, false);
	return TC_ACT_UNSPEC;
}

/* flowhawk_tc_l3_pulled is flowhawk_tc_pulled for the programs of devices
 * without a link-layer header (tc_repull slot 2). */
SEC("tc")
int flowhawk_tc_l3_pulled(struct __sk_buff *skb)
{
	tc_process(skb, PASS_PULLED, true);
	return TC_ACT_UNSPEC;
}

/* flowhawk_tc_inner_pulled is flowhawk_tc_pulled for a tunnel's inner
 * packet (tc_repull slot 1). */
SEC("tc")
int flowhawk_tc_inner_pulled(struct __sk_buff *skb)
{
	tc_inner(skb, PASS_PULLED);
	return TC_ACT_UNSPEC;
}

/* tc_egress accounts a packet leaving. A packet the host forwards from a
 * monitored interface was accounted on its way in: it is only counted. */
static __always_inline void tc_egress(struct __sk_buff *skb, const bool l3)
{
	__u32 in = skb->ingress_ifindex;
	if (in && bpf_map_lookup_elem(&monitored, &in)) {
		count(CNT_PACKETS);
		count(CNT_FORWARDED);
		return;
	}
	tc_process(skb, PASS_FIRST, l3);
}

/* flowhawk_tc is the egress program. */
SEC("tc")
int flowhawk_tc(struct __sk_buff *skb)
{
	tc_egress(skb, false);
	return TC_ACT_UNSPEC;
}

/* flowhawk_tc_l3 is the egress program of a device without a link-layer
 * header (tun, WireGuard, IP-in-IP, SIT, ip6tnl, GRE): its packets start
 * at the IP header, and XDP, which would see them so too, is not used
 * there; flowhawk_tc_ingress_l3 takes ingress. */
SEC("tc")
int flowhawk_tc_l3(struct __sk_buff *skb)
{
	tc_egress(skb, true);
	return TC_ACT_UNSPEC;
}

/* flowhawk_tc_ingress is the ingress program where XDP costs more than
 * it saves: devices without driver-mode XDP (generic XDP would run on the
 * same socket buffer, later and dearer) and veth, where an XDP program
 * moves every packet through the device's XDP ring and copies the ones
 * without 256 bytes of headroom. The flow is updated under its spin lock,
 * as on egress: a veth receives on the sending CPU, and threads sending on
 * one socket from several CPUs put one flow on several CPUs at once. */
SEC("tc")
int flowhawk_tc_ingress(struct __sk_buff *skb)
{
	tc_process(skb, PASS_FIRST, false);
	return TC_ACT_UNSPEC;
}

/* flowhawk_tc_ingress_l3 is the ingress program of a device without a
 * link-layer header. */
SEC("tc")
int flowhawk_tc_ingress_l3(struct __sk_buff *skb)
{
	tc_process(skb, PASS_FIRST, true);
	return TC_ACT_UNSPEC;
}

/* noop_xdp is the baseline of the per-packet cost benchmark. */
SEC("xdp")
int noop_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* clock_xdp reads the clock as every accounted packet does, and passes:
 * the benchmark's second baseline, since the clock's cost is the host's
 * (a few ns with the TSC clocksource, about 20 under kvm-clock), not the
 * program's. */
SEC("xdp")
int clock_xdp(struct xdp_md *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	asm volatile("" : : "r"(now));
	return XDP_PASS;
}

/* noop_tc is the baseline of the TC ingress figures. */
SEC("tc")
int noop_tc(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char __license[] SEC("license") = "Dual BSD/GPL";
