#!/usr/bin/env bash
# Sockets at a checkpoint (docs/performance.md "Sockets"): one process with 100
# connected TCP pairs on 127.0.0.1 and 64 KiB waiting in each end's receive
# queue (bench/tcppairs.c), against the same process holding the same bytes in
# plain memory and no sockets. `dmtcp_command -bc` on each, interleaved, R
# rounds, raw images; medians and the difference. Usage: bench/sockets.sh [R]
set -euo pipefail
R=${1:-9}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
PATH="$ROOT/bin:$PATH"
trap 'for p in "$WORK"/port*; do dmtcp_command -p "$(cat "$p" 2>/dev/null || echo 1)" -q >/dev/null 2>&1 || true; done; rm -rf "$WORK"' EXIT
gcc -O2 -o "$WORK/tcppairs" "$ROOT/bench/tcppairs.c"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

start() {   # name pairs
  dmtcp_coordinator --port 0 --port-file "$WORK/port.$1" --daemon -q --ckptdir "$WORK/$1"
  for _ in $(seq 100); do [ -s "$WORK/port.$1" ] && break; sleep 0.05; done
  mkdir -p "$WORK/$1"
  dmtcp_launch -p "$(cat "$WORK/port.$1")" -j --no-gzip --ckptdir "$WORK/$1" "$WORK/tcppairs" "$2" 65536 > "$WORK/$1.out" &
  until grep -q ready "$WORK/$1.out" 2>/dev/null; do sleep 0.05; done
}
start sockets 100
start plain 0
: > "$WORK/t.sockets"; : > "$WORK/t.plain"
for _ in $(seq "$R"); do
  for k in sockets plain; do
    t0=$(now); dmtcp_command -p "$(cat "$WORK/port.$k")" -bc >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/t.$k"
  done
done
s=$(median < "$WORK/t.sockets"); p=$(median < "$WORK/t.plain")
echo "checkpoint (dmtcp_command -bc, raw): 100 TCP pairs with 64 KiB waiting at each end ${s} s, same bytes without sockets ${p} s, difference $(echo "$s - $p" | bc) s (medians of $R)"
