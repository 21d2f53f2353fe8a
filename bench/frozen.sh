#!/usr/bin/env bash
# Forked checkpointing (issue 12): how long the program is frozen by one
# `dmtcp_command --bcheckpoint`. test/programs/frozengap.c rewrites one page of
# its MiB per iteration in a tight loop and, when the agent's checkpoint count
# moves (it does while the program is frozen), prints the gap of that iteration:
# the frozen time, as the program saw it (scheduling delay around it included;
# the machine's noise shows in "tick" lines' gaps: the longest of those printed
# in the second before the checkpoint is given as the floor). -bc time beside it.
# Forked and not forked, raw and gzip, interleaved, N rounds each.
# Usage: bench/frozen.sh [N] [MiB...]     e.g. bench/frozen.sh 3 512 2048
set -euo pipefail
N=${1:-3}; shift || true
SIZES=${*:-512}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'for p in $(cat "$WORK"/pids 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
exec 3>&2 2>/dev/null   # the shell reports each killed job; keep the figures readable
gcc -O1 -o "$WORK/frozengap" "$ROOT/test/programs/frozengap.c"
run() {  # $1 MiB, $2 forked 1|0, $3 gzip 1|0; prints "<longest gap ms> <-bc s>"
  local dir="$WORK/run$RANDOM"; mkdir -p "$dir"
  setsid env DMTCP_FORKED_CHECKPOINT="$2" DMTCP_GZIP="$3" "$ROOT/bin/dmtcp_launch" --new-coordinator \
    --port-file "$dir/port" --ckptdir "$dir" "$WORK/frozengap" "$1" >"$dir/out" 2>&1 &
  local pid=$!; echo $pid >> "$WORK/pids"
  for _ in $(seq 600); do grep -q '^tick' "$dir/out" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  local t0 t1 floor; t0=$(date +%s.%N)
  floor=$(tail -n 10 "$dir/out" | awk '/^tick/ && $4 > m {m = $4} END {printf "%.1f", m / 1000}')
  "$ROOT/bin/dmtcp_command" -p "$(cat "$dir/port")" --bcheckpoint >/dev/null
  t1=$(date +%s.%N); sleep 0.3
  local gap; gap=$(awk '/^frozen_us/ {printf "%.1f", $2 / 1000; exit}' "$dir/out")
  kill -9 -- "-$pid"; wait "$pid" || true
  rm -rf "$dir"
  echo "${gap:-none} $(echo "$t1 - $t0" | bc) $floor"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-6s %-5s %-7s %16s %12s %14s\n' MiB gzip forked 'frozen ms (med)' '-bc s (med)' 'floor ms (med)' >&3
for mib in $SIZES; do
  for gz in 0 1; do
    : > "$WORK/f1"; : > "$WORK/f0"
    for _ in $(seq "$N"); do for f in 1 0; do run "$mib" "$f" "$gz" >> "$WORK/f$f"; done; done
    for f in 1 0; do
      printf '%-6s %-5s %-7s %16s %12.2f %14s   (frozen, all: %s)\n' "$mib" "$gz" "$f" "$(cut -d' ' -f1 "$WORK/f$f" | median)" \
        "$(cut -d' ' -f2 "$WORK/f$f" | median)" "$(cut -d' ' -f3 "$WORK/f$f" | median)" "$(cut -d' ' -f1 "$WORK/f$f" | tr '\n' ' ')" >&3
    done
  done
done
