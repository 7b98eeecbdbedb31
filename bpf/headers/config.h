/* config.h: tunables set by the loader before the programs are loaded
 * (cilium/ebpf rewrites these volatile consts in .rodata). */
#ifndef FLOWHAWK_CONFIG_H
#define FLOWHAWK_CONFIG_H

#include <linux/types.h>

/* Number of first packets of each flow sent to the ring buffer. */
volatile const __u32 max_samples = 32;
/* 1-in-N packet sampling; 0 or 1 accounts every packet. */
volatile const __u32 sample_rate = 0;
/* Send DNS (port 53) payload snippets to the ring buffer. */
volatile const __u8 dns_snippets = 1;
/* Unwrap one level of tunnel (IP-in-IP, GRE, VXLAN, GENEVE): a tunneled
 * packet counts in its inner flow (parse.h, tunnel_payload). */
volatile const __u8 decap = 0;
/* Wake the ring-buffer reader only once this many bytes wait (0: on
 * every record). The collector's reader also wakes itself at least every
 * 100 ms, so records wait that long at most; a wakeup per record is a
 * wakeup per packet of a flood of new flows. */
volatile const __u64 wake_bytes = 0;
/* How long a flow FIN/RST closed keeps taking packets (the flow table's
 * close grace, ns): a later packet starts a new flow, as a SYN does at
 * once. */
volatile const __u64 close_grace_ns = 2000000000ULL;

/* Not a const: the loader sets it after loading, before it attaches the XDP
 * program in generic mode (the kernel's choice, when asked for none, is
 * known only then). Generic XDP runs on the CPU that received the packet
 * as a socket buffer, which on a veth or tun is the sending CPU: one
 * direction of a flow can then run on several CPUs at once, and XDP's
 * plain adds would lose counts, so with it set XDP takes the flow's spin
 * lock as TC does. */
volatile __u8 xdp_lock = 0;

#endif
