// Package collector turns packets (from pcap files or from the kernel) into
// bidirectional flow records: the flow key, the flow record, the flow table
// with its timeouts, and the packet sources.
package collector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Key is the canonical bidirectional flow key. Both directions of a
// conversation map to the same Key: the endpoint that sorts lower (address,
// then port) is "Lo". Its memory layout is the one of struct flow_key in
// bpf/flow.h (44 bytes, ports and VLAN IDs in host byte order, IPv4
// addresses as IPv4-mapped IPv6 ::ffff:a.b.c.d), so the kernel map can be
// read straight into it.
type Key struct {
	AddrLo [16]byte
	AddrHi [16]byte
	// PortLo and PortHi are the TCP/UDP/SCTP ports; 0 for other protocols.
	PortLo uint16
	PortHi uint16
	// VLANOuter and VLANInner are the 802.1Q/802.1ad VLAN IDs (0 = none), so
	// the same 5-tuple on two VLANs is two flows.
	VLANOuter uint16
	VLANInner uint16
	Proto     uint8
	// Tunnel is the tenant of a decapsulated packet (--decap): a VXLAN or
	// GENEVE VNI, or an NVGRE VSID (the top 24 bits of a GRE key),
	// big-endian; zero otherwise. Tenants whose address spaces overlap
	// stay apart, as VLANs do.
	Tunnel [3]uint8
}

// KeySize is the size of Key and of struct flow_key in bytes.
const KeySize = 44

// Endpoint is one side of a flow.
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

// MakeKey builds the canonical key for a packet from src to dst and reports
// whether src is the Lo endpoint. a and b are 16-byte (IPv4-mapped for v4)
// addresses.
func MakeKey(src, dst *[16]byte, sport, dport uint16, proto uint8, vlanOuter, vlanInner uint16) (k Key, srcIsLo bool) {
	c := bytes.Compare(src[:], dst[:])
	srcIsLo = c < 0 || (c == 0 && sport <= dport)
	if srcIsLo {
		k.AddrLo, k.AddrHi, k.PortLo, k.PortHi = *src, *dst, sport, dport
	} else {
		k.AddrLo, k.AddrHi, k.PortLo, k.PortHi = *dst, *src, dport, sport
	}
	k.Proto, k.VLANOuter, k.VLANInner = proto, vlanOuter, vlanInner
	return k, srcIsLo
}

// Lo returns the Lo endpoint.
func (k *Key) Lo() Endpoint { return Endpoint{addrFrom16(k.AddrLo), k.PortLo} }

// Hi returns the Hi endpoint.
func (k *Key) Hi() Endpoint { return Endpoint{addrFrom16(k.AddrHi), k.PortHi} }

// IsIPv4 reports whether both addresses are IPv4-mapped.
func (k *Key) IsIPv4() bool {
	return isMapped(k.AddrLo) && isMapped(k.AddrHi)
}

func isMapped(a [16]byte) bool {
	return binary.BigEndian.Uint64(a[:8]) == 0 && a[8] == 0 && a[9] == 0 && a[10] == 0xff && a[11] == 0xff
}

func addrFrom16(a [16]byte) netip.Addr {
	return netip.AddrFrom16(a).Unmap()
}

// Hash is a fast, well-mixed 64-bit hash of the key, used to shard flows.
func (k *Key) Hash() uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		h ^= v
		h *= 1099511628211
		h ^= h >> 29
	}
	mix(binary.LittleEndian.Uint64(k.AddrLo[0:8]))
	mix(binary.LittleEndian.Uint64(k.AddrLo[8:16]))
	mix(binary.LittleEndian.Uint64(k.AddrHi[0:8]))
	mix(binary.LittleEndian.Uint64(k.AddrHi[8:16]))
	mix(uint64(k.PortLo) | uint64(k.PortHi)<<16 | uint64(k.VLANOuter)<<32 | uint64(k.VLANInner)<<48)
	mix(k.protoTunnel())
	return h
}

// protoTunnel packs Proto and Tunnel into one word for the hashes.
func (k *Key) protoTunnel() uint64 {
	return uint64(k.Proto) | uint64(k.TunnelID())<<8
}

// TunnelID returns Tunnel as a number (0 = none).
func (k *Key) TunnelID() uint32 {
	return uint32(k.Tunnel[0])<<16 | uint32(k.Tunnel[1])<<8 | uint32(k.Tunnel[2])
}

// SetTunnelID stores a 24-bit tenant ID in Tunnel.
func (k *Key) SetTunnelID(id uint32) {
	k.Tunnel = [3]uint8{byte(id >> 16), byte(id >> 8), byte(id)}
}

// String formats the key as "proto lo:port <-> hi:port [vlan] [tunnel]".
func (k Key) String() string {
	s := fmt.Sprintf("%d %s <-> %s", k.Proto, netip.AddrPortFrom(addrFrom16(k.AddrLo), k.PortLo), netip.AddrPortFrom(addrFrom16(k.AddrHi), k.PortHi))
	if k.VLANOuter != 0 || k.VLANInner != 0 {
		s += fmt.Sprintf(" vlan %d/%d", k.VLANOuter, k.VLANInner)
	}
	if id := k.TunnelID(); id != 0 {
		s += fmt.Sprintf(" tunnel %d", id)
	}
	return s
}

// Addr16 converts an address to the 16-byte form used in Key.
func Addr16(a netip.Addr) [16]byte { return a.As16() }
