#!/usr/bin/env bash
# make unit: every package's tests (go test ./...). An end-to-end test
# (package e2e) that fails runs once more, alone: those tests compare the
# kernel's timestamps with tcpdump's on the same packets within 1 ms, and
# on a loaded 2-core machine, with other packages' tests running beside
# them, a packet can wait milliseconds between tcpdump's tap and the TC
# hook. A test that passes its second run counts as passed, and a
# "unit: flaky:" line names it with its first run's output above; one that
# fails twice fails the tier, as does any failure outside e2e, or one in
# e2e that names no test (a crash, a timeout). scripts/vm/inner.sh does
# the same in the VM tier.
set -u
GO=${GO:-go}
e2e=github.com/flowhawk/flowhawk/e2e
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$GO" test -count=1 -timeout 25m ./... 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] && exit 0
failed=$(awk -F'\t' '/^FAIL\t/ { print $2 }' "$out" | sort -u)
[ "$failed" = "$e2e" ] || exit "$rc"
# The top-level tests that failed in e2e's block of the output (go test
# prints a package's output together, ending with its FAIL line).
tests=$(awk -v pkg="$e2e" '
	/^--- FAIL: / { names = names (names == "" ? "" : "|") $3 }
	/^(ok|FAIL|\?)[ \t]/ { if ($2 == pkg) print names; names = "" }' "$out")
[ -n "$tests" ] || exit "$rc"
echo "== go test ./e2e -run '^($tests)\$' again, alone, after it failed once"
if "$GO" test -count=1 -timeout 15m -run "^($tests)\$" ./e2e; then
	echo "unit: flaky: e2e: $tests failed once and passed when run again alone"
	exit 0
fi
exit 1
