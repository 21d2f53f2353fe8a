// TypeScript face of dist/codec.wasm. Loads the module synchronously (CLIs
// must be usable without an event-loop turn) and owns one scratch region of
// wasm memory into which callers read page data directly: no extra copy.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PAGE_SIZE = 4096;
const WASM_PAGE = 65536;
/** Largest scratch region we will ever ask for (wasm32 memory ends at 4 GiB). */
const SCRATCH_LIMIT = 1 << 30;

interface CodecExports {
  memory: WebAssembly.Memory;
  isZero(ptr: number, len: number): number;
  classifyPages(ptr: number, len: number, pageSize: number, outMapPtr: number): number;
  compactPages(ptr: number, len: number, pageSize: number, mapPtr: number): number;
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  hashPages(ptr: number, len: number, pageSize: number, outPtr: number): number;
  sampleEntropy(ptr: number, len: number): number;
  sampleRepeats(ptr: number, len: number): number;
  scratchBase(): number;
  grow(pages: number): number;
  version(): number;
}

let ex: CodecExports | null = null;
let scratchPtr = 0;
let scratchLen = 0;

function codec(): CodecExports {
  if (ex) return ex;
  // dist/image/codec.js -> dist/codec.wasm
  const file = path.join(__dirname, '..', 'codec.wasm');
  const mod = new WebAssembly.Module(fs.readFileSync(file));
  const inst = new WebAssembly.Instance(mod, { env: { abort: codecAbort } });
  ex = inst.exports as unknown as CodecExports;
  scratchPtr = ex.scratchBase();
  scratchLen = ex.memory.buffer.byteLength - scratchPtr;
  return ex;
}

function codecAbort(): never {
  throw new Error('codec.wasm aborted');
}

/**
 * Returns the scratch region, at least `len` bytes, as a fresh view of wasm
 * memory. Views die when memory grows: take a new one after each call.
 */
export function scratch(len: number): { ptr: number; view: Uint8Array } {
  const c = codec();
  if (len > SCRATCH_LIMIT) throw new Error(`codec scratch request too large: ${len} bytes`);
  if (len > scratchLen) {
    if (scratchPtr + scratchLen === c.memory.buffer.byteLength) {
      growBy(len - scratchLen);
      scratchLen = c.memory.buffer.byteLength - scratchPtr;
    } else {
      // A region was reserved past the scratch: move the scratch to a fresh end.
      const at = c.memory.buffer.byteLength;
      growBy(len);
      scratchPtr = at;
      scratchLen = c.memory.buffer.byteLength - at;
    }
  }
  return { ptr: scratchPtr, view: new Uint8Array(c.memory.buffer, scratchPtr, len) };
}

/**
 * Regions of wasm memory handed out by reserveRegion(): never touched by
 * scratch() or place(), so data may stay there while asynchronous I/O (an
 * fs.write on libuv's thread pool) reads or fills it. `busy` counts regions
 * whose views are in use by such I/O: memory must not grow then (a grown
 * memory may live at another address, and the old views are detached).
 */
interface Region { ptr: number; len: number; free: boolean }
const regions: Region[] = [];
let busy = 0;

function growBy(bytes: number): void {
  const c = codec();
  if (busy > 0) throw new Error('internal: codec memory would grow while page data is in flight');
  const need = Math.ceil(bytes / WASM_PAGE);
  if (c.grow(need) < 0) throw new Error(`codec cannot grow memory by ${need} pages`);
}

/**
 * A region of at least `len` bytes owned by the caller until releaseRegion():
 * page-aligned (4096), reused from released ones when one fits, else taken
 * from new memory at the end. Take views with memView() after the call.
 */
export function reserveRegion(len: number): number {
  const c = codec();
  if (len > SCRATCH_LIMIT) throw new Error(`codec region request too large: ${len} bytes`);
  const fit = regions.filter((r) => r.free && r.len >= len).sort((a, b) => a.len - b.len)[0];
  if (fit) { fit.free = false; return fit.ptr; }
  const at = c.memory.buffer.byteLength; // a multiple of the wasm page, so page-aligned
  growBy(len);
  regions.push({ ptr: at, len: c.memory.buffer.byteLength - at, free: false });
  return at;
}

export function releaseRegion(ptr: number): void {
  const r = regions.find((x) => x.ptr === ptr);
  if (!r || r.free) throw new Error(`internal: region ${ptr} released twice or never reserved`);
  r.free = true;
}

/** Marks the start (+1) or end (-1) of asynchronous I/O on a region: memory cannot grow meanwhile. */
export function regionIo(delta: 1 | -1): void {
  busy += delta;
  if (busy < 0) throw new Error('internal: region I/O count below zero');
}

/** A view of wasm memory at [ptr, ptr+len): for data already in scratch. */
export function memView(ptr: number, len: number): Uint8Array {
  return new Uint8Array(codec().memory.buffer, ptr, len);
}

function isInWasm(buf: Uint8Array): boolean {
  return buf.buffer === codec().memory.buffer;
}

/** Places bytes in wasm memory (no copy when they already live there). */
function place(buf: Uint8Array, extra = 0): number {
  if (isInWasm(buf)) return buf.byteOffset;
  const s = scratch(buf.length + extra);
  s.view.set(buf);
  return s.ptr;
}

export function isZeroAt(ptr: number, len: number): boolean {
  return codec().isZero(ptr, len) !== 0;
}

export function isZero(buf: Uint8Array): boolean {
  return isZeroAt(place(buf), buf.length);
}

export function xxh64At(ptr: number, len: number, seed = 0n): bigint {
  return BigInt.asUintN(64, codec().xxh64(ptr, len, seed));
}

export function xxh64(buf: Uint8Array, seed = 0n): bigint {
  return xxh64At(place(buf), buf.length, seed);
}

/**
 * Classifies the pages of [ptr, ptr+len) in wasm memory. The map (one byte per
 * page, 1 = non-zero) is written just past the data, so the caller's scratch
 * request must leave room: see pageMapRoom().
 */
export function classifyPagesAt(ptr: number, len: number): { mapPtr: number; pages: number; nonZero: number } {
  const c = codec();
  const mapPtr = ptr + len;
  const pages = Math.ceil(len / PAGE_SIZE);
  const nonZero = c.classifyPages(ptr, len, PAGE_SIZE, mapPtr);
  return { mapPtr, pages, nonZero };
}

/** Bytes a caller must reserve after `len` bytes of data for the page map. */
export function pageMapRoom(len: number): number {
  return Math.ceil(len / PAGE_SIZE);
}

/** Per-page zero map of a buffer: true where the page has a non-zero byte. */
export function nonZeroPages(buf: Uint8Array): boolean[] {
  const ptr = place(buf, pageMapRoom(buf.length));
  const r = classifyPagesAt(ptr, buf.length);
  const map = memView(r.mapPtr, r.pages);
  return Array.from(map, (b) => b !== 0);
}

/** Moves non-zero pages (per map at mapPtr) to the front; returns bytes kept. */
export function compactPagesAt(ptr: number, len: number, mapPtr: number): number {
  return codec().compactPages(ptr, len, PAGE_SIZE, mapPtr);
}

/** Bytes a caller must reserve (8-aligned) for hashPagesAt's output of `len` bytes. */
export function pageHashRoom(len: number): number {
  return Math.ceil(len / PAGE_SIZE) * 8 + 8;
}

/**
 * XXH64 of every page of [ptr, ptr+len) in wasm memory, written at the first
 * 8-aligned address at or after `outPtr`; returns that address and a view.
 * The view dies when memory grows: use it before the next scratch() call.
 */
export function hashPagesAt(ptr: number, len: number, outPtr: number): BigUint64Array {
  const c = codec();
  const at = (outPtr + 7) & ~7;
  const n = c.hashPages(ptr, len, PAGE_SIZE, at);
  return new BigUint64Array(c.memory.buffer, at, n);
}

/** Per-page XXH64 of a buffer (a copy: the result survives later codec calls). */
export function pageHashes(buf: Uint8Array): BigUint64Array {
  const ptr = place(buf, pageHashRoom(buf.length));
  return hashPagesAt(ptr, buf.length, ptr + buf.length).slice();
}

/** Order-0 entropy of a sample of the bytes, thousandths of a bit per byte (8000 = random). No copy for wasm views. */
export function sampleEntropy(buf: Uint8Array): number {
  return codec().sampleEntropy(place(buf), buf.length) >>> 0;
}

/** Share of a sample of the bytes that 8-byte repeats within 8 KiB cover, in thousandths. No copy for wasm views. */
export function sampleRepeats(buf: Uint8Array): number {
  return codec().sampleRepeats(place(buf), buf.length) >>> 0;
}
