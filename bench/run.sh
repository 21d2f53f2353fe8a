#!/usr/bin/env bash
# One run over the same data for docs/performance.md: for each kind (random,
# zero, text, half) and size (64 MiB, 1 GiB): codec.wasm zero scan / XXH64,
# encoder gzip (all cores, one core) and raw, decode (readdmtcp --verify), and
# the references gzip -1, gzip -dc and dd, all writing to the same folder.
# Default encoder runs do not fsync (the encoder's default) and compare with
# plain `gzip -1 > file` and `dd`; the raw encoder is also run with
# DMTCP_FSYNC=1 against `dd conv=fsync`. Node's own start-up is printed first.
# Usage: bench/run.sh [SIZES_MIB...]  (default: 64 1024), after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-/tmp/dmtcp-bench}
SIZES=("${@:-64 1024}")
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
# Wall seconds of a command (stdout discarded unless redirected inside).
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
mbs() { echo "scale=0; $1 / 1048576 / $2" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
unset DMTCP_FSYNC
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), node $(node --version), $(gzip --version | head -1)"
# Start-up: bare node, and the encoder on an empty stream (header + END, no areas).
node -e "const b=Buffer.alloc(32);const j=Buffer.from('{}');b.write('DMTCPRAW');b.writeUInt32LE(1,8);b.writeUInt32LE(j.length,12);const e=Buffer.alloc(64);e.write('END');process.stdout.write(Buffer.concat([b,j,e]))" > "$W/empty.raw"
echo "start-up: node -e 0 $(secs node -e 0) s, encoder on an empty stream $(secs node dist/image/encoder-main.js --out "$W/empty.dmtcp" < "$W/empty.raw") s"
rm -f "$W/empty.raw" "$W/empty.dmtcp"
printf '| data | MiB | zero scan GB/s | xxh64 GB/s | page hashes GB/s | enc gzip all cores s (MB/s) | enc gzip 1 core s | gzip -1 s | gzip -1 / enc | size enc / gzip -1 | dec verify s (MB/s) | gzip -dc s | enc raw s | dd s | enc raw / dd | enc raw fsync s | dd fsync s | fsync: enc / dd |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for size in ${SIZES[@]}; do
  for kind in random zero text half; do
    node bench/make-data.js "$kind" "$size" "$W/data"
    node bench/make-stream.js "$W/data" > "$W/stream.raw"
    rm -f "$W/data"
    sync
    w=$(node bench/wasm-speed.js "$W/stream.raw")
    z=$(echo "$w" | sed 's/.*zeroScanGBs":\([0-9.]*\).*/\1/')
    x=$(echo "$w" | sed 's/.*"xxh64GBs":\([0-9.]*\).*/\1/')
    p=$(echo "$w" | sed 's/.*pageHashGBs":\([0-9.]*\).*/\1/')
    bytes=$(stat -c %s "$W/stream.raw")
    tp=$(secs node dist/image/encoder-main.js --out "$W/img.dmtcp" --gzip < "$W/stream.raw")
    es=$(stat -c %s "$W/img.dmtcp")
    ts=$(secs node dist/image/encoder-main.js --out "$W/img1.dmtcp" --gzip --serial < "$W/stream.raw")
    rm -f "$W/img1.dmtcp"
    tg=$(secs sh -c "gzip -1 -c '$W/stream.raw' > '$W/ref.gz'")
    gs=$(stat -c %s "$W/ref.gz")
    td=$(secs sh -c "node bin/readdmtcp --verify '$W/img.dmtcp' > /dev/null")
    tz=$(secs sh -c "gzip -dc '$W/ref.gz' > /dev/null")
    rm -f "$W/ref.gz" "$W/img.dmtcp"
    tr=$(secs node dist/image/encoder-main.js --out "$W/img.dmtcp" --no-gzip < "$W/stream.raw")
    rm -f "$W/img.dmtcp"
    tdd=$(secs dd if="$W/stream.raw" of="$W/ref.dd" bs=1M status=none)
    rm -f "$W/ref.dd"
    sync
    trf=$(DMTCP_FSYNC=1 secs node dist/image/encoder-main.js --out "$W/img.dmtcp" --no-gzip < "$W/stream.raw")
    rm -f "$W/img.dmtcp"
    tddf=$(secs dd if="$W/stream.raw" of="$W/ref.dd" bs=1M conv=fsync status=none)
    rm -f "$W/ref.dd" "$W/stream.raw"
    sizer=$(echo "scale=3; $es / $gs" | bc)
    printf '| %s | %s | %s | %s | %s | %.2f (%s) | %.2f | %.2f | %s | %s (%s / %s) | %.2f (%s) | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %s |\n' \
      "$kind" "$size" "$z" "$x" "$p" "$tp" "$(mbs "$bytes" "$tp")" "$ts" "$tg" "$(ratio "$tg" "$tp")" "$sizer" "$es" "$gs" "$td" "$(mbs "$bytes" "$td")" "$tz" "$tr" "$tdd" "$(ratio "$tr" "$tdd")" "$trf" "$tddf" "$(ratio "$trf" "$tddf")"
  done
done
