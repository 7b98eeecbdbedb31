#!/usr/bin/env bash
# Installs the Debian packages flowhawk's build, tests and benchmarks use,
# when any is missing. Used by `make test` (through `make deps`) and .ci/run.
set -euo pipefail
packages=(
	# eBPF toolchain (make generate / check-generate)
	clang llvm libbpf-dev bpftool
	# capture, traffic and peers for end-to-end tests and parity checks
	iproute2 ethtool tcpdump tshark iputils-ping curl netcat-openbsd dnsutils dnsmasq-base wireguard-tools
	nmap hping3 iperf3 openssh-server openssh-client python3 netsniff-ng
	# flow peers and collectors used by tests and benchmarks
	softflowd argus-server argus-client nfdump pmacct nats-server
	# report rendering test
	chromium
	# make test-kernels: Debian 12's kernel under qemu, busybox for its initramfs
	qemu-system-x86 busybox-static xz-utils
	# classifier comparison
	python3-sklearn
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages (run as root to install them): ${missing[*]}" >&2
	exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
