// Is a chunk worth deflating? Two cheap looks at a sample of it, so that
// incompressible page data (random, encrypted, already compressed) can be
// stored instead of deflated for nothing (src/image/engine.ts decides).
// Pointer-and-length API; the tables are static, nothing is allocated.

/** Bytes in one histogram sample window, and how many windows per chunk. */
const HIST_WINDOW: usize = 4096;
const HIST_WINDOWS: usize = 16;
/** Bytes in one repeat-probe window (within deflate's 32 KiB reach), and how many. */
const PROBE_WINDOW: usize = 8192;
const PROBE_WINDOWS: usize = 4;
/** Repeat probe: a 12-bit hash of 4 bytes -> last position; a match is 8 equal bytes. */
const PROBE_BITS: u32 = 12;
const PROBE_MATCH: usize = 8;

// Four histograms side by side: consecutive bytes go to different ones, so a
// run of equal bytes does not stall on its own store.
const hist = memory.data(4 * 256 * 4, 16);
const probe = memory.data((1 << PROBE_BITS) * 4, 16);

/** Windows of `win` bytes spread evenly over [0, len): start of window k. */
@inline function windowAt(len: usize, win: usize, n: usize, k: usize): usize {
  if (len <= win * n) return k * win;
  return (len - win) / (n - 1) * k;
}

/**
 * Order-0 entropy of a sample of [ptr, ptr+len), in thousandths of a bit per
 * byte (8000 = uniform random). Samples HIST_WINDOWS windows of HIST_WINDOW bytes.
 */
export function sampleEntropy(ptr: usize, len: usize): u32 {
  memory.fill(hist, 0, 4 * 256 * 4);
  let total: usize = 0;
  for (let k: usize = 0; k < HIST_WINDOWS; k++) {
    const from = windowAt(len, HIST_WINDOW, HIST_WINDOWS, k);
    if (from >= len) break;
    const n = min(HIST_WINDOW, len - from) & ~3;
    const p0 = ptr + from;
    for (let i: usize = 0; i < n; i += 4) {
      const w = load<u32>(p0 + i);
      const a = hist + ((w & 0xff) << 2);
      const b = hist + 1024 + (((w >> 8) & 0xff) << 2);
      const c = hist + 2048 + (((w >> 16) & 0xff) << 2);
      const d = hist + 3072 + ((w >> 24) << 2);
      store<u32>(a, load<u32>(a) + 1);
      store<u32>(b, load<u32>(b) + 1);
      store<u32>(c, load<u32>(c) + 1);
      store<u32>(d, load<u32>(d) + 1);
    }
    total += n;
  }
  if (total == 0) return 0;
  let sum: f64 = 0;
  for (let v: usize = 0; v < 256; v++) {
    const o = v << 2;
    const cnt = <f64>(load<u32>(hist + o) + load<u32>(hist + 1024 + o) + load<u32>(hist + 2048 + o) + load<u32>(hist + 3072 + o));
    if (cnt > 0) sum += cnt * Math.log2(cnt);
  }
  const t = <f64>total;
  return <u32>((Math.log2(t) - sum / t) * 1000.0 + 0.5);
}

/**
 * Repeats a deflater would find that order-0 entropy does not see (a random
 * page stored twice): in PROBE_WINDOWS windows of PROBE_WINDOW bytes, the
 * share of bytes covered by 8-byte matches with an earlier position of the
 * same window, in thousandths.
 */
export function sampleRepeats(ptr: usize, len: usize): u32 {
  let covered: usize = 0;
  let total: usize = 0;
  for (let k: usize = 0; k < PROBE_WINDOWS; k++) {
    const from = windowAt(len, PROBE_WINDOW, PROBE_WINDOWS, k);
    if (from >= len) break;
    const n = min(PROBE_WINDOW, len - from);
    if (n < PROBE_MATCH * 2) break;
    memory.fill(probe, 0xff, (1 << PROBE_BITS) * 4); // 0xffffffff = empty
    const p0 = ptr + from;
    const last = n - PROBE_MATCH;
    let i: usize = 0;
    while (i <= last) {
      const h = (load<u32>(p0 + i) * 2654435761) >> (32 - PROBE_BITS);
      const slot = probe + (<usize>h << 2);
      const cand = load<u32>(slot);
      store<u32>(slot, <u32>i);
      if (cand != 0xffffffff && load<u64>(p0 + <usize>cand) == load<u64>(p0 + i)) {
        covered += PROBE_MATCH;
        i += PROBE_MATCH;
      } else {
        i++;
      }
    }
    total += n;
  }
  return total == 0 ? 0 : <u32>(covered * 1000 / total);
}
