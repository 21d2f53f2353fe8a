#!/usr/bin/env bash
# Restart's decode step: wall time of writing the restore plan (what
# dmtcp_restart does before mtcp_restart maps memory: every chunk inflated and
# checked, then written page-aligned) from a gzip and a raw image of 1 GiB,
# against `gzip -dc > file` of the same bytes. One core: the plan writer is
# synchronous today. Usage: bench/plan.sh [MIB] [KINDS...], after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-/tmp/dmtcp-bench-plan}
MIB=${1:-1024}
shift || true
KINDS=("${@:-random text half}")
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
PLAN='require("./dist/image/plan.js").writeRestorePlanSync(process.argv[1], process.argv[2], {})'
printf '| data | MiB | plan from gzip image s (MB/s) | gzip -dc > file s | plan from raw image s (MB/s) |\n|---|---|---|---|---|\n'
for kind in ${KINDS[@]}; do
  node bench/make-data.js "$kind" "$MIB" "$W/data"
  node bench/make-stream.js "$W/data" > "$W/stream.raw"
  gzip -1 -c "$W/data" > "$W/ref.gz"
  rm -f "$W/data"
  node dist/image/encoder-main.js --out "$W/gz.dmtcp" --gzip < "$W/stream.raw"
  node dist/image/encoder-main.js --out "$W/raw.dmtcp" --no-gzip < "$W/stream.raw"
  rm -f "$W/stream.raw"
  sync
  tg=$(secs node -e "$PLAN" "$W/gz.dmtcp" "$W/plan")
  rm -f "$W/plan"
  tz=$(secs sh -c "gzip -dc '$W/ref.gz' > '$W/ref.out'")
  rm -f "$W/ref.out" "$W/ref.gz"
  tr=$(secs node -e "$PLAN" "$W/raw.dmtcp" "$W/plan")
  rm -f "$W/plan" "$W/gz.dmtcp" "$W/raw.dmtcp"
  mb() { echo "scale=0; $MIB / $1" | bc; }
  printf '| %s | %s | %.2f (%s) | %.2f | %.2f (%s) |\n' "$kind" "$MIB" "$tg" "$(mb "$tg")" "$tz" "$tr" "$(mb "$tr")"
done
