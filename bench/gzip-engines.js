// Gzip engine and member size by measurement (issue 3): deflates the same
// in-memory data cut into independent members, with
//   zlib-1core    node:zlib deflateRawSync on the main thread
//   zlib-pool     node:zlib deflateRaw on libuv's pool, 2 members per core in flight
//                 (what the encoder's ParallelGzipSink does)
//   fflate-1core  fflate deflateSync on the main thread
//   fflate-pool   fflate deflateSync on one worker_thread per core, 2 members per core in flight
//   zlib-big      zlib-pool with one output buffer per member (chunkSize; what engine.ts does)
//   zlib-mem9     zlib-big with memLevel 9
//   zlib-rle      zlib-big with strategy Z_RLE (size grows: for near-incompressible data)
//   zlib-huff     zlib-big with strategy Z_HUFFMAN_ONLY (same)
//   zlib-stored   zlib-big at level 0 (stored blocks) plus zlib.crc32: the floor for incompressible data
//   isal-pool     ISA-L igzip level 1 through the addon (gzipMemberBody), 2 per core in flight
//   isal-stored   the addon's stored blocks and ISA-L's CRC32 (what random chunks cost)
//   libdeflate-1core  the `libdeflate` npm package (wasm build), level 1, if LIBDEFLATE_DIR
//                 names a folder where it is installed (not a project dependency)
// all at level 1, and prints one JSON line per run: MB/s of input and the
// compressed size. No file I/O: the engine alone. Usage:
//   node bench/gzip-engines.js KIND MIB MEMBER_KIB[,...] ENGINE[,...]
// KIND as in make-data.js (random, text, half, zero).
'use strict';
const { Worker, isMainThread, parentPort } = require('worker_threads');
const zlib = require('zlib');
const os = require('os');
const path = require('path');
const fflate = require('fflate');

const LEVEL = 1;

if (!isMainThread) {
  parentPort.on('message', ({ id, buf }) => {
    const out = fflate.deflateSync(new Uint8Array(buf), { level: LEVEL });
    parentPort.postMessage({ id, out }, [out.buffer]);
  });
  return;
}

const CORES = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
const IN_FLIGHT = CORES * 2;
const [kind, mib, memberList, engineList] = process.argv.slice(2);
const MEMBERS = (memberList || '1024').split(',').map((k) => Number(k) * 1024);
const ENGINES = (engineList || 'zlib-1core,zlib-pool,fflate-1core,fflate-pool').split(',');

function makeData() {
  // Same generator as make-data.js, in memory.
  const { execFileSync } = require('child_process');
  const tmp = path.join(os.tmpdir(), `gzbench-${process.pid}`);
  execFileSync(process.execPath, [path.join(__dirname, 'make-data.js'), kind, String(mib), tmp]);
  const b = require('fs').readFileSync(tmp);
  require('fs').rmSync(tmp);
  return b;
}

function members(data, size) {
  const out = [];
  for (let o = 0; o < data.length; o += size) out.push(data.subarray(o, Math.min(o + size, data.length)));
  return out;
}

/** Runs `job` over the members with at most IN_FLIGHT pending; returns total compressed bytes. */
async function pooled(parts, job) {
  let total = 0, next = 0;
  const worker = async () => { while (next < parts.length) { const out = await job(parts[next++]); total += out.length; } };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return total;
}

function fflatePool() {
  const workers = Array.from({ length: CORES }, () => new Worker(__filename));
  const waiting = new Map();
  let id = 0, rr = 0;
  for (const w of workers) w.on('message', (m) => { waiting.get(m.id)(m.out); waiting.delete(m.id); });
  return {
    job: (part) => new Promise((resolve) => {
      const copy = new Uint8Array(part); // transferable copy, as the encoder must copy out of wasm scratch anyway
      waiting.set(++id, resolve);
      workers[rr++ % CORES].postMessage({ id, buf: copy.buffer }, [copy.buffer]);
    }),
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

function zlibBig(extra) {
  return (p) => new Promise((res, rej) => zlib.deflateRaw(p, { level: LEVEL, chunkSize: Math.max(65536, p.length + (p.length >> 4) + 1024), ...extra }, (e, o) => (e ? rej(e) : res(o))));
}

function isal(stored) {
  const addon = require(path.join(__dirname, '..', 'build', 'Release', 'dmtcp_native.node'));
  if (addon.gzipEngine() !== 'isa-l') throw new Error('ISA-L not found (Debian: libisal2, and libisal-dev when building)');
  return (p) => new Promise((res, rej) => {
    const out = Buffer.allocUnsafe(addon.storedMemberBound(p.length));
    addon.gzipMemberBody(p, stored, out, (e, n) => (e ? rej(e) : res(out.subarray(0, n - 8)))); // sizes without the footer, as the others
  });
}

async function run(engine, parts) {
  if (engine === 'zlib-big') return pooled(parts, zlibBig({}));
  if (engine === 'zlib-mem9') return pooled(parts, zlibBig({ memLevel: 9 }));
  if (engine === 'zlib-rle') return pooled(parts, zlibBig({ strategy: zlib.constants.Z_RLE }));
  if (engine === 'zlib-huff') return pooled(parts, zlibBig({ strategy: zlib.constants.Z_HUFFMAN_ONLY }));
  if (engine === 'zlib-stored') return pooled(parts, (p) => { zlib.crc32(p); return zlibBig({ level: 0 })(p); });
  if (engine === 'isal-pool') return pooled(parts, isal(false));
  if (engine === 'isal-stored') return pooled(parts, isal(true));
  if (engine === 'libdeflate-1core') {
    const { deflate } = await import(path.join(process.env.LIBDEFLATE_DIR || '.', 'node_modules', 'libdeflate', 'index.js'));
    return parts.reduce((s, p) => s + deflate(p, LEVEL).length, 0);
  }
  if (engine === 'zlib-1core') return parts.reduce((s, p) => s + zlib.deflateRawSync(p, { level: LEVEL }).length, 0);
  if (engine === 'fflate-1core') return parts.reduce((s, p) => s + fflate.deflateSync(p, { level: LEVEL }).length, 0);
  if (engine === 'zlib-pool') {
    return pooled(parts, (p) => new Promise((res, rej) => zlib.deflateRaw(Buffer.from(p), { level: LEVEL }, (e, o) => (e ? rej(e) : res(o)))));
  }
  if (engine === 'fflate-pool') {
    const pool = fflatePool();
    try { return await pooled(parts, pool.job); } finally { await pool.close(); }
  }
  throw new Error(`unknown engine ${engine}`);
}

(async () => {
  const data = makeData();
  for (const size of MEMBERS) {
    const parts = members(data, size);
    for (const engine of ENGINES) {
      const t0 = process.hrtime.bigint();
      const bytes = await run(engine, parts);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ kind, mib: Number(mib), memberKiB: size / 1024, engine, s: +s.toFixed(3), MBs: Math.round(data.length / 1048576 / s), bytes }));
    }
  }
})();
