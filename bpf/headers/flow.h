/* flow.h: the flow key, the per-flow map value and the ring-buffer events.
 * struct flow_key is byte-identical to Go's collector.Key (44 bytes); a Go
 * test checks sizes and offsets. */
#ifndef FLOWHAWK_FLOW_H
#define FLOWHAWK_FLOW_H

#include <linux/types.h>
#include <linux/bpf.h>

/* Canonical bidirectional key: lo is the endpoint with the lexicographically
 * smaller (address, port); IPv4 addresses are IPv4-mapped IPv6
 * (::ffff:a.b.c.d); ports and VLAN IDs in host byte order. */
struct flow_key {
	__u8 addr_lo[16];
	__u8 addr_hi[16];
	__u16 port_lo;
	__u16 port_hi;
	__u16 vlan_outer;
	__u16 vlan_inner;
	__u8 proto;
	/* With decap, the tenant of the tunnel the packet came in: a VXLAN or
	 * GENEVE VNI, or an NVGRE VSID (a GRE key's top 24 bits), big-endian;
	 * 0 otherwise. Overlapping tenant address spaces stay apart. */
	__u8 tunnel[3];
};

/* The IPv4 flow map's key: struct flow_key with the addresses' last four
 * bytes only (the ::ffff:0:0/96 prefix is implied), in network byte order.
 * Its lo/hi order is flow_key's, since mapped addresses share the prefix.
 * 20 bytes hash in one jhash round instead of three: about 10 ns less per
 * packet on the lookup (docs/kernel.md). */
struct flow_key4 {
	__be32 addr_lo;
	__be32 addr_hi;
	__u16 port_lo;
	__u16 port_hi;
	__u16 vlan_outer;
	__u16 vlan_inner;
	__u8 proto;
	__u8 tunnel[3];
};

/* Side of a packet within its key: SIDE_LO means sent by the lo endpoint. */
#define SIDE_LO 0
#define SIDE_HI 1

/* Per-direction statistics, indexed by sending side (lo, hi). */
struct dir_stats {
	__u64 packets;
	__u64 bytes;         /* sum of IP datagram lengths */
	__u64 iplen_sq;      /* sum of squares of IP lengths */
	__u64 payload_bytes; /* sum of transport payload lengths */
	__u64 payload_sq;    /* sum of squares of payload lengths */
	__u64 ip_hdr_bytes;
	__u64 l4_hdr_bytes;
	__u64 data_packets;
	__u64 first; /* CLOCK_MONOTONIC ns */
	__u64 last;
	/* The sum of the gaps is last - first (each gap is the advance of
	 * last), so it is not kept. */
	/* The sum of squares of the gaps is taken around the direction's first
	 * gap (iat_ref, ns), in units of 1.024 us: sum of
	 * round(|gap - iat_ref| / 1024)^2. Around the first gap, the gaps of a
	 * periodic flow (a second apart, microseconds of jitter) keep their
	 * spread; raw squares in those units would lose it (and ns^2 would
	 * overflow). */
	__u64 iat_sq;
	__u64 iat_ref;
	__u64 iat_min;  /* ns */
	__u64 iat_max;  /* ns */
	/* Flow-level gaps (to the flow's previous packet, either direction)
	 * that this direction's packets end, kept per direction so that XDP
	 * adds without a locked instruction (flowhawk.c, above dev_sq): their sum, their
	 * first (flow_iat_ref, ns) and the sum of squares around it as
	 * iat_sq. User space merges the two directions' moments. */
	__u64 flow_iat_sq;
	__u64 flow_iat_ref;
	__u64 flow_iat_sum;
	__u32 flag_counts[8];
	__u32 payload_min;
	__u32 payload_max;
	__u32 iplen_min;
	__u32 iplen_max;
	__s32 init_window; /* -1 until a TCP packet is seen */
	__u16 min_l4_hdr;
	__u8 fin;
	__u8 pad;
};

/* Flow-level flags. */
#define FLOW_F_RST 1
#define FLOW_F_CLOSED 2 /* both FINs or RST seen: end event sent */

struct flow_value {
	struct dir_stats dir[2];
	__u64 first;
	__u64 last;
	/* Gaps between the flow's packets, any direction: the sum is
	 * last - first, the other moments are in dir_stats.flow_iat_*. */
	__u64 iat_min;
	__u64 iat_max;
	__u64 close_ts; /* when FIN/FIN or RST closed the flow, 0 if open */
	__u32 samples_sent; /* first-N samples put in the ring buffer */
	__u32 samples_lost; /* first-N samples lost to a full ring buffer */
	__u32 wrong_frags;
	__u8 initiator; /* SIDE_LO or SIDE_HI: who started the flow */
	__u8 flags;
	__u8 first_side; /* side of the flow's first packet, which ends no gap */
	/* The ICMP or ICMPv6 type and code of the flow's first packet (0 for
	 * other protocols): they name its NSL-KDD service (eco_i, ecr_i), and
	 * a flow whose samples the ring buffer lost has no other record of
	 * them. */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 pad[3];
	/* Held by the TC programs while they update the flow (see above dev_sq in
	 * flowhawk.c); programs may not read or write it directly, so copies
	 * of a value stop at FLOW_VALUE_DATA. */
	struct bpf_spin_lock lock;
};

/* The bytes of struct flow_value before its lock: what copies take. */
#define FLOW_VALUE_DATA __builtin_offsetof(struct flow_value, lock)

/* Ring-buffer event types (first byte of every event). */
#define EV_SAMPLE 1 /* one packet, maybe with a DNS payload snippet */
#define EV_END 2    /* a flow closed with FIN/FIN or RST */
#define EV_FLOW 3   /* a closed flow whose key a new SYN reused */

/* pkt_event flags */
#define PKT_F_SAMPLE 1   /* one of the flow's first N packets */
#define PKT_F_PAYLOAD 2  /* followed by a payload snippet (struct dns_event) */
#define PKT_F_FRAG_FIRST 4
#define PKT_F_FRAG_LATER 8
#define PKT_F_WRONG_FRAG 16
#define PKT_F_NEW_FLOW 32 /* this packet created the flow */

#define SNIP_LEN 256

struct pkt_event {
	__u8 type; /* EV_SAMPLE */
	__u8 side; /* sending side, SIDE_LO or SIDE_HI */
	__u8 tcp_flags;
	__u8 flags; /* PKT_F_* */
	__u16 ip_hdr_len;
	__u16 l4_hdr_len;
	__u32 ip_len;
	__u32 payload_len;
	__u64 ts; /* CLOCK_MONOTONIC ns */
	__u64 flow_first; /* the flow's first timestamp: ties the sample to one flow incarnation */
	__u32 seq;
	__u32 ack;
	__u32 wire_len;
	__u16 window;
	__u16 snap_len; /* bytes of payload in the snippet */
	/* A GSO/GRO packet (TC only) stands for gso_segs wire segments of
	 * gso_size payload bytes each, the last one shorter; its lengths,
	 * flags and seq are those of the whole. 1 and 0 otherwise. */
	__u16 gso_segs;
	__u16 gso_size;
	__u8 ttl;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 pad;
	struct flow_key key;
};

struct dns_event {
	struct pkt_event pkt;
	__u8 payload[SNIP_LEN];
};

struct end_event {
	__u8 type; /* EV_END */
	__u8 reason; /* 1 FIN, 2 RST */
	__u8 pad[6];
	__u64 ts;
	struct flow_key key;
	__u8 pad2[4];
};

/* A whole flow record, sent when a new TCP SYN reuses the key of a flow
 * that FIN/RST already closed (the pcap table's EndReused). */
struct flow_event {
	__u8 type; /* EV_FLOW */
	__u8 reason; /* 1 FIN, 2 RST */
	__u8 pad[6];
	struct flow_key key;
	__u8 pad2[4];
	struct flow_value value;
};

/* Loss and accounting counters (per-CPU array indexes). */
enum counter {
	CNT_PACKETS = 0,     /* packets seen by the programs */
	CNT_ACCOUNTED,       /* unused: accounted = packets - the not-accounted counters */
	CNT_NON_IP,          /* not IPv4/IPv6: counted and passed */
	CNT_OTHER_L4,        /* IP but not TCP/UDP/SCTP/ICMP: flow with ports 0 */
	CNT_PARSE_ERROR,     /* truncated or malformed headers */
	CNT_EXT_LIMIT,       /* IPv6 extension chain longer than the parse limit */
	CNT_MAP_FULL,        /* new IPv4 flow not stored: flows4 full */
	CNT_RINGBUF_FULL,    /* event dropped: ring buffer full */
	CNT_SAMPLED_OUT,     /* packets skipped by 1-in-N sampling */
	CNT_FRAG_NO_FIRST,   /* non-first fragment whose first fragment was not seen */
	CNT_FRAGMENTS,       /* IP fragments seen */
	CNT_FORWARDED,       /* egress packets received on a monitored interface: counted there by XDP */
	CNT_SEGMENTED,       /* GSO/GRO packets (TC) accounted as their wire segments */
	CNT_MAP_FULL6,       /* new IPv6 flow not stored: flows (the IPv6 map) full */
	CNT_DECAP,           /* tunnel packets (decap set) whose inner packet was parsed instead */
	CNT_REPULLED,        /* TC packets parsed again after pulling headers past the first TC_PULL bytes */
	CNT_MAX,
};

/* Fragment cache: (src, dst, id, proto, tunnel, VLAN tags) -> ports and
 * upper-layer protocol of the first fragment; proto is pkt_info.frag_proto. The tenant (tunnel ID, VLAN tags) is part of the
 * key as it is of the flow's: two tenants may reuse the same addresses
 * and IP IDs, and must not take each other's ports. tunnel is 24-bit
 * big-endian as in flow_key; the tags are host order. 44 bytes. */
struct frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;
	__u8 proto;
	__u8 tunnel[3];
	__u16 vlan_outer;
	__u16 vlan_inner;
};

struct frag_ports {
	__u16 sport;
	__u16 dport;
	__u8 proto; /* the upper-layer protocol, which an IPv6 later fragment does not show */
	__u8 pad;
	__u16 end; /* the first fragment's data length: a later fragment starting before it overlaps (teardrop) */
};

#endif
