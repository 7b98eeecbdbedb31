#!/usr/bin/env bash
# Records testdata/demo.pcapng: real traffic between two network namespaces
# joined by a veth pair (HTTP downloads, DNS lookups that resolve and that
# fail, ping, a UDP stream, a refused TCP connection and a short SYN scan).
# Needs root, iproute2, ethtool, tcpdump, python3, curl, dnsmasq, dig, nc, nmap.
# Offloads are turned off so the capture holds wire-sized packets, not
# 64 KB GSO/GRO aggregates.
set -euo pipefail
out=${1:-testdata/demo.pcap}
id=fhdemo$$
a=${id}a b=${id}b
cleanup() {
	[ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null || true
	ip netns pids "$b" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	rm -rf "$tmp"
}
tmp=$(mktemp -d)
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add "${id}0" netns "$a" type veth peer name "${id}1" netns "$b"
ip -n "$a" addr add 10.213.0.1/24 dev "${id}0"
ip -n "$b" addr add 10.213.0.2/24 dev "${id}1"
ip -n "$a" addr add fd00:213::1/64 dev "${id}0" nodad
ip -n "$b" addr add fd00:213::2/64 dev "${id}1" nodad
for n in "$a" "$b"; do ip -n "$n" link set lo up; done
ip -n "$a" link set "${id}0" up
ip -n "$b" link set "${id}1" up
ip netns exec "$a" ethtool -K "${id}0" tso off gso off gro off tx off >/dev/null 2>&1 || true
ip netns exec "$b" ethtool -K "${id}1" tso off gso off gro off tx off >/dev/null 2>&1 || true

# Server side: HTTP files of varied sizes and a DNS server for lab.test.
mkdir -p "$tmp/www"
head -c 2000 /dev/urandom >"$tmp/www/small.bin"
head -c 100000 /dev/urandom >"$tmp/www/medium.bin"
head -c 500000 /dev/urandom >"$tmp/www/large.bin"
echo '<html><body>flowhawk demo</body></html>' >"$tmp/www/index.html"
ip netns exec "$b" python3 -m http.server 8080 --bind :: --directory "$tmp/www" >/dev/null 2>&1 &
ip netns exec "$b" dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=10.213.0.2 \
	--bind-interfaces --port=53 --address=/www.lab.test/10.213.0.2 --address=/api.lab.test/10.213.0.2 \
	--local=/test/ >/dev/null 2>&1 &
ip netns exec "$b" nc -lu 10.213.0.2 5000 >/dev/null 2>&1 &
sleep 1

ip netns exec "$a" tcpdump -i "${id}0" -w "$tmp/demo.pcap" --immediate-mode -U -s 0 -n >/dev/null 2>&1 &
tcpdump_pid=$!
sleep 1

A() { ip netns exec "$a" "$@"; }
A ping -c 3 -i 0.2 10.213.0.2 >/dev/null
A ping -6 -c 2 -i 0.2 fd00:213::2 >/dev/null
for name in www.lab.test api.lab.test; do A dig +short +tries=1 +time=1 @10.213.0.2 "$name" >/dev/null; done
for name in xkqjvbzwtr.test qpwmzlkd3f.test; do A dig +tries=1 +time=1 @10.213.0.2 "$name" >/dev/null || true; done
for f in index.html small.bin medium.bin large.bin; do A curl -s -o /dev/null "http://10.213.0.2:8080/$f"; done
A curl -s -o /dev/null "http://[fd00:213::2]:8080/medium.bin"
A bash -c 'for i in $(seq 1 20); do printf "sample %03d\n" $i; sleep 0.05; done | nc -u -w1 10.213.0.2 5000' || true
A curl -s -o /dev/null --max-time 2 "http://10.213.0.2:9999/" || true
A nmap -sS -n -Pn -p 1-300 --max-retries 0 10.213.0.2 >/dev/null 2>&1 || true
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=
mkdir -p "$(dirname "$out")"
cp "$tmp/demo.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
