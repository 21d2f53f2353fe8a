// How page-data gzip members are made (docs/image-format.md, performance.md
// "gzip checkpoints"): whether a chunk is worth deflating at all, and which
// deflater runs. Incompressible chunks (random, encrypted, compressed data)
// become stored deflate blocks: still a valid member, at the cost of a copy
// and a CRC. The others are deflated at level 1 on libuv's thread pool by
// ISA-L's igzip when the machine has it (the addon loads it at run time),
// else by node:zlib.
import * as zlib from 'node:zlib';
import { loadAddon } from '../native';
import { sampleEntropy, sampleRepeats } from './codec';
import { storedBlocks } from './gzmember';

/**
 * A chunk whose sampled order-0 entropy is at least this (thousandths of a
 * bit per byte; random data measures ~7997) would shrink by under 1.5% with
 * Huffman codes alone ...
 */
export const STORE_MIN_ENTROPY = 7880;
/** ... unless repeats (which LZ77 finds and a histogram cannot) cover this share of the sample (thousandths). */
export const STORE_MAX_REPEATS = 10;
/** Deflate level of page data: speed matters more than the last percent. */
export const DATA_LEVEL = 1;
/** Environment switch for benchmarks and tests: `zlib` turns ISA-L off. */
export const ENGINE_ENV = 'DMTCP_GZIP_ENGINE';

export type EngineName = 'isa-l' | 'zlib';

let engine: EngineName | undefined;

/** The engine this process uses: ISA-L when the addon finds it, unless DMTCP_GZIP_ENGINE=zlib. */
export function gzipEngine(): EngineName {
  if (!engine) engine = process.env[ENGINE_ENV] !== 'zlib' && loadAddon().gzipEngine() === 'isa-l' ? 'isa-l' : 'zlib';
  return engine;
}

/** Whether the chunk should be deflated (else stored). Cheap: looks at a sample; a view of wasm memory is not copied. */
export function worthDeflating(data: Uint8Array): boolean {
  return sampleEntropy(data) < STORE_MIN_ENTROPY || sampleRepeats(data) > STORE_MAX_REPEATS;
}

function footer(crc: number, len: number): Buffer {
  const f = Buffer.allocUnsafe(8);
  f.writeUInt32LE(crc >>> 0, 0);
  f.writeUInt32LE(len >>> 0, 4);
  return f;
}

/**
 * The body of one member for `data` on the thread pool: raw deflate data (or
 * stored blocks), then CRC32 and ISIZE. `data` must stay unchanged until the
 * promise settles; the result does not refer to it.
 */
export function memberBody(data: Uint8Array, stored: boolean): Promise<Buffer[]> {
  if (gzipEngine() === 'isa-l') {
    const addon = loadAddon();
    const out = Buffer.allocUnsafe(addon.storedMemberBound(data.length));
    return new Promise((resolve, reject) => {
      addon.gzipMemberBody(data, stored, out, (err, n) => (err ? reject(err) : resolve([out.subarray(0, n)])));
    });
  }
  // node:zlib: the CRC here (Node's zlib.crc32 is SIMD), the deflate on the pool;
  // stored blocks are a copy, made here too (zlib's level 0 cuts smaller blocks).
  const tail = footer(zlib.crc32(data), data.length);
  if (stored) return Promise.resolve([storedBlocks(data), tail]);
  return new Promise((resolve, reject) => {
    // zlib's default 16 KiB output chunks: one buffer per member (chunkSize) measured slower here (performance.md).
    zlib.deflateRaw(data, { level: DATA_LEVEL }, (err, body) => (err ? reject(err) : resolve([body, tail])));
  });
}
