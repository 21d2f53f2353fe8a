// Direct page data (src/image/direct.ts, docs/encoder-service.md): the process
// writes its pages into the image file itself and the pipe carries notices.
// A worker thread plays the agent over a FIFO, the way native/agent/image/capture.c
// does (records in the pipe, pages by positional write into the handed-over
// file, inline once asked); the image must be byte for byte the one the pipe
// path writes from the same stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { encodeStream } from '../dist/image/checkpoint.js';
import { openImage, readImageMeta } from '../dist/image/decode.js';
import { PAGE, TestArea, buildRawStream, defaultMeta, expectedMemory, randomBytes, runEncoder, sampleAreas, sparseBytes } from './helpers/rawstream';

const MIB = 1 << 20;
let dir: string;
const p = (name: string) => path.join(dir, name);

/** Shared control words between the test and its agent thread. */
const HANDED_OVER = 0, IMAGE_FD = 1, DATA_START = 2, SWITCHED = 3, OPENED = 4;

// The agent thread: header and metadata into the FIFO, wait for the image
// file, then per area its record, and its page data in pieces of `piece`
// bytes: into the file with a notice, or (once SWITCHED) inline.
const AGENT = `
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const { fifo, stream, ctrl, piece, badNotice, unwritten } = workerData;
const c = new Int32Array(ctrl);
const s = Buffer.from(stream);
const out = fs.openSync(fifo, 'w');
Atomics.store(c, ${OPENED}, 1);
Atomics.notify(c, ${OPENED});
const writeAll = (fd, off, n, pos) => { for (let d = 0; d < n; ) d += fs.writeSync(fd, s, off + d, n - d, pos === undefined ? null : pos + d); };
let at = 32 + s.readUInt32LE(12);
writeAll(out, 0, at);
Atomics.wait(c, ${HANDED_OVER}, 0);
const image = c[${IMAGE_FD}];
let pos = c[${DATA_START}];
const notice = Buffer.alloc(8);
for (;;) {
  if (s.toString('latin1', at, at + 3) === 'END') { writeAll(out, at, 64); break; }
  const head = 64 + Math.ceil(s.readUInt32LE(at + 40) / 8) * 8 + s.readUInt32LE(at + 44) * 16;
  writeAll(out, at, head);
  let d = at + head;
  for (let left = Number(s.readBigUInt64LE(at + 48)); left > 0; ) {
    const n = Math.min(piece, left);
    if (Atomics.load(c, ${SWITCHED})) {
      notice.writeBigUInt64LE(BigInt(n) | (1n << 63n));
      fs.writeSync(out, notice);
      writeAll(out, d, n);
    } else {
      if (!unwritten) writeAll(image, d, n, pos);
      pos += n;
      notice.writeBigUInt64LE(badNotice ? 0n : BigInt(n));
      fs.writeSync(out, notice);
    }
    d += n;
    left -= n;
  }
  at = d;
}
fs.closeSync(out);
`;

interface DirectRun { switched: boolean; adoptedBytes?: number; dataBytes?: number }

/** Encodes `stream` in direct mode with a worker thread as the agent. */
async function encodeDirect(stream: Buffer, out: string, opts: { piece?: number; badNotice?: boolean; unwritten?: boolean } = {}): Promise<DirectRun> {
  const fifo = out + '.fifo';
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  // Non-blocking, so opening does not wait for the writer (the reader retries EAGAIN).
  const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const ctrl = new SharedArrayBuffer(20);
  const c = new Int32Array(ctrl);
  // A reader of a FIFO nobody has opened for writing sees end-of-file: hold a
  // write end until the agent has its own.
  const holder = fs.openSync(fifo, 'w');
  const agent = new Worker(AGENT, { eval: true, workerData: { fifo, stream, ctrl, piece: opts.piece ?? 96 * 1024, badNotice: opts.badNotice ?? false, unwritten: opts.unwritten ?? false } });
  agent.on('error', () => { /* a refused stream breaks its pipe: expected in the bad-input test */ });
  Atomics.wait(c, OPENED, 0, 10_000);
  fs.closeSync(holder);
  const run: DirectRun = { switched: false };
  try {
    const r = await encodeStream(rd, out, {
      gzip: false, hbict: false,
      direct: {
        handOver(fd: number, dataStart: number) {
          c[IMAGE_FD] = fd;
          c[DATA_START] = dataStart;
          Atomics.store(c, HANDED_OVER, 1);
          Atomics.notify(c, HANDED_OVER);
        },
        switchToPipe() {
          expect(run.switched).toBe(false); // asked at most once
          run.switched = true;
          Atomics.store(c, SWITCHED, 1);
        },
      },
    });
    run.adoptedBytes = r.adoptedBytes;
    run.dataBytes = r.dataBytes;
  } finally {
    fs.closeSync(rd);
    await agent.terminate();
    fs.rmSync(fifo);
  }
  return run;
}

/** The image bytes after the header section (the header carries the creation time and the page-data fact). */
function body(file: string): Buffer {
  const b = fs.readFileSync(file);
  return b.subarray(b.readUInt32LE(16));
}

function expectSameAsPipe(areas: TestArea[], stream: Buffer, direct: string): void {
  const piped = direct + '.piped';
  expect(runEncoder(stream, piped, ['--no-gzip']).status).toBe(0);
  expect(body(direct).equals(body(piped))).toBe(true);
  const im = openImage(direct);
  try {
    expect(im.verify()).toBeNull();
    for (const a of areas) expect(Buffer.from(im.readMemory(a.start, a.size)).equals(Buffer.from(expectedMemory(a)))).toBe(true);
  } finally { im.close(); }
  expect(readImageMeta(direct).image?.pageData).toBe('direct');
}

beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-direct-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('direct page data', () => {
  it('dense data stays where the process wrote it: no switch, the same image as through the pipe', async () => {
    const areas: TestArea[] = [
      { start: 0x7e0000000000n, size: 3 * MIB + 7 * PAGE, prot: 3, flags: 0x2, name: '[anon:dense]', data: randomBytes(3 * MIB + 7 * PAGE, 5) },
      { start: 0x555555554000n, size: 4 * PAGE, prot: 5, flags: 0, name: '/abs/path/a.out', data: randomBytes(4 * PAGE, 3) },
    ];
    const stream = buildRawStream(defaultMeta(), areas);
    const run = await encodeDirect(stream, p('dense.dmtcp'));
    expect(run.switched).toBe(false);
    expect(run.adoptedBytes).toBe(run.dataBytes); // nothing copied by the encoder
    expectSameAsPipe(areas, stream, p('dense.dmtcp'));
  });

  it('zero pages: asks once for the rest inline, moves what must move, same image as through the pipe', async () => {
    const pages = (5 * MIB) / PAGE;
    const data = new Uint8Array(5 * MIB);
    data.set(randomBytes(MIB, 8), 0);                                 // dense, stays in place
    data.set(sparseBytes(256, [0, 3, 77, 255], 9), MIB);              // zero pages: from here on data moves
    data.set(randomBytes(3 * MIB, 10), 2 * MIB);
    const areas: TestArea[] = [
      { start: 0x7e0000000000n, size: pages * PAGE, prot: 3, flags: 0x2, name: '[anon:mixed]', data },
      ...sampleAreas(),
    ];
    const stream = buildRawStream(defaultMeta(), areas);
    for (const piece of [PAGE, 96 * 1024, MIB]) {
      const out = p(`mixed-${piece}.dmtcp`);
      const run = await encodeDirect(stream, out, { piece });
      expect(run.switched).toBe(true);
      expect(run.adoptedBytes).toBe(MIB); // the dense first chunk; after the zero pages everything moves
      expectSameAsPipe(areas, stream, out);
    }
  });

  it('a notice of 0 bytes is refused with one line, and no image is left', async () => {
    const areas: TestArea[] = [{ start: 0x7e0000000000n, size: 8 * PAGE, prot: 3, flags: 0x2, name: '', data: randomBytes(8 * PAGE, 2) }];
    await expect(encodeDirect(buildRawStream(defaultMeta(), areas), p('bad.dmtcp'), { badNotice: true }))
      .rejects.toThrow(/bad page-data notice \(0 bytes\)/);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('bad.dmtcp'))).toEqual([]);
  });

  it('pages announced but never written are refused with one line, and no image is left', async () => {
    const areas: TestArea[] = [{ start: 0x7e0000000000n, size: 8 * PAGE, prot: 3, flags: 0x2, name: '', data: randomBytes(8 * PAGE, 2) }];
    await expect(encodeDirect(buildRawStream(defaultMeta(), areas), p('lie.dmtcp'), { unwritten: true }))
      .rejects.toThrow(/the image file ends inside the data of area 0x7e0000000000 at offset \d+, which the process said it wrote/);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('lie.dmtcp'))).toEqual([]);
  });
});
