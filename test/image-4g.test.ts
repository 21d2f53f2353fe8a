// Across the 4 GiB boundary: wasm32 memory ends at 4 GiB, so page data passes
// through codec.wasm in chunks and every offset past 2^32 lives in JS numbers
// and u64 fields. One area a little larger than 4 GiB is sent whole (all its
// pages cross the pipe and the wasm scratch chunk), almost all zero, with data
// pages just before, at and after the 4 GiB offset and at the very end; a
// second area is sent sparsely, with runs that start beyond 4 GiB. Zero pages
// are elided before deflate, so gzip costs no more than raw here: ~1 s per
// encode of 4 GiB on the 2-core machine (pipe + SIMD zero scan; the stream is
// generated piece by piece from one shared zero buffer, never held whole).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openImage, openImageFile } from '../dist/image/decode.js';
import { writeRestorePlanSync } from '../dist/image/plan.js';
import { LazyArea, PAGE, defaultMeta, lazyRawStream, randomBytes, runEncoderLazy } from './helpers/rawstream';

const GIB4 = 2 ** 32;
/** A little more than 4 GiB, and not a whole number of 1 MiB chunks. */
const BIG_SIZE = GIB4 + (1 << 20) + 3 * PAGE;
const BIG_START = 0x7e0000000000n;
const SPARSE_START = 0x7f0000000000n;
const SPARSE_SIZE = 6 * GIB4;
/** Encoding 4 GiB of pipe traffic twice, plus decoding: generous for a 2-core VM. */
const TIMEOUT_MS = 120_000;

const page = (seed: number) => randomBytes(PAGE, seed);
const bigPages = new Map<number, Uint8Array>([
  [0, page(1)],
  [GIB4 - PAGE, page(2)], // last page below 4 GiB
  [GIB4, page(3)], // first page at 4 GiB
  [GIB4 + PAGE, page(4)],
  [GIB4 + (1 << 20), page(5)], // first page of the short last chunk
  [BIG_SIZE - PAGE, page(6)], // the very end
]);
const sparsePages = new Map<number, Uint8Array>([
  [GIB4 + 8 * PAGE, page(7)],
  [5 * GIB4 - PAGE, page(8)],
  [5 * GIB4, page(9)],
]);
const areas: LazyArea[] = [
  { start: BIG_START, size: BIG_SIZE, name: '[anon:big]', pages: bigPages },
  {
    start: SPARSE_START, size: SPARSE_SIZE, name: '[anon:sparse]', pages: sparsePages,
    runs: [{ offset: GIB4, len: 16 * PAGE }, { offset: 5 * GIB4 - 2 * PAGE, len: 4 * PAGE }],
  },
];

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-4g-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The area's memory at [from, from+len): its data pages, zero elsewhere. */
function expected(a: LazyArea, from: number, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let x = from - (from % PAGE); x < from + len; x += PAGE) {
    const bytes = a.pages.get(x);
    if (!bytes) continue;
    const lo = Math.max(x, from), hi = Math.min(x + PAGE, from + len);
    out.set(bytes.subarray(lo - x, hi - x), lo - from);
  }
  return out;
}

/** Every data page reads back at its address, with zero pages on either side. */
function checkPages(file: string, areas: LazyArea[]): void {
  const im = openImage(file);
  try {
    expect(im.verify()).toBeNull();
    areas.forEach((a, i) => {
      expect(im.areas[i].start).toBe(a.start);
      expect(im.areas[i].end).toBe(a.start + BigInt(a.size));
      expect(im.areas[i].dataLen).toBe(a.pages.size * PAGE);
      for (const [off, bytes] of a.pages) {
        expect(Buffer.compare(im.readMemory(a.start + BigInt(off), PAGE), bytes)).toBe(0);
        // a window straddling the page's start: the page before (or the area's start) and this one
        const from = Math.max(0, off - PAGE / 2);
        expect(Buffer.compare(im.readMemory(a.start + BigInt(from), PAGE), expected(a, from, PAGE))).toBe(0);
      }
      // zero pages between the data pages, beyond 4 GiB
      expect(im.readMemory(a.start + BigInt(GIB4 + 2 * PAGE), 2 * PAGE).every((b) => b === 0)).toBe(true);
    });
  } finally { im.close(); }
}

/** The restore plan's runs rebuild the same pages. */
function checkPlan(file: string, areas: LazyArea[]): void {
  const planPath = file + '.plan';
  writeRestorePlanSync(file, planPath);
  const p = fs.readFileSync(planPath);
  const areasOff = Number(p.readBigUInt64LE(48)), runsOff = Number(p.readBigUInt64LE(56));
  areas.forEach((a, i) => {
    const o = areasOff + i * 48;
    const first = p.readUInt32LE(o + 24), n = p.readUInt32LE(o + 28);
    const seen = new Map<number, Buffer>();
    for (let k = first; k < first + n; k++) {
      const ro = runsOff + k * 32;   // plan run records (docs/restore-plan.md)
      const addr = p.readBigUInt64LE(ro), len = Number(p.readBigUInt64LE(ro + 8)), at = Number(p.readBigUInt64LE(ro + 16));
      for (let q = 0; q < len; q += PAGE) seen.set(Number(addr - a.start) + q, p.subarray(at + q, at + q + PAGE));
    }
    expect([...seen.keys()].sort((x, y) => x - y)).toEqual([...a.pages.keys()].sort((x, y) => x - y));
    for (const [off, bytes] of a.pages) expect(Buffer.compare(seen.get(off)!, bytes)).toBe(0);
  });
  fs.rmSync(planPath);
}

describe('an image of a process larger than 4 GiB', () => {
  for (const mode of ['--no-gzip', '--gzip']) {
    it(`${mode}: encoder CLI, decoder and plan writer agree byte for byte across 4 GiB`, async () => {
      const out = path.join(dir, `big${mode}.dmtcp`);
      const r = await runEncoderLazy(lazyRawStream(defaultMeta(), areas), out, [mode]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      checkPages(out, areas);
      checkPlan(out, areas);
    }, TIMEOUT_MS);
  }

  it('--hbict: a delta that changes the page at 4 GiB reads back through the chain', async () => {
    const out = path.join(dir, 'chain.dmtcp');
    const first = await runEncoderLazy(lazyRawStream(defaultMeta(), areas), out, ['--gzip', '--hbict']);
    expect(first.stderr).toBe('');
    const changed: LazyArea[] = [{ ...areas[0], pages: new Map([...bigPages, [GIB4, page(10)]]) }, areas[1]];
    const second = await runEncoderLazy(lazyRawStream(defaultMeta(), changed), out, ['--gzip', '--hbict']);
    expect(second.stderr).toBe('');
    expect(second.status).toBe(0);
    const delta = openImageFile(path.join(dir, 'chain.hbict.2'));
    expect(delta.hbict?.parent).toBe('chain.hbict.1');
    expect(delta.areas.reduce((s, a) => s + a.dataLen, 0)).toBe(PAGE); // only the changed page
    delta.close();
    checkPages(out, changed);
    checkPlan(out, changed);
  }, TIMEOUT_MS);
});
