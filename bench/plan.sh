#!/usr/bin/env bash
# Restart's decode step: wall time of writing the restore plan (what
# dmtcp_restart does before mtcp_restart maps memory: every chunk inflated and
# checked, then written page-aligned) from a gzip and a raw image of 1 GiB,
# against `gzip -dc > file` of the same bytes: the sequential writer
# (writeRestorePlanSync, one core) and the parallel one dmtcp_restart uses
# (writeRestorePlan: members inflated on the thread pool, several in flight),
# each REPS times (default 3, env REPS), interleaved, median printed.
# Usage: bench/plan.sh [MIB] [KINDS...], after `npm run build`.
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
PPLAN='require("./dist/image/plan.js").writeRestorePlan(process.argv[1], process.argv[2], {}).catch((e) => { console.error(e.message); process.exit(99); })'
REPS=${REPS:-3}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '| data | MiB | plan from gzip, sequential s (MB/s) | plan from gzip, parallel s (MB/s) | gzip -dc > file s | plan from raw, sequential s (MB/s) | plan from raw, parallel s (MB/s) |\n|---|---|---|---|---|---|---|\n'
for kind in ${KINDS[@]}; do
  node bench/make-data.js "$kind" "$MIB" "$W/data"
  node bench/make-stream.js "$W/data" > "$W/stream.raw"
  gzip -1 -c "$W/data" > "$W/ref.gz"
  rm -f "$W/data"
  node dist/image/encoder-main.js --out "$W/gz.dmtcp" --gzip < "$W/stream.raw"
  node dist/image/encoder-main.js --out "$W/raw.dmtcp" --no-gzip < "$W/stream.raw"
  rm -f "$W/stream.raw"
  sync
  G=(); GP=(); Z=(); R=(); RP=()
  for r in $(seq "$REPS"); do
    sync; G+=("$(secs node -e "$PLAN" "$W/gz.dmtcp" "$W/plan")"); rm -f "$W/plan"
    sync; GP+=("$(secs node -e "$PPLAN" "$W/gz.dmtcp" "$W/plan")"); rm -f "$W/plan"
    sync; Z+=("$(secs sh -c "gzip -dc '$W/ref.gz' > '$W/ref.out'")"); rm -f "$W/ref.out"
    sync; R+=("$(secs node -e "$PLAN" "$W/raw.dmtcp" "$W/plan")"); rm -f "$W/plan"
    sync; RP+=("$(secs node -e "$PPLAN" "$W/raw.dmtcp" "$W/plan")"); rm -f "$W/plan"
  done
  rm -f "$W/ref.gz" "$W/gz.dmtcp" "$W/raw.dmtcp"
  tg=$(median "${G[@]}"); tgp=$(median "${GP[@]}"); tz=$(median "${Z[@]}"); tr=$(median "${R[@]}"); trp=$(median "${RP[@]}")
  mb() { echo "scale=0; $MIB / $1" | bc; }
  printf '| %s | %s | %s (%s) | %s (%s) | %s | %s (%s) | %s (%s) |\n' "$kind" "$MIB" "$tg" "$(mb "$tg")" "$tgp" "$(mb "$tgp")" "$tz" "$tr" "$(mb "$tr")" "$trp" "$(mb "$trp")"
done
