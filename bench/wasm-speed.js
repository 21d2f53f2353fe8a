// Zero-scan and XXH64 throughput of codec.wasm alone on a data file, read into
// wasm memory in 64 MiB pieces (the read is not timed) and worked on in 1 MiB
// calls, as the encoder does (one call per chunk; V8 only tiers a wasm function
// up from its baseline compiler between calls, so one giant call measures the
// baseline code). Prints one JSON line.
// `node bench/wasm-speed.js FILE` after `npm run build`.
'use strict';
const fs = require('fs');
const codec = require('../dist/image/codec.js');
const PIECE = 64 << 20;
/** Bytes per codec call: the encoder's chunk size. */
const CALL = 1 << 20;
const REPEAT_BYTES = 2 << 30; // time at least this much work so small files measure steadily
const file = process.argv[2];
const size = fs.statSync(file).size;
const { ptr } = codec.scratch(PIECE + codec.pageMapRoom(PIECE) + codec.pageHashRoom(PIECE));
const fd = fs.openSync(file, 'r');
let scanNs = 0n, hashNs = 0n, pageHashNs = 0n, bytes = 0;
while (bytes < Math.max(size, REPEAT_BYTES)) {
  for (let off = 0; off < size; off += PIECE) {
    const n = Math.min(PIECE, size - off);
    fs.readSync(fd, codec.memView(ptr, n), 0, n, off);
    let t = process.hrtime.bigint();
    for (let o = 0; o < n; o += CALL) codec.classifyPagesAt(ptr + o, Math.min(CALL, n - o));
    scanNs += process.hrtime.bigint() - t;
    t = process.hrtime.bigint();
    for (let o = 0; o < n; o += CALL) codec.xxh64At(ptr + o, Math.min(CALL, n - o));
    hashNs += process.hrtime.bigint() - t;
    t = process.hrtime.bigint();
    for (let o = 0; o < n; o += CALL) codec.hashPagesAt(ptr + o, Math.min(CALL, n - o), ptr + PIECE + codec.pageMapRoom(PIECE));
    pageHashNs += process.hrtime.bigint() - t;
    bytes += n;
  }
}
const gbs = (ns) => +(bytes / Number(ns)).toFixed(2); // bytes per ns = GB/s
console.log(JSON.stringify({ file, zeroScanGBs: gbs(scanNs), xxh64GBs: gbs(hashNs), pageHashGBs: gbs(pageHashNs) }));
