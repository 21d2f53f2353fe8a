#!/usr/bin/env bash
# Raw images against dd, with repetitions: this VM's disk (and first touches
# of fresh memory) make single runs noisy, so each command runs REPS times,
# interleaved (pipelined encoder, sequential encoder `--no-pipeline`, dd), and
# the median is printed. Same folder for all outputs; no fsync.
# Usage: bench/raw.sh [REPS] [SIZES_MIB...] (default 5, 64 1024), after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-/tmp/dmtcp-bench-raw}
REPS=${1:-5}
shift || true
SIZES=("${@:-64 1024}")
KINDS=(${KINDS:-random text half zero})
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "machine: $(nproc) cores, node $(node --version), $REPS runs each, medians"
printf '| data | MiB | enc raw pipelined s | enc raw sequential s | dd s | pipelined / dd | sequential / dd |\n|---|---|---|---|---|---|---|\n'
for size in ${SIZES[@]}; do
  for kind in ${KINDS[@]}; do
    node bench/make-data.js "$kind" "$size" "$W/data"
    node bench/make-stream.js "$W/data" > "$W/stream.raw"
    rm -f "$W/data"
    P=(); S=(); D=()
    for r in $(seq "$REPS"); do
      sync; P+=("$(secs node dist/image/encoder-main.js --out "$W/img.dmtcp" --no-gzip < "$W/stream.raw")"); rm -f "$W/img.dmtcp"
      sync; S+=("$(secs node dist/image/encoder-main.js --out "$W/img.dmtcp" --no-gzip --no-pipeline < "$W/stream.raw")"); rm -f "$W/img.dmtcp"
      sync; D+=("$(secs dd if="$W/stream.raw" of="$W/ref.dd" bs=1M status=none)"); rm -f "$W/ref.dd"
    done
    rm -f "$W/stream.raw"
    p=$(median "${P[@]}"); s=$(median "${S[@]}"); d=$(median "${D[@]}")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$kind" "$size" "$p" "$s" "$d" "$(ratio "$p" "$d")" "$(ratio "$s" "$d")"
  done
done
