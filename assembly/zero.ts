// Zero-page detection over linear memory. Pointer-and-length API: the caller
// (src/image/codec.ts) reads page data straight into wasm memory and asks
// about it here, so nothing is copied or allocated in these loops.

/** Bytes compared per unrolled SIMD iteration (four v128 lanes). */
const SIMD_STRIDE: usize = 64;
const V128_BYTES: usize = 16;

/** True when every byte of [ptr, ptr+len) is zero. */
export function isZero(ptr: usize, len: usize): bool {
  let p = ptr;
  const end = ptr + len;
  // OR four vectors together and test once: one branch per 64 bytes keeps the
  // loop at memory speed instead of branch-bound.
  while (p + SIMD_STRIDE <= end) {
    const a = v128.or(v128.load(p), v128.load(p, 16));
    const b = v128.or(v128.load(p, 32), v128.load(p, 48));
    if (v128.any_true(v128.or(a, b))) return false;
    p += SIMD_STRIDE;
  }
  while (p + V128_BYTES <= end) {
    if (v128.any_true(v128.load(p))) return false;
    p += V128_BYTES;
  }
  while (p < end) {
    if (load<u8>(p) != 0) return false;
    p++;
  }
  return true;
}

/**
 * Classifies each page of [ptr, ptr+len) as zero (0) or non-zero (1), one
 * byte per page at outMapPtr (a byte map is cheaper for JS to read than bits).
 * A short last page counts as a page. Returns the number of non-zero pages.
 */
export function classifyPages(ptr: usize, len: usize, pageSize: usize, outMapPtr: usize): u32 {
  let nonZero: u32 = 0;
  let i: usize = 0;
  for (let off: usize = 0; off < len; off += pageSize) {
    const n = min(pageSize, len - off);
    const z = isZero(ptr + off, n);
    store<u8>(outMapPtr + i, z ? 0 : 1);
    if (!z) nonZero++;
    i++;
  }
  return nonZero;
}

/**
 * Moves the non-zero pages (per the map from classifyPages) of [ptr, ptr+len)
 * down so they are contiguous from ptr, in order. Returns the bytes kept.
 * Moving in place lets one checksum and one write cover the stored pages.
 */
export function compactPages(ptr: usize, len: usize, pageSize: usize, mapPtr: usize): usize {
  let dst = ptr;
  let i: usize = 0;
  for (let off: usize = 0; off < len; off += pageSize) {
    const n = min(pageSize, len - off);
    if (load<u8>(mapPtr + i) != 0) {
      if (dst != ptr + off) memory.copy(dst, ptr + off, n);
      dst += n;
    }
    i++;
  }
  return dst - ptr;
}
