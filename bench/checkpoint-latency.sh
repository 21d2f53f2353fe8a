#!/usr/bin/env bash
# Checkpoint latency as a user sees it: `dmtcp_command --bcheckpoint` on a running
# program holding MiB of random data, from the command to "every image written",
# N times, median reported, raw and gzip interleaved in one run, next to `dd` of
# the same number of bytes and to `dmtcp_command -s` (the command's own Node
# start-up and round trip); each with the resident encoder (default) and with
# DMTCP_ENCODER_SERVICE=0 (an encoder started per checkpoint).
# Usage: bench/checkpoint-latency.sh [N] [MiB]
set -euo pipefail
N=${1:-9}
MIB=${2:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'for p in $(cat "$WORK"/pids 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
exec 3>&2 2>/dev/null   # the shell reports each killed job; keep the figures readable
cat > "$WORK/hold.c" <<'C'
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  size_t n = (size_t)atoi(argv[1]) << 20;
  unsigned char *p = malloc(n);
  unsigned long x = 88172645463325252UL;
  for (size_t i = 0; i < n; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; memcpy(p + i, &x, 8); }
  for (;;) pause();
}
C
gcc -O2 -o "$WORK/hold" "$WORK/hold.c"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() {  # $1 = what to time: ckpt|status, $2 = gzip 1|0, $3 = resident encoder 1|0 ; prints seconds
  local dir="$WORK/run$RANDOM"; mkdir -p "$dir"
  setsid env DMTCP_GZIP="$2" DMTCP_ENCODER_SERVICE="${3:-1}" "$ROOT/bin/dmtcp_launch" --new-coordinator \
    --port-file "$dir/port" --ckptdir "$dir" "$WORK/hold" "$MIB" >/dev/null 2>&1 &
  echo $! >> "$WORK/pids"
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  local port; port=$(cat "$dir/port")
  sleep 1   # the program fills its memory; the resident encoder gets ready
  local t0 t1; t0=$(date +%s.%N)
  if [ "$1" = ckpt ]; then "$ROOT/bin/dmtcp_command" -p "$port" --bcheckpoint >/dev/null
  else "$ROOT/bin/dmtcp_command" -p "$port" -s >/dev/null; fi
  t1=$(date +%s.%N)
  "$ROOT/bin/dmtcp_command" -p "$port" --quit >/dev/null 2>&1 || true
  echo "$t1 - $t0" | bc
  rm -rf "$dir"
}
dd_once() {
  local t0 t1; t0=$(date +%s.%N)
  dd if=/dev/urandom of="$WORK/dd.src" bs=1M count="$MIB" status=none 2>/dev/null || true
  t0=$(date +%s.%N)
  dd if="$WORK/dd.src" of="$WORK/dd.out" bs=1M status=none
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
  rm -f "$WORK/dd.out"
}
: > "$WORK/raw"; : > "$WORK/gzip"; : > "$WORK/raw0"; : > "$WORK/gzip0"; : > "$WORK/status"; : > "$WORK/dd"
for _ in $(seq "$N"); do
  run ckpt 0 1 >> "$WORK/raw"; run ckpt 1 1 >> "$WORK/gzip"
  run ckpt 0 0 >> "$WORK/raw0"; run ckpt 1 0 >> "$WORK/gzip0"
  run status 0 >> "$WORK/status"; dd_once >> "$WORK/dd"
done
printf '%s MiB random, N=%s medians: bcheckpoint resident encoder: raw %.3f s, gzip %.3f s; encoder per checkpoint: raw %.3f s, gzip %.3f s; dmtcp_command -s %.3f s; dd %.3f s\n' \
  "$MIB" "$N" "$(median < "$WORK/raw")" "$(median < "$WORK/gzip")" "$(median < "$WORK/raw0")" "$(median < "$WORK/gzip0")" \
  "$(median < "$WORK/status")" "$(median < "$WORK/dd")"
