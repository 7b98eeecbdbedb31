#!/usr/bin/env bash
# make demo: replays the bundled capture (testdata/demo.pcap, real traffic
# recorded between two network namespaces by scripts/make-demo-pcap.sh)
# through every stage and shows what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
# FLOWHAWK and DEMO_OUT let e2e/TestDemoScript run it on its own build
# and into a temporary directory.
fh=${FLOWHAWK:-bin/flowhawk}
out=${DEMO_OUT:-out/demo}
mkdir -p "$out"

model_args=()
[ -f testdata/model.json ] && model_args=(--model testdata/model.json)

echo "== flowhawk replay testdata/demo.pcap ${model_args[*]} --detect all"
"$fh" replay testdata/demo.pcap -o "$out/flows.csv" --detect all --alerts "$out/alerts.jsonl" "${model_args[@]}"
"$fh" replay -q testdata/demo.pcap -o "$out/flows.parquet"
"$fh" replay -q testdata/demo.pcap -o "$out/flows.jsonl"

echo
echo "== first flows (a few of the $(head -1 "$out/flows.csv" | tr ',' '\n' | wc -l) columns of $out/flows.csv)"
awk -F', *' -v want="Source IP,Source Port,Destination IP,Destination Port,Protocol,Flow Duration,Total Fwd Packets,Total Backward Packets,Total Length of Fwd Packets,Total Length of Bwd Packets,Predicted Label,Confidence" '
NR == 1 {
	n = split(want, w, ",")
	for (i = 1; i <= NF; i++) { h = $i; sub(/^ +/, "", h); idx[h] = i }
	for (j = 1; j <= n; j++) if (w[j] in idx) { cols[++m] = idx[w[j]]; name[m] = w[j] }
	line = ""; for (j = 1; j <= m; j++) line = line (j > 1 ? "\t" : "") name[j]; print line; next
}
NR <= 16 { line = ""; for (j = 1; j <= m; j++) line = line (j > 1 ? "\t" : "") $cols[j]; print line }
' "$out/flows.csv" | column -t -s $'\t'

if [ -s "$out/alerts.jsonl" ]; then
	echo
	echo "== alerts ($out/alerts.jsonl)"
	cut -c1-200 "$out/alerts.jsonl" | head -5
fi

if "$fh" report --help >/dev/null 2>&1; then
	"$fh" report "$out/flows.csv" --alerts "$out/alerts.jsonl" -o "$out/report.html"
	echo
	echo "== report: $out/report.html"
fi
echo
echo "outputs in $out/: $(ls "$out" | tr '\n' ' ')"
