#!/usr/bin/env bash
# What the agent's wrappers cost on a program's hot paths (docs/performance.md
# "Wrappers"): bench/hotcalls.c with the agent preloaded (A) against plain (B),
# paired runs by farm-bench; the per-call cost is the wall difference over N.
# The agent is preloaded without a coordinator (it stays inactive): the
# wrappers run as they do under dmtcp_launch, without the checkpoint thread
# (whose presence alone makes glibc take its multi-threaded paths).
# Usage: [CALLS='open dup'] bench/wrappers.sh [RUNS] [N]
set -euo pipefail
R=${1:-7}
N=${2:-3000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -pthread -o "$WORK/hotcalls" "$ROOT/bench/hotcalls.c"
AGENT="$ROOT/build/Release/libdmtcp.so"
CALLS=${CALLS:-write mutex poll clock open dup thread}
for call in $CALLS; do
  n=$N
  [ "$call" = thread ] && n=$((N / 100))   # a thread costs ~10 us: fewer of them
  echo "== $call x $n"
  farm-bench -n "$R" --vs "$WORK/hotcalls $call $n" -- env LD_PRELOAD="$AGENT" "$WORK/hotcalls" "$call" "$n" 2>&1 | grep -E '^(A|B) wall|A/B wall'
done
