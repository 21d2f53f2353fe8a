#!/usr/bin/env bash
# Issue 12's figures side by side with DMTCP 5: one command, a markdown table.
#
#   bench/vs-dmtcp.sh [--dmtcp PREFIX] [--size MIB] [--big MIB | --no-big]
#                     [--trials N] [--quick]
#
# --dmtcp PREFIX  a DMTCP install (PREFIX/bin/dmtcp_launch ...); without it only
#                 our side runs, next to the plain-run baselines
# --size MIB      memory the program holds (default 512)
# --big MIB       the size of the issue's second column for downtime and
#                 restart (default 2048); --no-big skips it
# --trials N      trials per figure, the median is printed (default 3)
# --quick         --size 16 --trials 1 --no-big: the CI smoke run
# OURS_ENV='K=V ...' in the environment is given to our side's commands only
# (e.g. OURS_ENV=DMTCP_FORKED_CHECKPOINT=1).
#
# Each figure is one cycle per side: a coordinator of its own (port 0, read back
# from its port file), bench/vs-dmtcp-prog.c launched under it holding the data,
# `dmtcp_command -bc` timed (the program's longest gap between loop iterations
# meanwhile is its frozen time), then for restart figures the program killed
# and `dmtcp_restart` timed until the program's loop runs again (it writes a
# time mark each iteration). Sides alternate which goes first from trial to
# trial and run back to back, so drift of a loaded machine hits both alike:
# quote ratios, not seconds. Every process group, program and coordinator the
# bench starts is ended by pid; work files live in one temporary folder.
# Needs `npm run build` first; gcc, gzip, dd, ss.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COMMAND_LINE="bench/vs-dmtcp.sh${*:+ $*}"
DMTCP=
SIZE=512
BIG=2048
TRIALS=3
fail() { echo "vs-dmtcp: $*" >&2; exit 99; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
while [ $# -gt 0 ]; do
  case $1 in
    --dmtcp) [ $# -ge 2 ] || fail "--dmtcp needs a prefix"; DMTCP=$2; shift 2 ;;
    --size) [ $# -ge 2 ] && is_count "$2" || fail "--size needs MiB (a positive integer)"; SIZE=$2; shift 2 ;;
    --big) [ $# -ge 2 ] && is_count "$2" || fail "--big needs MiB (a positive integer)"; BIG=$2; shift 2 ;;
    --no-big) BIG=; shift ;;
    --trials) [ $# -ge 2 ] && is_count "$2" || fail "--trials needs a positive integer"; TRIALS=$2; shift 2 ;;
    --quick) SIZE=16; TRIALS=1; BIG=; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument $1 (see --help)" ;;
  esac
done
if [ -n "$DMTCP" ]; then
  [ -x "$DMTCP/bin/dmtcp_launch" ] && [ -x "$DMTCP/bin/dmtcp_restart" ] || fail "no DMTCP install at $DMTCP (no bin/dmtcp_launch)"
fi
[ -f "$ROOT/dist/cli/dmtcp_launch.js" ] || fail "build first: npm run build"
# Both tools read DMTCP_* variables: neither side may inherit ours.
for v in $(env | sed -n 's/^\(DMTCP_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
read -r -a OURS_ENV_WORDS <<< "${OURS_ENV:-}"

W=$(mktemp -d "${TMPDIR:-/tmp}/vs-dmtcp.XXXXXX")
cleanup() {  # every process group and pid the bench started (track, below)
  local p
  for p in $(cat "$W/pids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
exec 3>&2   # progress; bash's notes on killed jobs go to 2
note() { echo "$*" >&3; }

PROG=$W/prog
gcc -O2 -Wall -o "$PROG" "$ROOT/bench/vs-dmtcp-prog.c"

# Microseconds of the wall clock, without a fork.
usec() { echo "${EPOCHREALTIME/./}"; }
secs_since() { local d=$(( $(usec) - $1 )); printf '%d.%06d' $((d / 1000000)) $((d % 1000000)); }
median() { [ $# -gt 0 ] || return 0; printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.3f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# How long to wait for a program to fill MIB, or to come back: generous on a loaded machine.
patience() { echo $(( 30 + $1 / 16 )); }

# The tools of one side: bin SIDE NAME is the path of dmtcp_NAME; envw SIDE
# sets E to what `env` gets before it (OURS_ENV for our side only).
bin() { if [ "$1" = ours ]; then echo "$ROOT/bin/dmtcp_$2"; else echo "$DMTCP/bin/dmtcp_$2"; fi; }
envw() { E=(); [ "$1" = ours ] && E=("${OURS_ENV_WORDS[@]}"); return 0; }
tool() { local E; envw "$1"; env "${E[@]}" "$(bin "$1" "$2")" "${@:3}"; }
# A process of its own group, remembered (in a file: cycles run in subshells) to be ended.
track() { echo "$1" >> "$W/pids"; }
port_opt() { if [ "$1" = ours ]; then echo -p; else echo --coord-port; fi; }
join_opt() { if [ "$1" = ours ]; then echo --join; else echo --join-coordinator; fi; }

wait_file() { local i; for i in $(seq 400); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# End what listens on TCP port $1 (a coordinator a launch started), by its pid.
end_listener() {
  local pid
  for pid in $(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    kill -9 "$pid" 2>/dev/null || true
  done
}

# End the program of one cycle: the coordinator's kill, then its real pid and group.
end_program() {  # side port markfile group
  tool "$1" command "$(port_opt "$1")" "$2" -k >/dev/null 2>&1 || true
  local pid; pid=$("$PROG" field "$3" pid 2>/dev/null || true)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  kill -9 -- "-$4" 2>/dev/null || true
  wait "$4" 2>/dev/null || true
}

# One cycle: side kind mib gzip(1|0) restart(1|0). Prints "ckpt frozen restart"
# in seconds ("-" where not measured); returns 1 when a step failed.
cycle() {
  local side=$1 kind=$2 mib=$3 gz=$4 rs=$5
  local dir; dir=$(mktemp -d "$W/$side.XXXX")
  local gzopt=--gzip; [ "$gz" = 1 ] || gzopt=--no-gzip
  local cpid lpid rpid port pid t0 ckpt frozen restart=- ok=1
  local E; envw "$side"
  if [ "$side" = ours ]; then
    setsid env "${E[@]}" "$(bin ours coordinator)" --port 0 --port-file "$dir/port" --ckptdir "$dir" -q </dev/null >"$dir/coord.log" 2>&1 &
  else
    setsid "$(bin dmtcp coordinator)" --coord-port 0 --port-file "$dir/port" --ckptdir "$dir" -q </dev/null >"$dir/coord.log" 2>&1 &
  fi
  cpid=$!; track "$cpid"
  wait_file "$dir/port" || { note "  $side: no coordinator port"; kill -9 "$cpid"; wait "$cpid" 2>/dev/null; return 1; }
  port=$(cat "$dir/port")
  setsid env "${E[@]}" "$(bin "$side" launch)" "$(join_opt "$side")" "$(port_opt "$side")" "$port" --ckptdir "$dir" "$gzopt" \
    "$PROG" run "$kind" "$mib" "$dir/mark" </dev/null >"$dir/launch.log" 2>&1 &
  lpid=$!; track "$lpid"
  if "$PROG" wait-ready "$dir/mark" "$(patience "$mib")"; then
    pid=$("$PROG" field "$dir/mark" pid); track "$pid"
    kill -USR1 "$pid"; sleep 0.05   # its longest gap counts from here
    t0=$(usec)
    if tool "$side" command "$(port_opt "$side")" "$port" -bc >"$dir/ckpt.log" 2>&1 && ls "$dir"/ckpt_*.dmtcp >/dev/null 2>&1; then
      ckpt=$(secs_since "$t0")
      sleep 0.3   # the loop runs a while after the checkpoint (a forked writer may still be busy)
      frozen=$(awk -v g="$("$PROG" field "$dir/mark" maxgap)" 'BEGIN {printf "%.4f", g / 1e9}')
    else note "  $side: checkpoint failed: $(tail -c 300 "$dir/ckpt.log")"; ok=0; fi
  else note "  $side: program did not start: $(tail -c 300 "$dir/launch.log")"; ok=0; fi
  end_program "$side" "$port" "$dir/mark" "$lpid"
  if [ "$ok" = 1 ] && [ "$rs" = 1 ]; then
    local img; img=$(ls "$dir"/ckpt_*.dmtcp | head -1)
    sync   # dirty image pages written back: neither restart pays the other's writeback
    t0=$(usec)
    setsid env "${E[@]}" "$(bin "$side" restart)" "$(join_opt "$side")" "$(port_opt "$side")" "$port" "$img" \
      </dev/null >"$dir/restart.log" 2>&1 &
    rpid=$!; track "$rpid"
    if restart=$("$PROG" wait-resume "$dir/mark" "${t0}000" "$(patience "$mib")"); then
      track "$("$PROG" field "$dir/mark" pid)"
    else note "  $side: restart did not run: $(tail -c 300 "$dir/restart.log")"; restart=-; ok=0; fi
    end_program "$side" "$port" "$dir/mark" "$rpid"
  fi
  kill -9 "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
  rm -rf "$dir"
  echo "${ckpt:--} ${frozen:--} $restart"
  [ "$ok" = 1 ]
}

# `dmtcp_launch --new-coordinator` of /bin/true: seconds; its coordinator ended.
launch_true() {
  local side=$1 dir; dir=$(mktemp -d "$W/launch.XXXX")
  local t0 E; envw "$side"
  local -a opts=(--new-coordinator -p 0); [ "$side" = dmtcp ] && opts=(--new-coordinator --coord-port 0)
  t0=$(usec)
  if ! env "${E[@]}" "$(bin "$side" launch)" "${opts[@]}" --port-file "$dir/port" /bin/true >"$dir/log" 2>&1; then
    note "  $side: launch failed: $(tail -c 300 "$dir/log")"; rm -rf "$dir"; return 1
  fi
  secs_since "$t0"; echo
  [ -s "$dir/port" ] && end_listener "$(cat "$dir/port")"
  rm -rf "$dir"
}

# Samples: R[key] = "v1 v2 ..." (keys: side:figure or base:figure).
declare -A R
add() { [ "$2" = - ] || R[$1]="${R[$1]:-} $2"; }

SIDES=(ours); [ -n "$DMTCP" ] && SIDES=(dmtcp ours)
# The figures of one size: name kind gzip restart
run_cycles() {  # mib trial big(1|0)
  local mib=$1 trial=$2 big=$3 kind gz rs s out order=("${SIDES[@]}")
  [ $((trial % 2)) = 0 ] && [ ${#SIDES[@]} = 2 ] && order=(ours dmtcp)
  local specs=("random 1 1" "random 0 1" "text 0 1")
  [ "$big" = 0 ] && specs=("random 1 1" "text 1 0" "half 1 0" "random 0 1" "text 0 1")
  for spec in "${specs[@]}"; do
    read -r kind gz rs <<< "$spec"
    for s in "${order[@]}"; do
      note "trial $trial, $mib MiB: $s $kind $([ "$gz" = 1 ] && echo gzip || echo raw)"
      out=$(cycle "$s" "$kind" "$mib" "$gz" "$rs") || true
      read -r c f r <<< "$out"
      local g; g=$([ "$gz" = 1 ] && echo gzip || echo raw)
      add "$s:ckpt-$g-$kind-$mib" "$c"
      [ "$kind" = random ] && add "$s:frozen-$g-$mib" "$f"
      [ "$rs" = 1 ] && add "$s:restart-$g-$kind-$mib" "$r"
    done
  done
}

# Plain-run baselines on the same bytes: dd and gzip -1 of the data from a
# file in the page cache to a file in the same folder, memcpy into fresh memory.
for kind in random text half; do "$PROG" dump "$kind" "$SIZE" > "$W/data-$kind"; done
baselines() {  # trial
  local t0 kind
  for kind in random text half; do
    t0=$(usec); gzip -1 -c "$W/data-$kind" > "$W/out.gz"; add "base:gzip-$kind" "$(secs_since "$t0")"; rm -f "$W/out.gz"
  done
  t0=$(usec); dd if="$W/data-random" of="$W/out.dd" bs=1M status=none; add base:dd "$(secs_since "$t0")"; rm -f "$W/out.dd"
  add "base:memcpy-$SIZE" "$("$PROG" memcpy "$SIZE")"
  [ -n "$BIG" ] && add "base:memcpy-$BIG" "$("$PROG" memcpy "$BIG")"
  t0=$(usec); /bin/true; add base:true "$(secs_since "$t0")"
}

START=$(date -u '+%Y-%m-%d %H:%M UTC')
for trial in $(seq "$TRIALS"); do
  run_cycles "$SIZE" "$trial" 0
  order=("${SIDES[@]}"); [ $((trial % 2)) = 0 ] && [ ${#SIDES[@]} = 2 ] && order=(ours dmtcp)
  for s in "${order[@]}"; do note "trial $trial: $s launch"; add "$s:launch" "$(launch_true "$s" || echo -)"; done
  note "trial $trial: baselines"; baselines
  [ -n "$BIG" ] && run_cycles "$BIG" "$trial" 1
done
rm -f "$W"/data-*

# The table: DMTCP's median, ours, ours/DMTCP, the baseline's median, ours/baseline.
cell() { local m; m=$(median ${R[$1]:-}); echo "${m:-}"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b}' || true; }
row() {  # label key baseline-label baseline-key
  local d o b
  d=$(cell "dmtcp:$2"); o=$(cell "ours:$2"); b=$([ -n "${4:-}" ] && cell "base:$4" || true)
  [ -n "$DMTCP" ] || d=
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${d:-—}" "${o:-failed}" "$(ratio "$o" "$d")" \
    "${3:-}" "${b:-}" "$(ratio "$o" "$b")"
}
echo "command: $COMMAND_LINE"
echo "run: $START, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end, medians of $TRIALS interleaved trials${DMTCP:+, DMTCP: $("$DMTCP/bin/dmtcp_launch" --version 2>/dev/null | head -1)}${OURS_ENV:+, ours with $OURS_ENV}"
echo
echo "| seconds | DMTCP 5 | ours | ours / DMTCP | baseline | baseline s | ours / baseline |"
echo "|---|---|---|---|---|---|---|"
for mib in "$SIZE" ${BIG:+"$BIG"}; do
  if [ "$mib" = "$SIZE" ]; then
    row "checkpoint, gzip, random, $mib MiB" "ckpt-gzip-random-$mib" "gzip -1" gzip-random
    row "checkpoint, gzip, text, $mib MiB" "ckpt-gzip-text-$mib" "gzip -1" gzip-text
    row "checkpoint, gzip, half, $mib MiB" "ckpt-gzip-half-$mib" "gzip -1" gzip-half
    row "checkpoint, raw, random, $mib MiB" "ckpt-raw-random-$mib" "dd" dd
  fi
  row "program frozen during a raw checkpoint, $mib MiB" "frozen-raw-$mib"
  row "program frozen during a gzip checkpoint, $mib MiB" "frozen-gzip-$mib"
  row "restart to running, raw, random, $mib MiB" "restart-raw-random-$mib" memcpy "memcpy-$mib"
  row "restart to running, raw, text, $mib MiB" "restart-raw-text-$mib" memcpy "memcpy-$mib"
  row "restart to running, gzip, random, $mib MiB" "restart-gzip-random-$mib" memcpy "memcpy-$mib"
done
row "\`dmtcp_launch --new-coordinator\` of /bin/true" launch "plain /bin/true" true
