#!/usr/bin/env bash
# Fork figures of this tree against another build of the project, in one
# interleaved run (plain, other, this; R rounds), for a machine others load:
# bench/forkexec.c's fork + wait (the child exits at once), then fork + exec +
# wait of /bin/true, each under dmtcp_launch with its own tree's coordinator;
# medians and their ratios to plain.
# Usage: bench/fork-ab.sh OTHER_ROOT [R] [FORKS]   (OTHER_ROOT: a built checkout, e.g. of main)
set -euo pipefail
[ $# -ge 1 ] && [ -x "$1/bin/dmtcp_launch" ] || { echo "usage: bench/fork-ab.sh OTHER_ROOT [R] [FORKS] (a built checkout)" >&2; exit 99; }
OTHER=$(cd "$1" && pwd); R=${2:-11}; FORKS=${3:-400}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
"$OTHER/bin/dmtcp_coordinator" --port 0 --port-file "$WORK/pa" --daemon -q --ckptdir "$WORK"
"$ROOT/bin/dmtcp_coordinator" --port 0 --port-file "$WORK/pb" --daemon -q --ckptdir "$WORK"
trap '"$ROOT/bin/dmtcp_command" -p "$(cat "$WORK/pa" 2>/dev/null || echo 1)" -q >/dev/null 2>&1 || true; "$ROOT/bin/dmtcp_command" -p "$(cat "$WORK/pb" 2>/dev/null || echo 1)" -q >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
gcc -O2 -o "$WORK/forkexec" "$ROOT/bench/forkexec.c"
for _ in $(seq 100); do [ -s "$WORK/pa" ] && [ -s "$WORK/pb" ] && break; sleep 0.05; done
PA=$(cat "$WORK/pa"); PB=$(cat "$WORK/pb")
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in "fork+wait (the child exits at once)|-" "fork+exec+wait of /bin/true|"; do
  name=${what%|*}; arg=${what#*|}
  : > "$WORK/plain"; : > "$WORK/other"; : > "$WORK/this"
  for _ in $(seq "$R"); do
    "$WORK/forkexec" "$FORKS" $arg >> "$WORK/plain"
    "$OTHER/bin/dmtcp_launch" -p "$PA" -j --ckptdir "$WORK" "$WORK/forkexec" "$FORKS" $arg >> "$WORK/other"
    "$ROOT/bin/dmtcp_launch" -p "$PB" -j --ckptdir "$WORK" "$WORK/forkexec" "$FORKS" $arg >> "$WORK/this"
  done
  p=$(median "$WORK/plain"); o=$(median "$WORK/other"); t=$(median "$WORK/this")
  echo "$name: plain $p us, other $o us ($(awk -v a="$o" -v b="$p" 'BEGIN{printf "%.2f", a/b}')x), this $t us ($(awk -v a="$t" -v b="$p" 'BEGIN{printf "%.2f", a/b}')x) (medians of $R x $FORKS)"
done
