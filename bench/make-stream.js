// Writes a raw capture stream (docs/raw-stream.md) to stdout holding one
// anonymous area with the bytes of FILE (cut to whole pages): bench input.
'use strict';
const fs = require('fs');
const PAGE = 4096;
const src = fs.readFileSync(process.argv[2]);
const n = Math.floor(src.length / PAGE) * PAGE;
const json = Buffer.from(JSON.stringify({ prog: 'bench' }));
const head = Buffer.alloc(32);
head.write('DMTCPRAW'); head.writeUInt32LE(1, 8); head.writeUInt32LE(json.length, 12);
const area = Buffer.alloc(64);
area.write('AREA'); area.writeBigUInt64LE(0x10000000n, 8); area.writeBigUInt64LE(0x10000000n + BigInt(n), 16);
area.writeUInt32LE(3, 32); area.writeUInt32LE(2, 36); area.writeUInt32LE(1, 44); area.writeBigUInt64LE(BigInt(n), 48);
const run = Buffer.alloc(16); run.writeBigUInt64LE(BigInt(n), 8);
const end = Buffer.alloc(64); end.write('END');
for (const b of [head, json, area, run, src.subarray(0, n), end]) {
  for (let o = 0; o < b.length; ) o += fs.writeSync(1, b, o);
}
