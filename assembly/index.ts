// The image codec: one wasm module, stub runtime (no GC, no allocator). All
// functions take pointers into linear memory; src/image/codec.ts owns the
// layout (a scratch region above __heap_base that it grows on demand).

export { isZero, classifyPages, compactPages } from './zero';
export { xxh64 } from './xxh64';
export { hashPages } from './hash';
export { sampleEntropy, sampleRepeats } from './entropy';

/** Codec ABI version; bump when an export changes meaning. */
export function version(): i32 { return 4; }

/** First byte free for the caller's scratch use, aligned to a wasm page. */
const WASM_PAGE: usize = 65536;
export function scratchBase(): usize {
  return (__heap_base + WASM_PAGE - 1) & ~(WASM_PAGE - 1);
}

/** Grows memory by `pages` wasm pages (64 KiB); returns the old size or -1. */
export function grow(pages: i32): i32 {
  return memory.grow(pages);
}
