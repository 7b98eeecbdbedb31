#!/usr/bin/env bash
# lab-traffic.sh records flowhawk's labeled lab corpus: real programs talking
# between two network namespaces this script creates (a client namespace
# holding a pool of host addresses and a server namespace), one capture per
# class, written as OUT/<class>/<class>-seed<N>.pcap so that
# `flowhawk dataset --label-dir OUT` labels every flow by its directory.
#
# Classes (each recorded alone, with a capture filter that keeps only its
# own traffic, so labels are exact):
#   web       HTTP downloads of varied sizes and rates (curl; python3 http.server,
#             HTTP/1.0 and keep-alive HTTP/1.1)
#   bulk      iperf3 TCP transfers (both directions, 1-3 streams; data streams only)
#   stream    constant-rate UDP: RTP-like python sender and iperf3 -u
#   dns       lookups that resolve (dig against dnsmasq)
#   ssh       interactive sessions typed key by key, remote commands, scp/sftp copies
#   ping      ICMP echo, IPv4 and IPv6, varied counts, intervals and sizes
#   portscan  nmap -sS scans
#   synflood  hping3 SYN bursts against the server namespace
#   dga       random-name lookups answered NXDOMAIN
#
# Usage: sudo scripts/lab-traffic.sh [--out DIR] [--seed N] [--scale small|full]
#                                   [--classes web,dns,...]
# small takes about a minute, full about five. The seed picks sizes, rates,
# timings, names and addresses, so two seeds give two different corpora.
# Only addresses inside the script's own namespaces are used (10.214.0.0/16,
# fd00:214::/64); everything it starts or creates is removed on exit.
# Needs root, iproute2, ethtool, tcpdump, python3, curl, iperf3, dnsmasq, dig,
# openssh (ssh, scp, sshd, ssh-keygen), ping, nmap, hping3.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
out=lab seed=1 scale=small
all_classes="web bulk stream dns ssh ping portscan synflood dga"
classes=$all_classes
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	--seed) seed=$2; shift 2 ;;
	--seed=*) seed=${1#*=}; shift ;;
	--scale) scale=$2; shift 2 ;;
	--scale=*) scale=${1#*=}; shift ;;
	--classes) classes=${2//,/ }; shift 2 ;;
	--classes=*) classes=${1#*=}; classes=${classes//,/ }; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "lab-traffic: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $scale in
small) k=1 ;;
full) k=4 ;;
*) echo "lab-traffic: --scale must be small or full, not $scale" >&2; exit 2 ;;
esac
[[ $seed =~ ^[0-9]+$ ]] || { echo "lab-traffic: --seed must be a non-negative integer" >&2; exit 2; }
for c in $classes; do
	[[ " $all_classes " == *" $c "* ]] || { echo "lab-traffic: unknown class $c (classes: $all_classes)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "lab-traffic: needs root (network namespaces, raw sockets)" >&2; exit 1; }
missing=
for t in ip ethtool tcpdump python3 curl iperf3 dnsmasq dig ssh scp ssh-keygen ping nmap hping3; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
[ -x /usr/sbin/sshd ] || missing="$missing sshd"
[ -z "$missing" ] || { echo "lab-traffic: missing tools:$missing" >&2; exit 1; }

RANDOM=$seed
# rnd LO HI sets R to a seeded integer in [LO, HI]. (Not a command
# substitution: subshells reseed RANDOM.)
rnd() { R=$(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }
# pick WORD... sets P to one of the words.
pick() { local a=("$@"); P=${a[RANDOM % ${#a[@]}]}; }

id=fhl$$
a=${id}c b=${id}s
nhosts=60
S4=10.214.0.2 S6=fd00:214::2
tmp=$(mktemp -d /tmp/fhlab.XXXXXX)
made_run_sshd=
cleanup() {
	set +e
	if [ -s "$tmp/tcpdump.pid" ]; then kill "$(cat "$tmp/tcpdump.pid")" 2>/dev/null; fi
	jobs -p | xargs -r kill 2>/dev/null
	for n in "$a" "$b"; do ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null; done
	sleep 0.3
	for n in "$a" "$b"; do ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	[ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'lab-traffic: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- network
ip netns add "$a"
ip netns add "$b"
ip link add "${id}0" netns "$a" type veth peer name "${id}1" netns "$b"
for n in "$a" "$b"; do
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
	ip -n "$n" link set lo up
done
ip -n "$a" addr add 10.214.0.1/16 dev "${id}0"
ip -n "$a" addr add fd00:214::1/64 dev "${id}0" nodad
for i in $(seq 1 $nhosts); do
	ip -n "$a" addr add "10.214.1.$i/16" dev "${id}0"
	ip -n "$a" addr add "fd00:214::1:$i/64" dev "${id}0" nodad
done
for i in 2 3 4 5; do
	ip -n "$b" addr add "10.214.0.$i/16" dev "${id}1"
	ip -n "$b" addr add "fd00:214::$i/64" dev "${id}1" nodad
done
ip -n "$a" link set "${id}0" up
ip -n "$b" link set "${id}1" up
ip netns exec "$a" ethtool -K "${id}0" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ip netns exec "$b" ethtool -K "${id}1" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

# host N sets H4/H6 to client host N's addresses; rhost picks one at random.
host() { H4=10.214.1.$1 H6=fd00:214::1:$1; }
rhost() { rnd 1 $nhosts; host "$R"; }

# Servers run in the background outside the job table (so `wait` only waits
# for clients); cleanup kills whatever is left in the namespaces.
srv() { (ip netns exec "$b" "$@" >>"$tmp/servers.log" 2>&1 &); }

# ---------------------------------------------------------------- servers
mkdir -p "$tmp/www" "$tmp/up"
webfiles=()
for i in $(seq 1 16); do
	# log-uniform sizes from ~300 B to ~8 MB (full) or ~2 MB (small)
	rnd 0 1000
	if [ "$scale" = full ]; then max=23; else max=21; fi
	size=$(awk -v r="$R" -v m="$max" 'BEGIN { printf "%d", 2 ^ (8 + (m - 8) * r / 1000) }')
	head -c "$size" /dev/urandom >"$tmp/www/f$i.bin"
	webfiles+=("f$i.bin")
done
printf '<!doctype html><html><head><title>lab</title></head><body>%s</body></html>\n' "$(head -c 3000 /dev/urandom | base64 -w0)" >"$tmp/www/index.html"
webfiles+=(index.html)
srv python3 -m http.server 80 --bind :: --directory "$tmp/www"
srv python3 -m http.server 8080 --bind :: --protocol HTTP/1.1 --directory "$tmp/www"
for p in 5201 5202 5203 5301 5302 5303 5304 5305 5306 5307 5308; do srv iperf3 -s -p "$p"; done

cat >"$tmp/udpsink.py" <<'EOF'
# Discards UDP datagrams on ports 6000-6031 (IPv4 and IPv6).
import selectors, socket
sel = selectors.DefaultSelector()
for port in range(6000, 6032):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        try:
            while True:
                key.fileobj.recv(65535)
        except BlockingIOError:
            pass
EOF
cat >"$tmp/udpstream.py" <<'EOF'
# Sends an RTP-like constant-rate UDP stream: fixed-size datagrams with a
# 12-byte header (sequence, timestamp, SSRC) at a fixed packet rate.
import os, socket, struct, sys, time
src, dst, port, pps, size, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((src, 0))
ssrc = int.from_bytes(os.urandom(4), "big")
body = os.urandom(max(size - 12, 0))
gap = 1.0 / pps
t0 = time.monotonic()
n = 0
while True:
    now = time.monotonic()
    if now - t0 >= secs:
        break
    s.sendto(struct.pack("!BBHII", 0x80, 96, n & 0xFFFF, int(n * 8000 * gap) & 0xFFFFFFFF, ssrc) + body, (dst, port))
    n += 1
    time.sleep(max(0.0, t0 + n * gap - time.monotonic()))
EOF
srv python3 "$tmp/udpsink.py"

# DNS: dnsmasq answers a set of names (A and AAAA) and NXDOMAIN for every
# other name under the TLDs the lab uses.
words=(www mail api cdn static img login auth shop news blog docs app m portal vpn git wiki files media
	status update ntp time search chat video assets accounts store support help download cloud)
domains=(example lab-corp acme intranet contoso northwind fabrikam globex initech umbrella go t ms
	international-widgets)
tlds=(com net org lab info io)
# Optional deeper labels, so that resolving names span the same lengths as
# the random ones of the dga class (6 to 40 characters).
prefixes=("" "" "" "" a. eu. us-east-1. edge-07. img2. static-content. prod.k8s.)
dnsnames=()
dnsargs=()
for d in "${domains[@]}"; do
	pick "${tlds[@]}"
	local_tld=$P
	for w in "${words[@]}"; do
		pick "${prefixes[@]}"
		name=$P$w.$d.$local_tld
		dnsnames+=("$name")
		rnd 2 250
		dnsargs+=("--address=/$name/10.214.9.$R" "--address=/$name/fd00:214::9:$R")
	done
done
for t in "${tlds[@]}" biz ru cn xyz top; do dnsargs+=("--local=/$t/"); done
srv dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=10.214.0.2 \
	--listen-address=fd00:214::2 --port=53 --cache-size=0 --pid-file= "${dnsargs[@]}"

# SSH: own host key and client key in the temp dir; sshd from its own config.
[ -d /run/sshd ] || { mkdir -p /run/sshd && made_run_sshd=1; }
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
cat >"$tmp/sshd_config" <<EOF
Port 22
ListenAddress 10.214.0.2
ListenAddress fd00:214::2
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
MaxStartups 100
MaxSessions 50
PrintMotd no
Subsystem sftp internal-sftp
EOF
srv /usr/sbin/sshd -D -e -f "$tmp/sshd_config"
sshopt=(-F /dev/null -i "$tmp/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5)

# Wait for the servers to listen.
for _ in $(seq 1 50); do
	if ip netns exec "$b" bash -c 'exec 3<>/dev/tcp/10.214.0.2/22 && exec 3<>/dev/tcp/10.214.0.2/80 && exec 3<>/dev/tcp/10.214.0.2/8080' 2>/dev/null &&
		ip netns exec "$a" dig +short +tries=1 +time=1 @10.214.0.2 "${dnsnames[0]}" 2>/dev/null | grep -q .; then
		break
	fi
	sleep 0.2
done

# ---------------------------------------------------------------- capture
C() { ip netns exec "$a" "$@"; }
# cj runs a client command in the background; a failure is logged, not fatal.
cj() {
	local cls=$cur
	{ C "$@" >/dev/null 2>&1 || echo "$cls: exit $?: $*" >>"$tmp/failed"; } &
}
# throttle N waits until fewer than N client jobs run.
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n 2>/dev/null || true; done; }
# pausems MIN MAX sleeps a seeded number of milliseconds.
pausems() { rnd "$1" "$2"; sleep "$(awk -v r="$R" 'BEGIN { printf "%.3f", r / 1000 }')"; }

start_capture() { # class snaplen filter
	cur=$1
	mkdir -p "$out/$1"
	file="$out/$1/$1-seed$seed.pcap"
	(ip netns exec "$a" tcpdump -Z root -i "${id}0" -n -s "$2" -B 16384 -U -w "$file" "$3" >"$tmp/tcpdump.$1.log" 2>&1 &
		echo $! >"$tmp/tcpdump.pid")
	for _ in $(seq 1 50); do grep -q 'listening on' "$tmp/tcpdump.$1.log" 2>/dev/null && break; sleep 0.1; done
	t_start=$SECONDS
}
stop_capture() {
	wait || true
	sleep 1.5 # late FINs/ACKs
	local pid
	pid=$(cat "$tmp/tcpdump.pid")
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	: >"$tmp/tcpdump.pid"
	local got dropped
	got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$tmp/tcpdump.$cur.log")
	dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$tmp/tcpdump.$cur.log")
	log "$cur: ${got:-?} packets in $((SECONDS - t_start)) s, ${dropped:-?} dropped by the kernel -> $file"
	[ "${dropped:-0}" = 0 ] || log "$cur: WARNING: tcpdump dropped packets; flows of this class may be incomplete"
}

# ---------------------------------------------------------------- classes
class_web() {
	start_capture web 160 'tcp port 80 or tcp port 8080'
	local n=$((40 * k)) i j nf urls fam hostaddr
	for i in $(seq 1 $n); do
		rhost
		rnd 1 4
		fam=4 hostaddr=$S4
		[ "$R" = 1 ] && fam=6 hostaddr="[$S6]"
		local src=$H4
		[ $fam = 6 ] && src=$H6
		rnd 1 3
		nf=$R
		urls=()
		pick 80 80 8080
		local port=$P
		for j in $(seq 1 "$nf"); do
			pick "${webfiles[@]}"
			urls+=("http://$hostaddr:$port/$P")
		done
		local extra=()
		rnd 1 4
		[ "$R" = 1 ] && { rnd 100 3000; extra=(--limit-rate "${R}k"); }
		if [ "$port" = 80 ]; then
			# HTTP/1.0 server: one connection per file
			for u in "${urls[@]}"; do cj curl -s -o /dev/null --max-time 30 --interface "$src" "${extra[@]}" "$u"; done
		else
			# keep-alive: the files of a session share one connection
			local args=()
			for u in "${urls[@]}"; do args+=(-o /dev/null "$u"); done
			cj curl -s --max-time 30 --interface "$src" "${extra[@]}" "${args[@]}"
		fi
		throttle 6
		pausems 20 400
	done
	stop_capture
}

class_bulk() {
	start_capture bulk 128 'tcp portrange 20000-29999 and tcp portrange 5201-5203'
	local n=$((4 * k)) i cport=20000
	for i in $(seq 1 $n); do
		for p in 5201 5202 5203; do
			rhost
			local dst=$S4 src=$H4
			rnd 1 4
			[ "$R" = 1 ] && { dst=$S6 src=$H6; }
			rnd 1 3
			local streams=$R
			rnd 1 $((1 + k))
			local secs=$R
			rnd 5 50
			local rate=${R}M
			local rev=()
			rnd 1 3
			[ "$R" = 1 ] && rev=(-R)
			cj iperf3 -c "$dst" -p "$p" -B "$src" --cport "$cport" -P "$streams" -t "$secs" -b "$rate" "${rev[@]}"
			cport=$((cport + 10))
			pausems 50 500
		done
		wait || true
		pausems 100 600
	done
	stop_capture
}

class_stream() {
	start_capture stream 128 'udp and (portrange 6000-6031 or portrange 20000-29999)'
	local n=$((12 * k)) i port=6000 cport=20000 iport=0
	for i in $(seq 1 $n); do
		rhost
		local dst=$S4 src=$H4
		rnd 1 4
		[ "$R" = 1 ] && { dst=$S6 src=$H6; }
		rnd 4 $((6 + 3 * k))
		local secs=$R
		rnd 1 3
		# (iperf3 3.12 cannot run UDP over IPv6 bound to one of several
		# addresses: its hello is never answered; IPv6 streams use python.)
		if [ "$R" -le 2 ] || [ "$dst" = "$S6" ]; then
			# RTP-like: voice (small packets, 25-100 pps) or video (large, 100-500 pps)
			local pps size
			rnd 1 2
			if [ "$R" = 1 ]; then rnd 25 100; pps=$R; rnd 60 320; size=$R; else rnd 100 500; pps=$R; rnd 800 1300; size=$R; fi
			cj python3 "$tmp/udpstream.py" "$src" "$dst" "$port" "$pps" "$size" "$secs"
			port=$((6000 + (port - 6000 + 1) % 32))
		else
			local p=$((5301 + iport))
			iport=$(((iport + 1) % 8))
			rnd 200 1400
			local len=$R
			rnd 1 20
			cj iperf3 -c "$dst" -p "$p" -B "$src" --cport "$cport" -u -b "${R}M" -l "$len" -t "$secs"
			cport=$((cport + 10))
		fi
		throttle 10
		pausems 100 900
	done
	stop_capture
}

dig_job() { # server name type src
	# dig sends an EDNS cookie by default; stub resolvers often send none or
	# no EDNS at all, so both classes get all three.
	pick "" "" +nocookie +noedns
	cj dig +tries=1 +time=2 $P -b "$4" @"$1" "$2" "$3"
}

class_dns() {
	start_capture dns 0 'udp port 53'
	local n=$((90 * k)) i
	for i in $(seq 1 $n); do
		rhost
		pick "${dnsnames[@]}"
		local name=$P
		pick A A A AAAA
		rnd 1 4
		if [ "$R" = 1 ]; then dig_job "$S6" "$name" "$P" "$H6"; else dig_job "$S4" "$name" "$P" "$H4"; fi
		throttle 8
		pausems 5 200
	done
	stop_capture
}

class_dga() {
	start_capture dga 0 'udp port 53'
	local n=$((90 * k)) i j
	rhost
	local chars=abcdefghijklmnopqrstuvwxyz0123456789
	for i in $(seq 1 $n); do
		# a DGA host tries several names in a burst
		rnd 1 5
		[ "$R" -le 2 ] && rhost
		rnd 6 30
		local len=$R name=
		for j in $(seq 1 "$len"); do name+=${chars:RANDOM % 36:1}; done
		pick com net org info biz ru cn xyz top
		name+=.$P
		pick A A A AAAA
		rnd 1 4
		if [ "$R" = 1 ]; then dig_job "$S6" "$name" "$P" "$H6"; else dig_job "$S4" "$name" "$P" "$H4"; fi
		throttle 8
		pausems 5 150
	done
	stop_capture
}

# typer SEED CMD... types the commands key by key with human-like gaps.
typer() {
	RANDOM=$1
	shift
	sleep 1
	local c i
	for c in "$@" exit; do
		for ((i = 0; i < ${#c}; i++)); do
			printf '%s' "${c:i:1}"
			sleep "0.$(printf '%03d' $((40 + RANDOM % 220)))"
		done
		printf '\r'
		sleep "$((RANDOM % 2)).$(printf '%03d' $((RANDOM % 1000)))"
	done
}

class_ssh() {
	start_capture ssh 160 'tcp port 22'
	local cmds=("uptime" "ls -la /etc | head -20" "cat /etc/os-release" "df -h" "ps aux | head -15"
		"free -m" "uname -a" "id" "date" "ls /usr/bin | wc -l" "cat /proc/loadavg" "ip -br addr"
		"head -5 /etc/passwd" "echo \$SHELL" "ls -l /tmp | head" "w" "whoami" "hostname")
	local n=$((20 * k)) i j
	for i in $(seq 1 $n); do
		rhost
		local dst=$S4 src=$H4
		rnd 1 4
		[ "$R" = 1 ] && { dst=$S6 src=$H6; }
		rnd 1 4
		case $R in
		1 | 2) # interactive: a shell on a pty, typed key by key
			local picked=()
			rnd 2 5
			for j in $(seq 1 "$R"); do pick "${cmds[@]}"; picked+=("$P"); done
			rnd 1 100000
			local s=$R
			{ typer "$s" "${picked[@]}" | C ssh "${sshopt[@]}" -tt -b "$src" "root@$dst" >/dev/null 2>&1 ||
				echo "ssh: interactive session failed" >>"$tmp/failed"; } &
			;;
		3) # remote commands
			pick "${cmds[@]}"
			local c1=$P
			pick "${cmds[@]}"
			cj ssh "${sshopt[@]}" -b "$src" "root@$dst" "$c1; $P"
			;;
		4) # copies: legacy scp (-O) or sftp-based scp, up or down
			pick "${webfiles[@]}"
			local f=$P legacy=()
			rnd 1 2
			[ "$R" = 1 ] && legacy=(-O)
			local rdst=$dst
			[[ $dst == *:* ]] && rdst="[$dst]"
			rnd 1 2
			if [ "$R" = 1 ]; then
				cj scp "${sshopt[@]}" "${legacy[@]}" -o BindAddress="$src" "$tmp/www/$f" "root@$rdst:$tmp/up/$i-$f"
			else
				cj scp "${sshopt[@]}" "${legacy[@]}" -o BindAddress="$src" "root@$rdst:$tmp/www/$f" "$tmp/up/d$i-$f"
			fi
			;;
		esac
		throttle 6
		pausems 100 800
	done
	stop_capture
}

class_ping() {
	start_capture ping 0 '(icmp and (icmp[0] = 8 or icmp[0] = 0)) or (icmp6 and (ip6[40] = 128 or ip6[40] = 129))'
	# ICMP has no ports: a flow is a (host, server) pair, so every session
	# uses a pair not used before in this capture.
	local n=$((24 * k)) i used=" "
	for i in $(seq 1 $n); do
		local h s fam key
		while :; do
			rnd 1 $nhosts
			h=$R
			rnd 2 5
			s=$R
			rnd 1 3
			fam=4
			[ "$R" = 1 ] && fam=6
			key="$fam-$h-$s"
			[[ $used == *" $key "* ]] || break
		done
		used+="$key "
		host "$h"
		rnd 2 $((6 + 4 * k))
		local count=$R
		pick 0.2 0.2 0.5 1
		local gap=$P
		pick 56 56 56 64 100 512 1000 1400
		if [ $fam = 4 ]; then
			cj ping -n -q -c "$count" -i "$gap" -s "$P" -W 1 -I "$H4" "10.214.0.$s"
		else
			cj ping -6 -n -q -c "$count" -i "$gap" -s "$P" -W 1 -I "$H6" "fd00:214::$s"
		fi
		throttle 10
		pausems 20 300
	done
	stop_capture
}

class_portscan() {
	start_capture portscan 0 'tcp'
	local n=$((3 * k)) i
	for i in $(seq 1 $n); do
		rhost
		local target=$S4 src=$H4 six=()
		rnd 1 4
		[ "$R" = 1 ] && { target=$S6 src=$H6 six=(-6); }
		local ports=() timing=()
		rnd 1 3
		case $R in
		1) rnd 50 $((100 + 50 * k)); ports=(--top-ports "$R") ;;
		2) rnd 1 2000; ports=(-p "$R-$((R + 40 + 20 * k))") ;;
		3) rnd 1 60000; ports=(-p "$R-$((R + 60))" --scan-delay "$(((RANDOM % 20) + 2))ms") ;;
		esac
		pick -T3 -T4 -T4 -T5
		timing=("$P")
		cj nmap "${six[@]}" -sS -n -Pn "${timing[@]}" --max-retries 1 -e "${id}0" -S "$src" "${ports[@]}" "$target"
		wait || true
		pausems 200 1000
	done
	stop_capture
}

class_synflood() {
	start_capture synflood 0 'tcp'
	local n=$((3 * k)) i
	for i in $(seq 1 $n); do
		rhost
		rnd 4 $((6 + k))
		local count=$((R * 15))
		pick 80 80 22 8080 5201 443
		local port=$P rate
		pick --faster -i\ u500 -i\ u1000 -i\ u2000
		rate=$P
		# shellcheck disable=SC2086 # rate is one or two words on purpose
		cj bash -c 'hping3 "$@"; [ $? -le 1 ]' hping3 -S -p "$port" -c "$count" $rate -a "$H4" "$S4"
		wait || true
		pausems 200 1000
	done
	stop_capture
}

mkdir -p "$out"
log "seed $seed, scale $scale, classes: $classes -> $out"
for c in $classes; do "class_$c"; done
if [ -s "$tmp/failed" ]; then
	log "client commands that failed ($(wc -l <"$tmp/failed")):"
	sed 's/^/  /' "$tmp/failed" | head -20 >&2
fi
# A record of how each capture was made, appended per run (a file outside
# the class directories, so `flowhawk dataset --label-dir` ignores it).
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) scripts/lab-traffic.sh --seed $seed --scale $scale --classes ${classes// /,} ($(uname -r))"
	for c in $classes; do echo "$c/$c-seed$seed.pcap"; done
} >>"$out/lab-runs.txt"
log "done"
