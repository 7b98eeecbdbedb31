/* parse.h: bounded, verifier-safe parsing of Ethernet, 802.1Q/802.1ad
 * (two tags), LLC/SNAP, PPPoE sessions, MPLS label stacks, IPv4 (options,
 * fragments), IPv6 (extension headers, bounded walk), TCP, UDP, SCTP, ICMP
 * and ICMPv6, and of the inner packet of IP-in-IP, GRE, VXLAN and GENEVE
 * tunnels (decap). Every check is against data_end; nothing is ever
 * written to the packet. */
#ifndef FLOWHAWK_PARSE_H
#define FLOWHAWK_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "flow.h"
#include "maps.h"

/* Longest IPv6 extension-header chain walked before giving up. */
#define MAX_IPV6_EXT 10
/* Most VLAN tags walked (outer and inner are kept), as the pcap decoder's
 * maxVLANTags. */
#define MAX_VLAN_TAGS 8

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IPPROTO_MH_ 135
#define IPPROTO_HIP_ 139
#define IPPROTO_SHIM6_ 140

#define FRAG_NONE 0
#define FRAG_FIRST 1
#define FRAG_LATER 2

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

/* What the parser found in one packet. */
struct pkt_info {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u16 vlan_outer;
	__u16 vlan_inner;
	__u32 ip_len;
	__u32 payload_len;
	__u32 payload_off; /* from the start of the frame */
	__u32 seq;
	__u32 ack;
	__u32 frag_id;
	__u16 ip_hdr_len;
	__u16 l4_hdr_len;
	__u16 window;
	__u8 proto;
	__u8 tcp_flags;
	__u8 ttl;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 frag;
	__u8 wrong_frag;
	__u8 frag_mf;
	__u8 v4; /* both addresses IPv4 or IPv4-mapped: the flow lives in flows4 */
	/* The protocol that keys a fragment's datagram in frags: IPv4's, or
	 * the IPv6 Fragment header's Next Header, which every fragment has
	 * (the upper-layer protocol may follow more extension headers, in the
	 * first fragment only). */
	__u8 frag_proto;
	__u32 frag_off;
	__u32 tunnel; /* the tenant of a decapsulated packet (flow_key.tunnel) */
	__u32 hdr_end; /* offset past the last header byte the parser needed */
	__u32 frag_end; /* a fragment's fragmentable part's offset from the IP header */
};

/* is_vlan reports whether an Ethertype is a VLAN tag's (802.1Q, 802.1ad
 * and the two pre-standard QinQ types). */
static __always_inline int is_vlan(__be16 p)
{
	return p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD) || p == bpf_htons(0x9100) ||
	       p == bpf_htons(0x9200);
}

static __always_inline void map_v4(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* is_mapped reports whether a is an IPv4-mapped IPv6 address. */
static __always_inline int is_mapped(const __u8 *a)
{
	__u64 hi;
	__u32 mid;
	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&mid, a + 8, 4);
	return hi == 0 && mid == bpf_htonl(0xffff);
}

/* parse_l4 reads the transport header at l4, and sets pi->hdr_end past
 * the bytes it needed. It returns 0 or a counter index (CNT_PARSE_ERROR)
 * for a truncated or malformed header. */
static __always_inline int parse_l4(void *data, void *l4, void *data_end, struct pkt_info *pi)
{
	__u32 l4len = pi->ip_len - pi->ip_hdr_len;
	__u32 need = 0; /* transport bytes read */
	switch (pi->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > data_end)
			return CNT_PARSE_ERROR;
		/* Options beyond the frame (an IP length longer than the frame,
		 * or headers past what TC pulled) are not read: the packet stays
		 * accounted, as in the pcap decoder. */
		__u32 doff = th->doff * 4;
		if (doff < sizeof(*th) || doff > l4len)
			return CNT_PARSE_ERROR;
		pi->sport = bpf_ntohs(th->source);
		pi->dport = bpf_ntohs(th->dest);
		pi->seq = bpf_ntohl(th->seq);
		pi->ack = bpf_ntohl(th->ack_seq);
		pi->window = bpf_ntohs(th->window);
		pi->tcp_flags = ((__u8 *)th)[13];
		pi->l4_hdr_len = doff;
		need = sizeof(*th);
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE: {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > data_end || l4len < 8)
			return CNT_PARSE_ERROR;
		pi->sport = bpf_ntohs(uh->source);
		pi->dport = bpf_ntohs(uh->dest);
		pi->l4_hdr_len = 8;
		need = 8;
		break;
	}
	case IPPROTO_SCTP: {
		__be16 *ph = l4;
		if (l4 + 12 > data_end || l4len < 12)
			return CNT_PARSE_ERROR;
		pi->sport = bpf_ntohs(ph[0]);
		pi->dport = bpf_ntohs(ph[1]);
		pi->l4_hdr_len = 12;
		need = 12;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *ih = l4;
		if (l4 + 2 > data_end || l4len < 2) /* type and code */
			return CNT_PARSE_ERROR;
		pi->icmp_type = ih[0];
		pi->icmp_code = ih[1];
		pi->l4_hdr_len = l4len < 8 ? l4len : 8;
		need = 2;
		break;
	}
	default:
		pi->l4_hdr_len = 0;
		break;
	}
	pi->payload_off = (__u32)(l4 - data) + pi->l4_hdr_len;
	pi->hdr_end = (__u32)(l4 - data) + need;
	return 0;
}

/* parse_ip fills pi from the IP packet at cur, l3off bytes into the
 * frame, of Ethertype h_proto: addresses, lengths, fragments and the
 * transport header. It returns 0 or a counter index. */
static __always_inline int parse_ip(void *data, void *data_end, void *cur, __u32 l3off, __be16 h_proto,
				    __u32 wire_len, struct pkt_info *pi)
{
	void *l4;
	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cur;
		if ((void *)(ip + 1) > data_end)
			return CNT_PARSE_ERROR;
		if (ip->version != 4)
			return CNT_PARSE_ERROR;
		__u32 ihl = ip->ihl * 4;
		__u32 tot = bpf_ntohs(ip->tot_len);
		if (ihl < sizeof(*ip) || cur + ihl > data_end)
			return CNT_PARSE_ERROR;
		if (tot == 0) /* TSO: the length is the frame's */
			tot = wire_len > l3off ? wire_len - l3off : 0;
		if (tot < ihl)
			return CNT_PARSE_ERROR;
		map_v4(pi->src, ip->saddr);
		map_v4(pi->dst, ip->daddr);
		pi->v4 = 1;
		pi->proto = ip->protocol;
		pi->ttl = ip->ttl;
		pi->ip_len = tot;
		pi->ip_hdr_len = ihl;
		__u16 fo = bpf_ntohs(ip->frag_off);
		__u32 off = (__u32)(fo & 0x1fff) * 8;
		if (off || (fo & 0x2000)) {
			pi->frag = off ? FRAG_LATER : FRAG_FIRST;
			pi->frag_id = bpf_ntohs(ip->id);
			pi->frag_proto = ip->protocol;
			pi->frag_end = ihl;
		}
		pi->frag_off = off;
		pi->frag_mf = (fo & 0x2000) != 0;
		l4 = cur + ihl;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cur;
		if ((void *)(ip6 + 1) > data_end)
			return CNT_PARSE_ERROR;
		if (ip6->version != 6)
			return CNT_PARSE_ERROR;
		__builtin_memcpy(pi->src, &ip6->saddr, 16);
		__builtin_memcpy(pi->dst, &ip6->daddr, 16);
		pi->v4 = is_mapped(pi->src) && is_mapped(pi->dst);
		pi->ttl = ip6->hop_limit;
		__u32 plen = bpf_ntohs(ip6->payload_len);
		pi->ip_len = plen ? 40 + plen : (wire_len > l3off ? wire_len - l3off : 0); /* 0: jumbogram/TSO */
		__u32 sk = 0;
		__u32 *scratch = bpf_map_lookup_elem(&scratch_map, &sk);
		if (!scratch)
			return CNT_PARSE_ERROR;
		__u32 hlen = 40;
		__u8 nh = ip6->nexthdr;
		cur = ip6 + 1;
		int done = 0, last = 0;
#pragma unroll
		for (int i = 0; i < MAX_IPV6_EXT; i++) {
			__u8 *eh = cur;
			__u32 elen;
			switch (nh) {
			case IPPROTO_HOPOPTS:
			case IPPROTO_ROUTING:
			case IPPROTO_DSTOPTS:
			case IPPROTO_MH_:
			case IPPROTO_HIP_:
			case IPPROTO_SHIM6_:
				if ((void *)(eh + 8) > data_end)
					return CNT_PARSE_ERROR;
				elen = ((__u32)eh[1] + 1) * 8;
				break;
			case IPPROTO_AH:
				if ((void *)(eh + 8) > data_end)
					return CNT_PARSE_ERROR;
				elen = ((__u32)eh[1] + 2) * 4;
				break;
			case IPPROTO_FRAGMENT: {
				if ((void *)(eh + 8) > data_end)
					return CNT_PARSE_ERROR;
				__u16 fo = ((__u16)eh[2] << 8) | eh[3];
				__u32 off = fo & 0xfff8;
				if (off || (fo & 1)) {
					pi->frag = off ? FRAG_LATER : FRAG_FIRST;
					pi->frag_id = ((__u32)eh[4] << 24) | ((__u32)eh[5] << 16) | ((__u32)eh[6] << 8) | eh[7];
					pi->frag_proto = eh[0];
					pi->frag_end = hlen + 8;
				} else {
					pi->frag = FRAG_NONE; /* the last Fragment header decides, as in the decoder */
				}
				pi->frag_off = off;
				pi->frag_mf = fo & 1;
				elen = 8;
				if (off) /* the rest is fragment data */
					last = 1;
				break;
			}
			default:
				done = 1;
				break;
			}
			if (done)
				break;
			/* Launder elen through map memory: the verifier then forgets
			 * which header type computed it and sees one state per
			 * iteration instead of one per type (3^n otherwise). */
			*scratch = elen;
			elen = *(volatile __u32 *)scratch;
			if (elen > 2048)
				return CNT_PARSE_ERROR;
			nh = eh[0];
			hlen += elen;
			cur = cur + elen;
			if (last) {
				done = 1;
				break;
			}
		}
		if (!done) {
			switch (nh) {
			case IPPROTO_HOPOPTS:
			case IPPROTO_ROUTING:
			case IPPROTO_DSTOPTS:
			case IPPROTO_MH_:
			case IPPROTO_HIP_:
			case IPPROTO_SHIM6_:
			case IPPROTO_AH:
			case IPPROTO_FRAGMENT:
				return CNT_EXT_LIMIT;
			}
		}
		if (hlen > pi->ip_len || cur > data_end)
			return CNT_PARSE_ERROR;
		pi->proto = nh;
		pi->ip_hdr_len = hlen;
		l4 = cur;
	} else {
		return CNT_NON_IP;
	}

	if (pi->frag != FRAG_NONE) {
		/* NSL-KDD wrong_fragment, as the pcap decoder: a datagram
		 * beyond 65535 bytes once reassembled (ping of death), or a
		 * non-last fragment not a multiple of 8 bytes (of its
		 * fragmentable part, which offsets count in). The limit counts
		 * IPv4's header (Total Length) and IPv6's extension headers
		 * before the Fragment header (Payload Length). */
		__u32 fdata = pi->ip_len > pi->frag_end ? pi->ip_len - pi->frag_end : 0;
		__u32 unfrag = h_proto == bpf_htons(ETH_P_IP) ? pi->frag_end : pi->frag_end - 48;
		if (pi->frag_off + fdata + unfrag > 65535 || (pi->frag_mf && (fdata & 7)))
			pi->wrong_frag = 1;
	}
	if (pi->frag == FRAG_LATER) {
		/* No transport header: the ports come from the fragment cache. */
		pi->l4_hdr_len = 0;
		pi->payload_off = (__u32)(l4 - data);
		pi->hdr_end = pi->payload_off;
	} else {
		int err = parse_l4(data, l4, data_end, pi);
		if (err)
			return err;
	}
	__u32 hdrs = (__u32)pi->ip_hdr_len + pi->l4_hdr_len;
	pi->payload_len = pi->ip_len > hdrs ? pi->ip_len - hdrs : 0;
	return 0;
}

#define ETH_P_PPP_SES_ 0x8864
#define ETH_P_MPLS_UC_ 0x8847
#define ETH_P_MPLS_MC_ 0x8848
#define PPP_IP_ 0x0021
#define PPP_IPV6_ 0x0057
/* Most MPLS labels walked, as the pcap decoder's maxMPLSLabels. */
#define MAX_MPLS_LABELS 8

/* parse_shim unwraps what may sit between the link header (and its VLAN
 * tags) and IP, as the pcap decoder's etherType does: an 802.3 length
 * with LLC/SNAP carrying an Ethertype, a PPPoE session carrying IPv4 or
 * IPv6, and an MPLS label stack of up to MAX_MPLS_LABELS labels, after
 * whose bottom label the packet is IP by its version nibble. It moves
 * *cur, *l3off and *h_proto past what it unwrapped and returns 0, or
 * CNT_NON_IP for anything else, or CNT_PARSE_ERROR for a header cut short. */
static __always_inline int parse_shim(void *data_end, void **cur, __u32 *l3off, __be16 *h_proto)
{
	__u8 *b = *cur;
	if (bpf_ntohs(*h_proto) < 0x0600) { /* 802.3 length: LLC, maybe SNAP */
		if ((void *)(b + 8) > data_end || b[0] != 0xAA || b[1] != 0xAA || b[2] != 0x03 || b[3] || b[4] ||
		    b[5])
			return CNT_NON_IP;
		*h_proto = *(__be16 *)(b + 6);
		b += 8;
		*cur = b;
		*l3off += 8;
		/* The SNAP Ethertype may be a PPPoE session or MPLS, as in the
		 * pcap decoder's etherType. */
	}
	if (*h_proto == bpf_htons(ETH_P_PPP_SES_)) {
		if ((void *)(b + 8) > data_end)
			return CNT_PARSE_ERROR;
		__u16 ppp = ((__u16)b[6] << 8) | b[7];
		if (ppp == PPP_IP_)
			*h_proto = bpf_htons(ETH_P_IP);
		else if (ppp == PPP_IPV6_)
			*h_proto = bpf_htons(ETH_P_IPV6);
		else
			return CNT_NON_IP;
		*cur = b + 8;
		*l3off += 8;
		return 0;
	}
	if (*h_proto == bpf_htons(ETH_P_MPLS_UC_) || *h_proto == bpf_htons(ETH_P_MPLS_MC_)) {
#pragma unroll
		for (int i = 0; i < MAX_MPLS_LABELS; i++) {
			if ((void *)(b + 4) > data_end)
				return CNT_PARSE_ERROR;
			int bos = b[2] & 1;
			b += 4;
			*l3off += 4;
			if (bos) {
				if ((void *)(b + 1) > data_end)
					return CNT_PARSE_ERROR;
				if (b[0] >> 4 == 4)
					*h_proto = bpf_htons(ETH_P_IP);
				else if (b[0] >> 4 == 6)
					*h_proto = bpf_htons(ETH_P_IPV6);
				else
					return CNT_PARSE_ERROR;
				*cur = b;
				return 0;
			}
		}
		return CNT_NON_IP;
	}
	return 0;
}

/* parse_link walks the VLAN tags after an Ethernet header, the first two
 * into pi (ntags tags were already found: one from skb metadata), and
 * then what parse_shim unwraps, moving *cur, *l3off and *h_proto to the IP
 * header. It returns 0 or a counter index. */
static __always_inline int parse_link(void *data_end, void **cur, __u32 *l3off, __be16 *h_proto, int ntags,
				      struct pkt_info *pi)
{
	/* Untagged IP, nearly every packet: nothing to walk (the loop and
	 * parse_shim would find the same after eight comparisons; 1 ns of an
	 * XDP packet's 50, BenchmarkXDP). */
	if (*h_proto == bpf_htons(ETH_P_IP) || *h_proto == bpf_htons(ETH_P_IPV6))
		return 0;
#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (!is_vlan(*h_proto) || ntags >= MAX_VLAN_TAGS)
			break;
		struct vlan_tag *vt = *cur;
		if ((void *)(vt + 1) > data_end)
			return CNT_PARSE_ERROR;
		__u16 vid = bpf_ntohs(vt->tci) & 0x0fff;
		if (ntags == 0)
			pi->vlan_outer = vid;
		else if (ntags == 1)
			pi->vlan_inner = vid;
		ntags++;
		*h_proto = vt->proto;
		*cur = vt + 1;
		*l3off += sizeof(*vt);
	}
	return parse_shim(data_end, cur, l3off, h_proto);
}

/* parse fills pi from the frame in [data, data_end). tc_vlan is a VLAN ID
 * the driver already stripped into skb metadata (0 = none). It returns 0, or
 * the counter index of the reason the packet is not accounted. */
static __always_inline int parse(void *data, void *data_end, __u32 wire_len, __u16 tc_vlan, struct pkt_info *pi)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return CNT_PARSE_ERROR;
	void *cur = eth + 1;
	__u32 l3off = sizeof(*eth); /* kept as a number: pointer differences upset the verifier */
	__be16 h_proto = eth->h_proto;
	int ntags = 0;
	if (tc_vlan) { /* bit 15: present (its VID may be 0) */
		pi->vlan_outer = tc_vlan & 0x0fff;
		ntags = 1;
	}
	int err = parse_link(data_end, &cur, &l3off, &h_proto, ntags, pi);
	if (err)
		return err;
	return parse_ip(data, data_end, cur, l3off, h_proto, wire_len, pi);
}

#define ETH_P_TEB_ 0x6558 /* GRE carrying Ethernet */
#define GRE_CSUM_ 0x8000
#define GRE_ROUTING_ 0x4000
#define GRE_KEY_ 0x2000
#define GRE_SEQ_ 0x1000
#define GRE_VERSION_ 0x0007
#define VXLAN_PORT_ 4789
#define GENEVE_PORT_ 6081
/* Deepest tunnel payload offset unwrapped: keeps packet-pointer arithmetic
 * within what the verifier accepts (real headers are far shallower). */
#define MAX_TUNNEL_OFF 0x3fff

/* tunnel_payload returns the offset into the frame of the inner packet of
 * a tunnel packet pi (not a fragment), its Ethertype in *et (IPv4, IPv6
 * or Ethernet) and its tenant in *tid (VXLAN and GENEVE VNI, the top 24
 * bits of a GRE key, which are NVGRE's VSID; else 0): IP-in-IP (4), IPv6
 * in IP (41), GRE version 0 without routing, VXLAN (UDP 4789, VNI flag
 * set) and GENEVE version 0 (UDP 6081); 0 for any other packet, or a
 * tunnel header cut short, which is then accounted as itself. The pcap
 * path's Decoder.tunnel is the same. */
static __always_inline __u32 tunnel_payload(void *data, void *data_end, struct pkt_info *pi, __be16 *et,
					    __u32 *tid)
{
	__u32 off = pi->payload_off;
	__u32 l4len = pi->ip_len - pi->ip_hdr_len;
	if (off > MAX_TUNNEL_OFF)
		return 0;
	__u8 *t = data + off;
	switch (pi->proto) {
	case IPPROTO_IPIP:
		*et = bpf_htons(ETH_P_IP);
		return off;
	case IPPROTO_IPV6:
		*et = bpf_htons(ETH_P_IPV6);
		return off;
	case IPPROTO_GRE: {
		if ((void *)(t + 4) > data_end)
			return 0;
		__u16 fl = ((__u16)t[0] << 8) | t[1];
		if (fl & (GRE_ROUTING_ | GRE_VERSION_))
			return 0;
		__u32 hl = 4 + ((fl & GRE_CSUM_) ? 4 : 0) + ((fl & GRE_KEY_) ? 4 : 0) + ((fl & GRE_SEQ_) ? 4 : 0);
		if ((void *)(t + hl) > data_end || l4len < hl)
			return 0;
		if (fl & GRE_KEY_) {
			__u8 *k = t + ((fl & GRE_CSUM_) ? 8 : 4);
			if ((void *)(k + 3) > data_end)
				return 0;
			*tid = ((__u32)k[0] << 16) | ((__u32)k[1] << 8) | k[2];
		}
		*et = bpf_htons(((__u16)t[2] << 8) | t[3]);
		return off + hl;
	}
	case IPPROTO_UDP: {
		/* t is the UDP payload: the tunnel header's 8 bytes follow. */
		if ((void *)(t + 8) > data_end || l4len < 16)
			return 0;
		if (pi->dport == VXLAN_PORT_) {
			if (!(t[0] & 0x08))
				return 0;
			*et = bpf_htons(ETH_P_TEB_);
			*tid = ((__u32)t[4] << 16) | ((__u32)t[5] << 8) | t[6];
			return off + 8;
		}
		if (pi->dport == GENEVE_PORT_) {
			if (t[0] >> 6)
				return 0;
			__u32 hl = 8 + (__u32)(t[0] & 0x3f) * 4;
			if ((void *)(t + hl) > data_end || l4len < 8 + hl)
				return 0;
			*et = bpf_htons(((__u16)t[2] << 8) | t[3]);
			*tid = ((__u32)t[4] << 16) | ((__u32)t[5] << 8) | t[6];
			return off + hl;
		}
		return 0;
	}
	}
	return 0;
}

/* parse_inner fills pi from the inner packet of a tunnel that parse and
 * tunnel_payload found (ti): IPv4, IPv6 or Ethernet (whose VLAN tags are
 * walked over: the key keeps the outer link's, in ti). */
static __always_inline int parse_inner(void *data, void *data_end, __u32 wire_len, struct tunnel_info *ti,
				       struct pkt_info *pi)
{
	__u32 off = ti->off;
	if (off > MAX_TUNNEL_OFF + 512)
		return CNT_PARSE_ERROR;
	void *cur = data + off;
	__u32 l3off = off;
	__be16 h_proto = ti->et;
	if (h_proto == bpf_htons(ETH_P_TEB_)) {
		struct ethhdr *eth = cur;
		if ((void *)(eth + 1) > data_end)
			return CNT_PARSE_ERROR;
		h_proto = eth->h_proto;
		cur = eth + 1;
		l3off += sizeof(*eth);
		int err = parse_link(data_end, &cur, &l3off, &h_proto, 0, pi);
		if (err)
			return err;
	}
	/* The key keeps the outer link's tags, not the inner Ethernet's, and
	 * the tunnel's tenant. */
	pi->vlan_outer = ti->vlan_outer;
	pi->vlan_inner = ti->vlan_inner;
	pi->tunnel = ti->tunnel;
	int err = parse_ip(data, data_end, cur, l3off, h_proto, ti->end < wire_len ? ti->end : wire_len, pi);
	if (err)
		return err;
	/* The pcap decoder reads the inner packet within the outer datagram
	 * only: headers that reach past its end (into bytes the frame holds
	 * after it) are cut short there, as they are here. */
	if (pi->hdr_end > ti->end)
		return CNT_PARSE_ERROR;
	return 0;
}

#endif
