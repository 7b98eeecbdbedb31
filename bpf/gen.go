// Package bpf holds flowhawk's eBPF programs (XDP or TC ingress, TC egress) and
// the Go bindings bpf2go generates for them. The C sources are split into
// headers/flow.h (key, value, events), headers/maps.h, headers/config.h and
// headers/parse.h; the generated flowhawk_bpfel.go and .o are committed so
// building needs no clang.
package bpf

//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target bpfel -type flow_key -type flow_key4 -type flow_value -type dir_stats -type pkt_event -type dns_event -type end_event -type flow_event Flowhawk flowhawk.c -- -I./headers
