#!/usr/bin/env bash
# One gzip checkpoint as a user sees it (issue 12): launches bench/hold-kind.c
# holding MIB MiB of KIND data under ROOT's dmtcp_launch (DMTCP_GZIP=1),
# times `dmtcp_command -bc` alone and appends "KIND SECONDS IMAGE_BYTES" to
# OUT. Made to be run many times, interleaved against another build.
# Usage: bench/gzip-checkpoint.sh ROOT KIND MIB OUT
set -euo pipefail
ROOT=$1 KIND=$2 MIB=$3 OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap '[ -n "${PID:-}" ] && kill -9 -- "-$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
HOLD=/tmp/dmtcp-hold-kind
[ -x "$HOLD" ] && [ "$HOLD" -nt "$HERE/hold-kind.c" ] || gcc -O2 -o "$HOLD" "$HERE/hold-kind.c"
setsid env DMTCP_GZIP=1 "$ROOT/bin/dmtcp_launch" --new-coordinator --port-file "$WORK/port" --ckptdir "$WORK" \
  "$HOLD" "$KIND" "$MIB" > "$WORK/out" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q ready "$WORK/out" 2>/dev/null && [ -s "$WORK/port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/port")
T0=$(date +%s.%N)
"$ROOT/bin/dmtcp_command" -p "$PORT" -bc > /dev/null
T1=$(date +%s.%N)
"$ROOT/bin/dmtcp_command" -p "$PORT" --quit > /dev/null 2>&1 || true
echo "$KIND $(echo "$T1 - $T0" | bc) $(stat -c %s "$WORK"/ckpt_*.dmtcp | head -1)" >> "$OUT"
