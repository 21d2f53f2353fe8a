// Per-page hashes for HBICT delta images: one XXH64 per page, written as u64s
// to an output array, so the encoder finds changed blocks with one call per
// chunk instead of one call (and one copy) per page.
import { xxh64 } from './xxh64';

/**
 * Writes xxh64(page, seed 0) of every page of [ptr, ptr+len) as a u64 at
 * outPtr + 8*i (a short last page is hashed as it is). Returns the page count.
 */
export function hashPages(ptr: usize, len: usize, pageSize: usize, outPtr: usize): u32 {
  let i: u32 = 0;
  for (let off: usize = 0; off < len; off += pageSize) {
    store<u64>(outPtr + (<usize>i << 3), xxh64(ptr + off, min(pageSize, len - off), 0));
    i++;
  }
  return i;
}
