#!/usr/bin/env bash
# Raw images against dd, with repetitions: this VM's disk (and first touches
# of fresh memory) make single runs noisy, so each command runs REPS times,
# interleaved, and the median is printed. Three ways to write the same image:
#   per-checkpoint: bench/service-client --spawn starts `node encoder-main.js`
#     with a pipe as stdin and vmsplices the stream into it, as the agent does
#     when no resident encoder runs; timed from the start to its exit;
#   resident, pipe: bench/service-client hands the stream to a resident
#     encoder (src/service/) the way the agent does for gzip and HBICT images
#     (request + pipe, page data by vmsplice), timed from connect to the answer;
#   resident, direct: the way the agent writes raw images (request + pipe for
#     the records, page data written into the image file by the client itself,
#     a notice per write in the pipe), timed the same way;
#   (both read the stream into the client's memory first, untimed, as an agent
#   has its process's memory;)
#   dd: `dd bs=1M` of the same stream file to the same folder.
# No fsync anywhere. Usage: bench/raw.sh [REPS] [SIZES_MIB...] (default 5,
# 64 1024), after `npm run build`. SAMPLES=1 prints every run on stderr;
# KINDS="random half" limits the data kinds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=${BENCH_DIR:-/tmp/dmtcp-bench-raw}
REPS=${1:-5}
shift || true
SIZES=("${@:-64 1024}")
KINDS=(${KINDS:-random text half zero})
mkdir -p "$W"
SVC_PID=
cleanup() { exec 9>&- 2>/dev/null || true; [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
gcc -O2 -Wall -o "$W/service-client" bench/service-client.c
# The resident encoder, kept alive by our fd 9 on its presence pipe (fd 3).
mkfifo "$W/presence"
node ${SERVICE_NODE_FLAGS:-} dist/service/service-main.js --socket "$W/enc.sock" 3<"$W/presence" &
SVC_PID=$!
exec 9>"$W/presence"
for _ in $(seq 100); do [ -S "$W/enc.sock" ] && break; sleep 0.05; done
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.4f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "machine: $(nproc) cores, node $(node --version), $REPS runs each, medians"
printf '| data | MiB | per-checkpoint s | resident, pipe s | resident, direct s | dd s | per-checkpoint / dd | pipe / dd | direct / dd |\n|---|---|---|---|---|---|---|---|---|\n'
for size in ${SIZES[@]}; do
  for kind in ${KINDS[@]}; do
    node bench/make-data.js "$kind" "$size" "$W/data"
    node bench/make-stream.js "$W/data" > "$W/stream.raw"
    rm -f "$W/data"
    P=(); R=(); X=(); D=()
    for r in $(seq "$REPS"); do
      sync; P+=("$("$W/service-client" --spawn dist/image/encoder-main.js "$W/stream.raw" "$W/img.dmtcp" --no-gzip)"); rm -f "$W/img.dmtcp"
      sync; R+=("$("$W/service-client" "$W/enc.sock" "$W/stream.raw" "$W/img.dmtcp" --no-gzip)"); rm -f "$W/img.dmtcp"
      sync; X+=("$("$W/service-client" --direct "$W/enc.sock" "$W/stream.raw" "$W/img.dmtcp" --no-gzip)"); rm -f "$W/img.dmtcp"
      sync; D+=("$(secs dd if="$W/stream.raw" of="$W/ref.dd" bs=1M status=none)"); rm -f "$W/ref.dd"
    done
    rm -f "$W/stream.raw"
    [ -n "${SAMPLES:-}" ] && echo "samples $kind $size: per-checkpoint ${P[*]}; pipe ${R[*]}; direct ${X[*]}; dd ${D[*]}" >&2
    p=$(median "${P[@]}"); res=$(median "${R[@]}"); x=$(median "${X[@]}"); d=$(median "${D[@]}")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$kind" "$size" "$p" "$res" "$x" "$d" "$(ratio "$p" "$d")" "$(ratio "$res" "$d")" "$(ratio "$x" "$d")"
  done
done
