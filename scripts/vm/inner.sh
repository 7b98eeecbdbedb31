#!/bin/sh
# Runs as root inside the VM that scripts/test-kernels.sh boots, in the
# host's root file system: prepares what the kernel-path tests need, runs
# the test binaries built on the host and writes their output and exit
# status to /mnt (the host's out/vm/result).
. /mnt/env # ROOT, CI, BPF_RUN, COLLECTOR_RUN, E2E_RUN, COUNT, FLOWHAWK_E2E_BIN
export ROOT CI FLOWHAWK_E2E_BIN
# Software emulation stalls a vCPU for milliseconds at times, between the
# kernel's stamp of a packet and tcpdump's (e2e minGapTolerance).
export FLOWHAWK_E2E_GAP_TOLERANCE=20ms
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
	# /dev/net/tun appears once the module is in (nothing opens it by
	# its alias here): the tun capture tests need it.
	"$ROOT/scripts/vm/modprobe" tun || echo "vm: no tun module"
} >> $log 2>&1
rc=0
gotest() { # PACKAGE PATTERN OUTPUT
	(cd "$ROOT/$1" && "$ROOT/out/vm/$1.test" -test.count=${COUNT:-1} -test.v -test.timeout 40m -test.run "$2") > "$3" 2>&1
}
# run runs PACKAGE's tests matching PATTERN. A test that fails runs once
# more, alone: under software emulation a packet can wait milliseconds
# between two stamping points, and a test that passes its second run
# counts as passed, with both runs in the log and its name on a
# "vm: flaky:" line that scripts/test-kernels.sh repeats. A test that
# fails twice fails the tier.
run() { # PACKAGE PATTERN
	[ -n "$2" ] || return 0
	echo "== go test ./$1 -run '$2' (kernel $(uname -r))" >> $log
	out=/mnt/$1.out # on the host as it is written, should the VM die
	gotest "$1" "$2" $out && { cat $out >> $log; return 0; }
	cat $out >> $log
	failed=$(sed -n 's/^--- FAIL: \([^ ]*\).*/\1/p' $out | sort -u | paste -sd'|')
	if [ -z "$failed" ] || [ "${COUNT:-1}" != 1 ]; then
		rc=1 # no test named (a crash, a timeout), or a deliberate repeat
		return
	fi
	echo "== go test ./$1 -run '^($failed)\$' again, after it failed once (kernel $(uname -r))" >> $log
	if gotest "$1" "^($failed)\$" $out; then
		cat $out >> $log
		echo "vm: flaky: $1: $failed failed once and passed when run again" >> $log
	else
		cat $out >> $log
		rc=1
	fi
}
run bpf "$BPF_RUN"
run collector "$COLLECTOR_RUN"
run e2e "$E2E_RUN"
echo $rc > /mnt/rc
