#!/usr/bin/env bash
# make bench: speed and memory of flowhawk against baselines measured in the
# same run, so the ratios hold on a noisy machine. Writes out/bench/results.md.
#
#  1. end to end: a generated capture (BENCH_PACKETS packets, BENCH_FLOWS
#     flows) through `flowhawk replay` (every feature, CSV out) on one core and
#     on all cores, against softflowd, argus and tshark on the same file;
#  2. memory: peak RSS on a capture of three times the size, same flow mix;
#  3. classifiers on NSL-KDD: flowhawk's forest and boosting against
#     scikit-learn, XGBoost (when installed) and golearn (bench/ module);
#  4. Go micro-benchmarks of every package (`go test -bench`), which report
#     their own in-run baselines.
# Set BENCH_QUICK=1 for a small run (1M packets), BENCH_SKIP_TSHARK=1 to skip
# tshark (slow and memory hungry on large files).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
out=out/bench
mkdir -p "$out"
packets=${BENCH_PACKETS:-5000000}
flows=${BENCH_FLOWS:-2000000}
if [ "${BENCH_QUICK:-}" = 1 ]; then packets=1000000 flows=400000; fi
cores=$(nproc)
res=$out/results.md
: >"$res"

go build -o bin/flowhawk-gen ./cmd/flowhawk-gen
cap=$out/bench-$packets.pcap
[ -s "$cap" ] || bin/flowhawk-gen -o "$cap" --packets "$packets" --flows "$flows" --seed 1

# measure NAME CMD...: wall seconds, CPU seconds and peak RSS of one run.
measure() {
	local name=$1
	shift
	local t
	t=$(mktemp)
	if ! /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" >/dev/null 2>"$out/$name.log"; then
		# softflowd and argus exit non-zero on some runs although they read the whole file.
		echo "($name exited non-zero; see $out/$name.log)" >&2
	fi
	read -r wall user sys rss <"$t"
	rm -f "$t"
	echo "$name $wall $user $sys $rss" >>"$out/raw.txt"
	awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v p="${PK:-$packets}" \
		'BEGIN { printf "| %s | %.2f | %.2f | %.2f | %.0f | %.0f |\n", n, w, u, s, p / w, r / 1024 }' >>"$res"
}

: >"$out/raw.txt"
{
	echo "## End to end on $(basename "$cap") ($packets packets, ~$flows flows), $(date -u +%F), $cores cores"
	echo
	echo "| run | wall s | user s | sys s | packets/s | peak RSS MB |"
	echo "|---|---|---|---|---|---|"
} >>"$res"
# "One core" is one CPU for the whole process (taskset): --workers 1 alone
# still runs the reader, flow table and window stage on goroutines of their
# own, which use a second core. softflowd is single-threaded; it is pinned
# the same way so both runs see the same CPU.
one=()
command -v taskset >/dev/null && one=(taskset -c 0)
measure softflowd "${one[@]}" softflowd -d -r "$cap" -n 127.0.0.1:9 -v 10 -A milli
# Each run writes a new file: truncating the previous run's 260 MB CSV
# costs the kernel 0.4-0.5 s of system time, which is not this run's work.
rm -f "$out/flows.csv"
measure flowhawk-1core "${one[@]}" bin/flowhawk replay -q --workers 1 "$cap" -o "$out/flows.csv"
rm -f "$out/flows.csv"
measure "flowhawk-${cores}cores" bin/flowhawk replay -q --workers "$cores" "$cap" -o "$out/flows.csv"
measure flowhawk-noout bin/flowhawk replay -q --workers "$cores" "$cap" -o none
measure flowhawk-parquet bin/flowhawk replay -q --workers "$cores" "$cap" -o "$out/flows.parquet"
measure argus argus -X -r "$cap" -w "$out/argus.out"
if [ "${BENCH_SKIP_TSHARK:-}" != 1 ]; then
	measure tshark tshark -q -n -r "$cap" -z conv,tcp -z conv,udp
fi
rm -f "$out/flows.csv" "$out/flows.parquet" "$out/argus.out"

ratio() { awk -v a="$1" -v b="$2" '$1==a{x=$2} $1==b{y=$2} END{if (x>0 && y>0) printf "%.2f", y/x; else print "n/a"}' "$out/raw.txt"; }
# cpuratio A B: CPU seconds (user + sys) of B / those of A.
cpuratio() { awk -v a="$1" -v b="$2" '$1==a{x=$3+$4} $1==b{y=$3+$4} END{if (x>0 && y>0) printf "%.2f", y/x; else print "n/a"}' "$out/raw.txt"; }
{
	echo
	echo "Speed ratios (wall time of the peer / wall time of flowhawk; above 1 means flowhawk is faster):"
	echo "- flowhawk 1 core vs softflowd: $(ratio flowhawk-1core softflowd)"
	echo "- flowhawk 1 core vs softflowd, by CPU time: $(cpuratio flowhawk-1core softflowd)"
	echo "- flowhawk $cores cores vs softflowd: $(ratio "flowhawk-${cores}cores" softflowd)"
	echo "- flowhawk $cores cores vs argus: $(ratio "flowhawk-${cores}cores" argus)"
	[ "${BENCH_SKIP_TSHARK:-}" != 1 ] && echo "- flowhawk $cores cores vs tshark: $(ratio "flowhawk-${cores}cores" tshark)"
	echo
} >>"$res"

# Memory: a capture three times the size with the same flow mix; peak RSS
# follows the flows held at once, not the file size.
big=$out/bench-$((packets * 3)).pcap
[ -s "$big" ] || bin/flowhawk-gen -o "$big" --packets $((packets * 3)) --flows $((flows * 3)) --seed 2
{
	echo "## Peak memory against file size"
	echo
	echo "| run | wall s | user s | sys s | packets/s | peak RSS MB |"
	echo "|---|---|---|---|---|---|"
} >>"$res"
measure "flowhawk-1x-idle120s" bin/flowhawk replay -q "$cap" -o none
PK=$((packets * 3)) measure "flowhawk-3x-idle120s" bin/flowhawk replay -q "$big" -o none
measure "flowhawk-1x-idle15s" bin/flowhawk replay -q --idle-timeout 15s "$cap" -o none
PK=$((packets * 3)) measure "flowhawk-3x-idle15s" bin/flowhawk replay -q --idle-timeout 15s "$big" -o none
PK=$((packets * 3)) measure "flowhawk-3x-maxflows200k" bin/flowhawk replay -q --max-flows 200000 "$big" -o none
echo "file sizes: $(du -h "$cap" | cut -f1) and $(du -h "$big" | cut -f1)" >>"$res"
rm -f "$big"

# Classifiers: 100-tree random forest and gradient boosting on NSL-KDD
# (5 classes) against scikit-learn, XGBoost (when installed) and golearn's
# forest (bench/, its own module). golearn needs ~300 s and ~3 GB on the
# full KDDTrain+; BENCH_QUICK compares on its first 10 % instead.
kdd=${NSLKDD_DIR:-../shared/datasets/nsl-kdd}
if [ -f "$kdd/KDDTrain+.txt" ]; then
	train=$kdd/KDDTrain+.txt
	grows=0
	if [ "${BENCH_QUICK:-}" = 1 ]; then
		grows=12597
		train=$out/KDDTrain-10pct.txt
		head -n "$grows" "$kdd/KDDTrain+.txt" >"$train"
	fi
	# fit NAME CMD...: the fit seconds a trainer reports, its process CPU and peak RSS.
	fit() {
		local name=$1
		shift
		local t log
		t=$(mktemp)
		log=$out/$name.log
		/usr/bin/time -f "%U %S %M" -o "$t" "$@" >"$log" 2>&1 || echo "($name failed; see $log)" >&2
		local fitS acc
		# flowhawk logs "seconds=" and "rows N  accuracy A"; the Python and golearn
		# baselines print JSON.
		fitS=$( (grep -o 'seconds=[0-9.]*' "$log" || true) | head -1 | cut -d= -f2)
		[ -n "$fitS" ] || fitS=$( (grep -o '"train_seconds": *[0-9.]*' "$log" || true) | head -1 | grep -o '[0-9.]*$' || true)
		acc=$( (grep -o '^rows [0-9]*  accuracy [0-9.]*' "$log" || true) | head -1 | awk '{print $4}')
		[ -n "$acc" ] || acc=$( (grep -o '"accuracy": *[0-9.]*' "$log" || true) | head -1 | grep -o '[0-9.]*$' || true)
		read -r user sys rss <"$t"
		rm -f "$t"
		echo "fit-$name ${fitS:-0}" >>"$out/raw.txt"
		awk -v n="$name" -v f="${fitS:-0}" -v u="$user" -v s="$sys" -v r="$rss" -v a="${acc:-n/a}" \
			'BEGIN { if (a ~ /^[0-9.]+$/) a = sprintf("%.4f", a); printf "| %s | %.2f | %.2f | %.0f | %s |\n", n, f, u + s, r / 1024, a }' >>"$res"
	}
	{
		echo
		echo "## Classifiers on NSL-KDD (5 classes, train $(basename "$train"), test KDDTest+)"
		echo
		echo "| run | fit s | process CPU s | peak RSS MB | accuracy |"
		echo "|---|---|---|---|---|"
	} >>"$res"
	fit flowhawk-rf bin/flowhawk train --data "$train" --nslkdd-classes 5 --model rf --trees 100 --seed 1 --test "$kdd/KDDTest+.txt" -o "$out/rf.json"
	fit flowhawk-gbdt bin/flowhawk train --data "$train" --nslkdd-classes 5 --model gbdt --seed 1 --test "$kdd/KDDTest+.txt" -o "$out/gbdt.json"
	if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
		models=rf,gbdt
		/usr/bin/python3 -c 'import xgboost' 2>/dev/null && models=$models,xgb
		for m in ${models//,/ }; do
			fit "sklearn-$m" /usr/bin/python3 scripts/sklearn_compare.py --data "$kdd" --train "$(realpath --relative-to="$kdd" "$train")" \
				--tests KDDTest+.txt --models "$m" --classes 5 --jobs "$cores"
		done
	fi
	(cd bench && go build -o ../bin/golearn-bench .)
	fit golearn-rf bin/golearn-bench --data "$kdd" --rows "$grows"
	{
		echo
		echo "Fit-time ratios (peer / flowhawk; above 1 means flowhawk is faster):"
		echo "- forest vs scikit-learn: $(ratio fit-flowhawk-rf fit-sklearn-rf)"
		echo "- forest vs golearn: $(ratio fit-flowhawk-rf fit-golearn-rf)"
		echo "- gbdt vs scikit-learn HistGradientBoosting: $(ratio fit-flowhawk-gbdt fit-sklearn-gbdt)"
		echo "- gbdt vs XGBoost hist: $(ratio fit-flowhawk-gbdt fit-sklearn-xgb)"
	} >>"$res"
fi

{
	echo
	echo "## Go micro-benchmarks"
	echo
	echo '```'
	go test -run '^$' -bench . -benchmem -benchtime "${BENCH_TIME:-1s}" ./collector/ ./features/ ./export/... ./pipeline/ ./detect/ ./classifier/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
	if [ "$(id -u)" = 0 ]; then
		go test -run '^$' -bench . -benchmem -benchtime "${BENCH_TIME:-1s}" ./bpf/... 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
		# One iteration of a veth benchmark is a round over its
		# configurations (VethTrafgen: one flow, every attachment, about 6 s;
		# VethFlood: 65,536 flows with the collector reading, about 3 s);
		# their metrics are medians over rounds.
		go test -run '^$' -bench 'VethTrafgen|VethFlood' -benchtime "${BENCH_VETH_ROUNDS:-5}x" ./e2e/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
	fi
	echo '```'
} >>"$res"
cat "$res"
