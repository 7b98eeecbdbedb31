#!/bin/sh
# Runs as root inside the VM that scripts/test-kernels.sh boots, in the
# host's root file system: prepares what the kernel-path tests need, runs
# the test binaries built on the host and writes their output and exit
# status to /mnt (the host's out/vm/result).
. /mnt/env # ROOT, CI, BPF_RUN, COLLECTOR_RUN, E2E_RUN, FLOWHAWK_E2E_BIN
export ROOT CI FLOWHAWK_E2E_BIN
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
log=/mnt/log
{
	echo "vm: kernel $(uname -r), $(nproc) CPUs"
	mount -t bpf bpf /sys/fs/bpf
	mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
	ip link set lo up
	rel=$(uname -r)
	mkdir -p /lib/modules/$rel && mount --bind "$ROOT/out/vm/kernel/lib/modules/$rel" /lib/modules/$rel
	echo "$ROOT/scripts/vm/modprobe" > /proc/sys/kernel/modprobe
} >> $log 2>&1
rc=0
run() { # PACKAGE PATTERN
	[ -n "$2" ] || return 0
	echo "== go test ./$1 -run '$2' (kernel $(uname -r))" >> $log
	(cd "$ROOT/$1" && "$ROOT/out/vm/$1.test" -test.count=1 -test.v -test.timeout 40m -test.run "$2") >> $log 2>&1 || rc=1
}
run bpf "$BPF_RUN"
run collector "$COLLECTOR_RUN"
run e2e "$E2E_RUN"
echo $rc > /mnt/rc
