// Package e2e holds end-to-end tests of the kernel path (Linux, root):
// each test builds its own pair of network namespaces joined by a veth
// pair, attaches the capture to the client end, records the same interface
// with tcpdump, sends real traffic (ping, curl, nc, dig, hping3), and
// compares the kernel path's flows with the pcap path's flows from the
// tcpdump file. The package has no non-test code.
package e2e
