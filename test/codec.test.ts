// codec.wasm against independent oracles: xxhash-wasm for XXH64, a plain JS
// loop for zero detection, over edge sizes and random/zero/sparse contents.
import { describe, expect, it, beforeAll } from 'vitest';
import xxhash from 'xxhash-wasm';
import * as codec from '../dist/image/codec.js';
import { randomBytes, sparseBytes, PAGE } from './helpers/rawstream';

const SIZES = [0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE + 17, 1 << 20];

function jsIsZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

let h64Raw: (input: Uint8Array, seed?: bigint) => bigint;
beforeAll(async () => { ({ h64Raw } = await xxhash()); });

describe('xxh64', () => {
  for (const n of SIZES) {
    it(`matches xxhash-wasm on ${n} random bytes`, () => {
      const b = randomBytes(n, n + 1);
      expect(codec.xxh64(b)).toBe(h64Raw(b, 0n));
      expect(codec.xxh64(b, 0x123456789abcdef0n)).toBe(h64Raw(b, 0x123456789abcdef0n));
    });
  }
  it('matches on zero and unaligned buffers', () => {
    const big = randomBytes(PAGE * 3, 9);
    for (const off of [1, 3, 5, 7]) {
      const v = big.subarray(off, off + PAGE + off);
      expect(codec.xxh64(v)).toBe(h64Raw(v, 0n));
    }
    const z = new Uint8Array(PAGE * 2);
    expect(codec.xxh64(z)).toBe(h64Raw(z, 0n));
  });
});

describe('isZero', () => {
  for (const n of SIZES) {
    it(`agrees with a JS loop at ${n} bytes`, () => {
      const z = new Uint8Array(n);
      expect(codec.isZero(z)).toBe(true);
      if (n === 0) return;
      // A single non-zero byte anywhere, including the SIMD tail positions.
      for (const pos of new Set([0, n - 1, n >> 1, Math.max(0, n - 17), Math.min(n - 1, 63)])) {
        const b = new Uint8Array(n);
        b[pos] = 0x80;
        expect(codec.isZero(b)).toBe(jsIsZero(b));
      }
      expect(codec.isZero(randomBytes(n, 5))).toBe(jsIsZero(randomBytes(n, 5)));
    });
  }
});

describe('page classification', () => {
  it('marks exactly the non-zero pages of a sparse buffer', () => {
    const pages = 40;
    const data = [0, 1, 7, 8, 39];
    const b = sparseBytes(pages, data);
    const map = codec.nonZeroPages(b);
    expect(map.length).toBe(pages);
    for (let p = 0; p < pages; p++) expect(map[p]).toBe(data.includes(p));
  });
  it('counts a short last page and single bytes at page edges', () => {
    const b = new Uint8Array(2 * PAGE + 1);
    b[PAGE - 1] = 1;
    b[2 * PAGE] = 1;
    expect(codec.nonZeroPages(b)).toEqual([true, false, true]);
  });
  it('compacts non-zero pages in place', () => {
    const pages = 10;
    const data = [1, 4, 5, 9];
    const src = sparseBytes(pages, data, 11);
    const s = codec.scratch(src.length + codec.pageMapRoom(src.length));
    s.view.set(src);
    const r = codec.classifyPagesAt(s.ptr, src.length);
    expect(r.nonZero).toBe(data.length);
    const kept = codec.compactPagesAt(s.ptr, src.length, r.mapPtr);
    expect(kept).toBe(data.length * PAGE);
    const out = codec.memView(s.ptr, kept);
    data.forEach((p, i) => expect(Buffer.compare(out.subarray(i * PAGE, (i + 1) * PAGE), src.subarray(p * PAGE, (p + 1) * PAGE))).toBe(0));
  });
  it('grows scratch memory on demand and keeps working', () => {
    const s = codec.scratch(40 << 20);
    expect(s.view.length).toBe(40 << 20);
    expect(codec.isZeroAt(s.ptr, 40 << 20)).toBe(jsIsZero(codec.memView(s.ptr, 40 << 20)));
  });
});
