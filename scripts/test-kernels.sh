#!/usr/bin/env bash
# make test-kernels: the kernel-path tests on the kernel a fresh Debian 12
# gateway runs, not only on this machine's. Boots Debian 12's kernel (the
# one `apt-get install linux-image-amd64` installs: 6.1) under qemu, with
# this machine's root file system shared read-only over 9p, and runs in it
# the eBPF load tests, the collector's BPF_PROG_TEST_RUN and kernel-source
# tests and end-to-end captures compared with tcpdump. A verifier that
# prunes less than this machine's, a helper or attach type the older
# kernel lacks, or a test that takes TCX for granted fails here.
#
#   KERNEL_PKG=linux-image-6.12.100+deb12-amd64 make test-kernels   # another Debian kernel
#   VM_ACCEL=kvm make test-kernels     # where nested KVM works (default: tcg)
#   FULL=1 make test-kernels           # every kernel-path test, not the default selection
#   BPF_RUN=... COLLECTOR_RUN=... E2E_RUN=... override the test patterns ('' skips a package)
#   COUNT=5 E2E_RUN=TestX BPF_RUN= COLLECTOR_RUN= make test-kernels   # repeat one test (flakes)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/local/go/bin:$PATH
out=$ROOT/out/vm

skip() {
	if [ "${CI:-}" = true ]; then
		echo "test-kernels: $1, and CI must run these tests" >&2
		exit 1
	fi
	echo "test-kernels: skipped: $1"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (the VM shares this machine's root file system, and root-only files must be readable)"
for t in qemu-system-x86_64 apt-get dpkg-deb; do
	command -v $t >/dev/null || skip "$t is missing (make deps installs qemu-system-x86 and busybox-static)"
done
[ -x /bin/busybox ] || skip "/bin/busybox is missing (Debian package busybox-static)"

# The kernel: Debian 12's current one, as its metapackage names it.
pkg=${KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')}
[ -n "$pkg" ] || skip "apt knows no linux-image-amd64 (not a Debian 12 machine, or apt-get update not run)"
mkdir -p "$out/debs"
deb=$(ls "$out"/debs/"${pkg}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
	echo "== download $pkg"
	(cd "$out/debs" && chmod 777 . && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' || true)
	deb=$(ls "$out"/debs/"${pkg}"_*.deb 2>/dev/null | head -1 || true)
	[ -n "$deb" ] || { echo "test-kernels: apt-get download $pkg failed" >&2; exit 1; }
fi
if [ "$(cat "$out/kernel.deb" 2>/dev/null)" != "$deb" ]; then
	rm -rf "$out/kernel"
	dpkg-deb -x "$deb" "$out/kernel"
	# Newer Debian kernels ship modules xz-compressed, which busybox's
	# insmod and modprobe do not read.
	find "$out/kernel/lib/modules" -name '*.ko.xz' -print0 | xargs -0 -r xz -d
	rel=$(ls "$out/kernel/lib/modules")
	/bin/busybox depmod -b "$out/kernel" "$rel"
	echo "$deb" > "$out/kernel.deb"
fi
rel=$(ls "$out/kernel/lib/modules")
vmlinuz=$out/kernel/boot/vmlinuz-$rel

# The initramfs: busybox, the 9p modules and scripts/vm/init.
rm -rf "$out/initrd" && mkdir -p "$out/initrd"/{bin,proc,sys,dev,newroot,lib/modules}
cp /bin/busybox "$out/initrd/bin/"
for a in sh mount insmod sed poweroff switch_root mkdir ls; do ln -s busybox "$out/initrd/bin/$a"; done
cp scripts/vm/init "$out/initrd/init"
# 9p over virtio-pci, overlayfs and what modules.dep says they need (none
# where built in).
mods=$(awk -v want=' virtio_pci 9pnet_virtio 9p overlay ' '{
	n = $1; sub(/:$/, "", n); b = n; sub(/.*\//, "", b); sub(/\.ko$/, "", b)
	if (index(want, " " b " ")) { print n; for (i = 2; i <= NF; i++) print $i }
}' "$out/kernel/lib/modules/$rel/modules.dep" | sort -u)
for m in $mods; do cp "$out/kernel/lib/modules/$rel/$m" "$out/initrd/lib/modules/"; done
(cd "$out/initrd" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$out/initrd.gz")

# The tests, built here.
echo "== build the test binaries"
go test -c -o "$out/bpf.test" ./bpf
go test -c -o "$out/collector.test" ./collector
go test -c -o "$out/e2e.test" ./e2e
go build -o "$out/flowhawk" ./cmd/flowhawk

# What make test runs in the VM, about 5 minutes under software emulation:
# every program through the verifier alone, the TC spin lock under two
# CPUs, the crafted-packet table, tunnels, eviction, and captures against
# tcpdump (each ingress hook), non-root with the three capabilities, the
# clsact fallback (the only TC attach before 6.6), the counter path, a
# SYN flood, and capture on tun and IP-in-IP/GRE devices (whose modules
# the CI host's own kernel lacks). FULL=1 runs every kernel, collector and end-to-end test there
# (about 25 minutes).
bpf_run='TestVerifyEach|TestConcurrentExact'
collector_run='TestKernelProgRun|TestKernelDecap|TestKernelEvictUnderPressure|TestKernelNeedsHere|TestFlowMapBytesMatchesKernel|TestKernelKeyLayout|TestKey4'
e2e_run='TestCaptureMatchesTcpdump$|TestCLILeastPrivilege|TestCLIClsactWithoutTC|TestCounterPathClsact|TestSynFloodFillsMap|TestCaptureRawIPDevice|TestCaptureTun'
if [ -n "${FULL:-}" ]; then
	bpf_run=. collector_run='Kernel|Key4' e2e_run=.
fi

res=$out/result
rm -rf "$res" && mkdir -p "$res"
cat > "$res/env" <<ENV
ROOT='$ROOT'
CI='${CI:-}'
FLOWHAWK_E2E_BIN='$out/flowhawk'
BPF_RUN='${BPF_RUN-$bpf_run}'
COLLECTOR_RUN='${COLLECTOR_RUN-$collector_run}'
E2E_RUN='${E2E_RUN-$e2e_run}'
COUNT='${COUNT:-1}'
ENV

accel=${VM_ACCEL:-tcg}
[ "$accel" = tcg ] && accel=tcg,thread=multi
echo "== boot $rel ($pkg) under qemu ($accel)"
start=$(date +%s)
timeout "${VM_TIMEOUT:-2400}" qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 3072 -nographic -no-reboot -nic none \
	-kernel "$vmlinuz" -initrd "$out/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet fh.cmd=$ROOT/scripts/vm/inner.sh" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$res",mount_tag=out,security_model=none \
	> "$res/console" 2>&1 || true
echo "== $(($(date +%s) - start)) s in the VM"
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|    |ok|FAIL|PASS|==|vm:)' "$res/log" 2>/dev/null | grep -vE '^=== RUN|^    ' | head -400 || true
# failures prints each failed test's output from its === RUN line on (go
# test -v prints a test's log lines before its --- FAIL line).
failures() {
	awk '/^=== RUN/ { name = $3; sub(/\/.*/, "", name); if ($3 == name) buf[name] = "" } name != "" { buf[name] = buf[name] $0 "\n" }
		/^--- FAIL/ { n = $3; printf "%s", buf[n] }' "$res/log" 2>/dev/null | tail -150 >&2 || true
}
if [ "$(cat "$res/rc" 2>/dev/null)" != 0 ]; then
	echo "test-kernels: FAILED on $rel: see $res/log (the tests' output) and $res/console" >&2
	[ -f "$res/rc" ] || tail -30 "$res/console" >&2
	failures
	# No test named as failed (a timeout's panic, a crash): the log's end.
	grep -q '^--- FAIL' "$res/log" 2>/dev/null || tail -80 "$res/log" >&2 2>/dev/null || true
	exit 1
fi
if grep -q '^vm: flaky' "$res/log"; then
	echo "test-kernels: a test failed once and passed when run again; its first run:" >&2
	failures
fi
echo "test-kernels: passed on $rel"
