#!/usr/bin/env bash
# Process trees, two figures (docs/performance.md "Process trees"):
#  1. fork + exec + wait of /bin/true (bench/forkexec.c prints microseconds per
#     round), plain and under dmtcp_launch, R rounds interleaved, medians and
#     the ratio of the medians; then fork + wait alone the same way;
#  2. a 16-process tree (bash forking 15 sleeps): `dmtcp_command -bc` from the
#     command to every image on disk, and a restart from the images until every
#     process is back (NUM_PEERS=16 and RUNNING=yes), medians of R, raw images.
#     The restart is timed by bench/wait-peers.js, which polls the coordinator.
# Usage: bench/tree.sh [R] [FORKS]
set -euo pipefail
R=${1:-7}
FORKS=${2:-400}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
PATH="$ROOT/bin:$PATH"
trap 'dmtcp_command -p "$(cat "$WORK/port" 2>/dev/null || echo 1)" -q >/dev/null 2>&1 || true; for p in $(cat "$WORK"/pids 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
exec 3>&2 2>/dev/null
gcc -O2 -o "$WORK/forkexec" "$ROOT/bench/forkexec.c"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

dmtcp_coordinator --port 0 --port-file "$WORK/port" --daemon -q --ckptdir "$WORK"
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
P=$(cat "$WORK/port")

: > "$WORK/plain"; : > "$WORK/dmtcp"
for _ in $(seq "$R"); do
  "$WORK/forkexec" "$FORKS" >> "$WORK/plain"
  dmtcp_launch -p "$P" -j --ckptdir "$WORK" "$WORK/forkexec" "$FORKS" >> "$WORK/dmtcp"
done
plain=$(median < "$WORK/plain"); under=$(median < "$WORK/dmtcp")
echo "fork+exec+wait of /bin/true: plain ${plain} us, under dmtcp_launch ${under} us, ratio $(awk -v a="$under" -v b="$plain" 'BEGIN{printf "%.2f", a/b}') (medians of $R x $FORKS)" >&3
# fork + wait alone: the child only exits
: > "$WORK/plain"; : > "$WORK/dmtcp"
for _ in $(seq "$R"); do
  "$WORK/forkexec" "$FORKS" - >> "$WORK/plain"
  dmtcp_launch -p "$P" -j --ckptdir "$WORK" "$WORK/forkexec" "$FORKS" - >> "$WORK/dmtcp"
done
plain=$(median < "$WORK/plain"); under=$(median < "$WORK/dmtcp")
echo "fork+wait (the child exits at once): plain ${plain} us, under dmtcp_launch ${under} us, ratio $(awk -v a="$under" -v b="$plain" 'BEGIN{printf "%.2f", a/b}') (medians of $R x $FORKS)" >&3

peers_back() { dmtcp_command -p "$P" -s 2>/dev/null | grep -q "NUM_PEERS=$1" && dmtcp_command -p "$P" -s | grep -q "RUNNING=yes"; }
: > "$WORK/ckpt"; : > "$WORK/restart"
for i in $(seq "$R"); do
  dir="$WORK/t$i"; mkdir -p "$dir"
  setsid dmtcp_launch -p "$P" -j --no-gzip --ckptdir "$dir" bash -c 'for i in $(seq 15); do sleep 300 & done; wait' >/dev/null &
  echo $! >> "$WORK/pids"
  until peers_back 16; do sleep 0.05; done
  t0=$(now); dmtcp_command -p "$P" -bc >/dev/null; t1=$(now)
  echo "$t1 - $t0" | bc >> "$WORK/ckpt"
  dmtcp_command -p "$P" -k >/dev/null
  while dmtcp_command -p "$P" -s | grep -q "NUM_PEERS=[1-9]"; do sleep 0.05; done
  t0=$(date +%s%3N)
  node "$ROOT/bench/wait-peers.js" "$P" 16 "$t0" >> "$WORK/restart" &
  waiter=$!
  setsid dmtcp_restart -p "$P" -j "$dir"/ckpt_*.dmtcp >/dev/null &
  echo $! >> "$WORK/pids"
  wait "$waiter"
  dmtcp_command -p "$P" -k >/dev/null
  while dmtcp_command -p "$P" -s | grep -q "NUM_PEERS=[1-9]"; do sleep 0.05; done
done
echo "16-process tree (raw): checkpoint $(median < "$WORK/ckpt") s (dmtcp_command -bc, its own start-up of ~0.07 s included), restart until all 16 run $(median < "$WORK/restart") s (dmtcp_restart's start-up included; medians of $R)" >&3
