#!/usr/bin/env bash
# Encoder throughput against gzip -1 and dd on the same bytes (256 MiB of
# system binaries and libraries: realistic, partly compressible). Figures go
# to docs/performance.md. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-/tmp/dmtcp-bench}
mkdir -p "$W"
find /usr/bin /usr/lib/x86_64-linux-gnu -type f -size +100k 2>/dev/null | xargs cat 2>/dev/null | head -c 268435456 > "$W/data" || true
node bench/make-stream.js "$W/data" > "$W/stream.raw"
t() { local label=$1; shift; /usr/bin/time -f "$label: %e s wall, %U s user, %M KB max RSS" "$@"; }
for mode in "--gzip" "--gzip --serial" "--no-gzip"; do
  # shellcheck disable=SC2086
  t "encoder $mode" node dist/image/encoder-main.js --out "$W/img.dmtcp" $mode < "$W/stream.raw"
  echo "  size $(stat -c %s "$W/img.dmtcp")"
done
t "gzip -1" sh -c "gzip -1 -c '$W/stream.raw' > '$W/ref.gz'"
echo "  size $(stat -c %s "$W/ref.gz")"
t "dd (fsync)" dd if="$W/stream.raw" of="$W/ref.dd" bs=1M conv=fsync status=none
rm -rf "$W"
