#!/usr/bin/env bash
# lab-dataset.sh turns the lab corpus into a labeled flow CSV (what
# `make dataset` runs): it records the corpus with scripts/lab-traffic.sh when
# its directory is missing (that part needs root), then labels every flow by
# its class directory with `flowhawk dataset --label-dir`.
#
# Usage: scripts/lab-dataset.sh [--seed N] [--scale small|full] [--corpus DIR]
#                               [-o FILE.csv] [--flowhawk BIN]
#        scripts/lab-dataset.sh --model FILE.json [--test-seed M] [...]
# Defaults: --seed 1 --scale full --corpus out/lab/seed<N>-<scale>
# -o out/lab/lab-seed<N>-<scale>.csv, flowhawk from bin/flowhawk (built if missing).
#
# With --model it also rebuilds the bundled classifier the way
# testdata/model.json was made: a random forest trained on this corpus and
# evaluated on a second corpus recorded with --test-seed (default seed+1),
# never on the flows it was trained on. Its metrics are printed and stored
# in the model file.
set -euo pipefail
cd "$(dirname "$0")/.."

seed=1 scale=full corpus= csv= fh= model= test_seed=
while [ $# -gt 0 ]; do
	case $1 in
	--seed) seed=$2; shift 2 ;;
	--scale) scale=$2; shift 2 ;;
	--corpus) corpus=$2; shift 2 ;;
	-o | --output) csv=$2; shift 2 ;;
	--flowhawk) fh=$2; shift 2 ;;
	--model) model=$2; shift 2 ;;
	--test-seed) test_seed=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "lab-dataset: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ $seed =~ ^[0-9]+$ ]] || { echo "lab-dataset: --seed must be a non-negative integer" >&2; exit 2; }
case $scale in small | full) ;; *) echo "lab-dataset: --scale must be small or full" >&2; exit 2 ;; esac
test_seed=${test_seed:-$((seed + 1))}

if [ -z "$fh" ]; then
	fh=bin/flowhawk
	if [ ! -x "$fh" ]; then
		PATH=/usr/local/go/bin:$PATH go build -o "$fh" ./cmd/flowhawk
	fi
fi

# build SEED CORPUS CSV: record the corpus if needed, then the labeled CSV.
build() {
	local s=$1 dir=$2 out=$3
	if [ ! -d "$dir" ] || [ -z "$(find "$dir" -mindepth 2 -name '*.pcap' -print -quit)" ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "lab-dataset: corpus $dir is missing and recording it needs root: sudo scripts/lab-traffic.sh --out $dir --seed $s --scale $scale" >&2
			exit 1
		fi
		bash scripts/lab-traffic.sh --out "$dir" --seed "$s" --scale "$scale"
	fi
	mkdir -p "$(dirname "$out")"
	"$fh" dataset --label-dir "$dir" -o "$out" --progress never
	echo "lab-dataset: wrote $out" >&2
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^ *Label$/) c = i; next } { n[$c]++ }
		END { for (l in n) printf "  %-10s %6d flows\n", l, n[l] }' "$out" | sort >&2
}

corpus=${corpus:-out/lab/seed$seed-$scale}
csv=${csv:-out/lab/lab-seed$seed-$scale.csv}
build "$seed" "$corpus" "$csv"

if [ -n "$model" ]; then
	tcorpus=$(dirname "$corpus")/seed$test_seed-$scale
	tcsv=$(dirname "$csv")/lab-seed$test_seed-$scale.csv
	build "$test_seed" "$tcorpus" "$tcsv"
	# Left out besides the identifiers the trainer always drops: the
	# responder port and the KDD service derived from it (the lab's port
	# plan, not how a class behaves), and the NSL-KDD 2 s / 100-connection
	# window features, which describe the neighbouring flows: in the lab
	# those are always of the same class, which would not hold on a real
	# link where classes mix.
	drop="Destination Port,service,count,srv_count,serror_rate,srv_serror_rate,rerror_rate"
	drop+=",srv_rerror_rate,same_srv_rate,diff_srv_rate,srv_diff_host_rate,dst_host_count"
	drop+=",dst_host_srv_count,dst_host_same_srv_rate,dst_host_diff_srv_rate"
	drop+=",dst_host_same_src_port_rate,dst_host_srv_diff_host_rate,dst_host_serror_rate"
	drop+=",dst_host_srv_serror_rate,dst_host_rerror_rate,dst_host_srv_rerror_rate"
	# --gate protocol_type: a class is predicted only for the transport
	# protocols it had here (ICMP only for ping), so traffic the lab never
	# made (IPv6 neighbour discovery, say) is Unknown, not a confident guess.
	"$fh" train --data "$csv" --test "$tcsv" --model rf --trees 40 --max-depth 14 \
		--min-samples-leaf 2 --class-weight balanced --seed 1 --drop "$drop" --gate protocol_type -o "$model"
fi
