// The pipelined raw writer (chunk k written on the thread pool while k+1 is
// read) and the parallel restore-plan writer: same bytes as their sequential
// versions, back-pressure and buffer reuse at chunk boundaries, and errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { encodeStream } from '../dist/image/checkpoint.js';
import { openImage } from '../dist/image/decode.js';
import type { Chunk } from '../dist/image/decode.js';
import { loadAddon } from '../dist/native/index.js';
import { RUN_READ_IMAGE, writeRestorePlan, writeRestorePlanSync } from '../dist/image/plan.js';
import { PipelinedRawSink } from '../dist/image/sink.js';
import * as codec from '../dist/image/codec.js';
import { PAGE, TestArea, buildRawStream, defaultMeta, expectedMemory, randomBytes, runEncoder, sampleAreas, sparseBytes } from './helpers/rawstream';

const MIB = 1 << 20;
let dir: string;
const p = (name: string) => path.join(dir, name);

/**
 * Areas that cross 1 MiB chunk boundaries: a random chunk, a chunk of zero
 * pages (its buffer is not handed to the sink), a sparse chunk (compacted),
 * more random chunks and a partial last chunk; then the small sample areas.
 */
function bigAreas(seed: number, changed: number[] = []): TestArea[] {
  const pages = (6 * MIB + 5 * PAGE) / PAGE;
  const data = new Uint8Array(pages * PAGE);
  data.set(randomBytes(MIB, seed), 0);
  // [1 MiB, 2 MiB) stays zero
  data.set(sparseBytes(256, [0, 3, 77, 255], seed + 1), 2 * MIB);
  data.set(randomBytes(3 * MIB + 5 * PAGE, seed + 2), 3 * MIB);
  for (const pg of changed) data.set(randomBytes(PAGE, 9000 + pg), pg * PAGE);
  return [
    { start: 0x7e0000000000n, size: pages * PAGE, prot: 3, flags: 0x2, name: '[anon:big]', data },
    { start: 0x7e0000800000n, size: 2 * MIB, prot: 3, flags: 0x2, name: '', data: sparseBytes(512, [0, 255, 256, 511], seed + 3) },
    ...sampleAreas(),
  ];
}

async function encodeFile(stream: Buffer, out: string, opts: Record<string, unknown>): Promise<void> {
  const src = out + '.stream';
  fs.writeFileSync(src, stream);
  const fd = fs.openSync(src, 'r');
  try { await encodeStream(fd, out, { gzip: false, ...opts }); } finally { fs.closeSync(fd); fs.rmSync(src); }
}

/** The image bytes after the header section (the header carries the creation time). */
function body(file: string): Buffer {
  const b = fs.readFileSync(file);
  return b.subarray(b.readUInt32LE(16));
}

beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-pipe-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('pipelined raw writer', () => {
  const areas = bigAreas(11);
  const stream = buildRawStream(defaultMeta(), areas);

  it.each([2, 3, 4])('with %i buffers writes the same image as the sequential writer', async (buffers) => {
    await encodeFile(stream, p(`seq${buffers}.dmtcp`), { pipeline: false });
    await encodeFile(stream, p(`pipe${buffers}.dmtcp`), { pipelineBuffers: buffers });
    expect(body(p(`pipe${buffers}.dmtcp`)).equals(body(p(`seq${buffers}.dmtcp`)))).toBe(true);
    const im = openImage(p(`pipe${buffers}.dmtcp`));
    try {
      expect(im.verify()).toBeNull();
      expect(im.chunks.length).toBeGreaterThan(6);
      for (const a of areas) expect(Buffer.from(im.readMemory(a.start, a.size)).equals(Buffer.from(expectedMemory(a)))).toBe(true);
      // page data stays page-aligned in the file
      for (const c of im.chunks) expect(c.fileOffset % PAGE).toBe(0);
    } finally { im.close(); }
  });

  it('is the encoder CLI default and matches --no-pipeline', () => {
    for (const [name, flags] of [['cli-pipe.dmtcp', ['--no-gzip']], ['cli-seq.dmtcp', ['--no-gzip', '--no-pipeline']]] as const) {
      const r = runEncoder(stream, p(name), [...flags]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    expect(body(p('cli-pipe.dmtcp')).equals(body(p('cli-seq.dmtcp')))).toBe(true);
  });

  it('writes HBICT full images and deltas the same as the sequential writer', async () => {
    for (const mode of ['seq', 'pipe']) {
      fs.mkdirSync(p(mode));
      const opts = mode === 'seq' ? { pipeline: false, hbict: true } : { pipelineBuffers: 2, hbict: true };
      await encodeFile(buildRawStream(defaultMeta(), bigAreas(21)), path.join(dir, mode, 'ckpt.dmtcp'), opts);
      await encodeFile(buildRawStream(defaultMeta(), bigAreas(21, [5, 300, 301, 1200])), path.join(dir, mode, 'ckpt.dmtcp'), opts);
    }
    for (const f of ['ckpt.hbict.1', 'ckpt.hbict.2']) {
      expect(body(path.join(dir, 'pipe', f)).equals(body(path.join(dir, 'seq', f)))).toBe(true);
    }
    const im = openImage(path.join(dir, 'pipe', 'ckpt.dmtcp'));
    try { expect(im.verify()).toBeNull(); } finally { im.close(); }
  });

  it('applies back-pressure: once data() resolves, at most buffers-1 writes are in flight', async () => {
    const fd = fs.openSync(p('bp.bin'), 'w');
    let inFlight = 0, most = 0;
    const sink = new PipelinedRawSink(fd, 2, (d: 1 | -1) => { inFlight += d; most = Math.max(most, inFlight); });
    const bufs = [Buffer.alloc(64 * PAGE, 1), Buffer.alloc(64 * PAGE, 2)];
    const placed: number[] = [];
    for (let k = 0; k < 40; k++) {
      const b = bufs[k % 2];
      b.fill(k + 1);
      await sink.data('DMTCPDAT', k * b.length, b, (pl: { fileOffset: number }) => placed.push(pl.fileOffset));
      expect(inFlight).toBeLessThanOrEqual(1);
    }
    await sink.flush();
    expect(inFlight).toBe(0);
    expect(most).toBeLessThanOrEqual(2);
    fs.closeSync(fd);
    const out = fs.readFileSync(p('bp.bin'));
    expect(out.length).toBe(40 * 64 * PAGE);
    for (let k = 0; k < 40; k++) expect(out[k * 64 * PAGE] === k + 1 && out[(k + 1) * 64 * PAGE - 1] === k + 1).toBe(true);
    expect(placed).toEqual(Array.from({ length: 40 }, (_, k) => k * 64 * PAGE));
  });

  it('reports a failed write and settles before the fd is closed', async () => {
    fs.writeFileSync(p('ro.bin'), '');
    const fd = fs.openSync(p('ro.bin'), 'r');
    const sink = new PipelinedRawSink(fd, 2);
    const b = Buffer.alloc(PAGE, 7);
    let err: unknown;
    try {
      for (let k = 0; k < 4; k++) await sink.data('DMTCPDAT', k * PAGE, b, () => {});
      await sink.flush();
    } catch (e) { err = e; }
    expect((err as NodeJS.ErrnoException)?.code).toBe('EBADF');
    await sink.settle();
    fs.closeSync(fd);
  });

  it('a torn stream still fails cleanly and leaves no temp file', async () => {
    const torn = stream.subarray(0, stream.length - 64 - 3 * MIB);
    await expect(encodeFile(Buffer.from(torn), p('torn.dmtcp'), { pipelineBuffers: 2 })).rejects.toThrow(/torn stream/);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('torn.dmtcp'))).toEqual([]);
  });
});

describe('codec regions', () => {
  it('are never touched by scratch() or place(), survive a scratch move, and block growth while I/O runs', () => {
    const len = 3 * PAGE;
    const ptr = codec.reserveRegion(len);
    expect(ptr % PAGE).toBe(0);
    codec.memView(ptr, len).fill(0xab);
    const s = codec.scratch(8 * MIB); // must move past the region, not over it
    expect(s.ptr + 8 * MIB <= ptr || s.ptr >= ptr + len).toBe(true);
    s.view.fill(0x11);
    expect(codec.xxh64(Buffer.alloc(2 * MIB, 5))).toBeTypeOf('bigint');
    expect(codec.memView(ptr, len).every((b: number) => b === 0xab)).toBe(true);
    codec.regionIo(1);
    try {
      expect(() => codec.scratch(64 * MIB)).toThrow(/in flight/);
    } finally { codec.regionIo(-1); }
    codec.releaseRegion(ptr);
    expect(codec.reserveRegion(len)).toBe(ptr); // reused
    codec.releaseRegion(ptr);
    expect(() => codec.releaseRegion(ptr)).toThrow(/released twice/);
  });
});

describe('parallel restore-plan writer', () => {
  const stream = buildRawStream(defaultMeta(), bigAreas(31));
  beforeAll(() => {
    for (const [name, flags] of [['raw.dmtcp', ['--no-gzip']], ['gz.dmtcp', ['--gzip']]] as const) {
      expect(runEncoder(stream, p(name), [...flags]).status).toBe(0);
    }
    for (const g of [1, 2]) {
      expect(runEncoder(buildRawStream(defaultMeta(), bigAreas(31, g === 2 ? [7, 600, 1500] : [])), p('hb.dmtcp'), ['--gzip', '--hbict']).status).toBe(0);
    }
    expect(fs.existsSync(p('hb.hbict.2'))).toBe(true);
  });

  const fillers = ['js', ...(loadAddon().planFillGzip() ? ['native'] : [])] as const;

  it.each(['raw.dmtcp', 'gz.dmtcp', 'hb.dmtcp'])('%s: same plan byte for byte as the sequential writer, by either filler', async (name) => {
    const info = { coord_addr: '127.0.0.1', coord_port: '7779' };
    const seq = writeRestorePlanSync(p(name), p(name + '.seq'), { info });
    for (const filler of fillers) {
      for (const n of [1, 2, 8]) {
        const out = p(`${name}.${filler}${n}`);
        const par = await writeRestorePlan(p(name), out, { info, inFlight: n, filler, readImage: false });
        expect(par).toEqual(seq);
        expect(fs.readFileSync(out).equals(fs.readFileSync(p(name + '.seq')))).toBe(true);
        expect(fs.statSync(out).mode & 0o777).toBe(0o600);
      }
    }
  });

  /** Every run of a plan file as the restorer reads it: its bytes, from the plan or (RUN_READ_IMAGE) the image. */
  const restoredRuns = (plan: string, image: string): { addr: bigint; read: boolean; bytes: Buffer }[] => {
    const pf = fs.readFileSync(plan), imf = fs.readFileSync(image);
    const areasOffset = Number(pf.readBigUInt64LE(48)), runsOffset = Number(pf.readBigUInt64LE(56)), nruns = Number(pf.readBigUInt64LE(64));
    expect(runsOffset).toBeGreaterThan(areasOffset);
    const out: { addr: bigint; read: boolean; bytes: Buffer }[] = [];
    for (let k = 0; k < nruns; k++) {
      const o = runsOffset + k * 32;
      const addr = pf.readBigUInt64LE(o), len = Number(pf.readBigUInt64LE(o + 8)), from = Number(pf.readBigUInt64LE(o + 16)), flags = pf.readUInt32LE(o + 24);
      expect(flags & ~RUN_READ_IMAGE).toBe(0);
      const src = flags & RUN_READ_IMAGE ? imf : pf;
      out.push({ addr, read: (flags & RUN_READ_IMAGE) !== 0, bytes: src.subarray(from, from + len) });
    }
    return out;
  };

  it('gz: the restorer reads stored blocks from the image: every run holds the memory the image says, the plan no copy of them', async () => {
    const layout = await writeRestorePlan(p('gz.dmtcp'), p('gz.read'), {});
    const full = await writeRestorePlan(p('gz.dmtcp'), p('gz.copy'), { readImage: false });
    expect(layout.readRuns).toBeGreaterThan(16);   // the random chunks: one run per 65535-byte block at least
    expect(full.readRuns).toBe(0);
    const im = openImage(p('gz.dmtcp'));
    try {
      const runs = restoredRuns(p('gz.read'), p('gz.dmtcp'));
      for (const r of runs) expect(r.bytes.equals(im.readMemory(r.addr, r.bytes.length)), `run at 0x${r.addr.toString(16)}`).toBe(true);
      // the bytes read from the image are the random ones (stored), not the sparse or zero ones
      const readBytes = runs.filter((r) => r.read).reduce((n, r) => n + r.bytes.length, 0);
      expect(readBytes).toBeGreaterThanOrEqual(4 * MIB);
    } finally { im.close(); }
    // the plan keeps holes where those bytes would be: fewer blocks on disk
    expect(fs.statSync(p('gz.read')).blocks).toBeLessThan(fs.statSync(p('gz.copy')).blocks - 4 * MIB / 512);
  });

  it('gz: a stored member whose blocks are not all full is copied into the plan after all', async () => {
    const bad = damaged('gz.dmtcp', 'split', (b, chunks) => {
      // a 1 MiB stored chunk, its blocks 65535, 65535, ... cut 65535, 65534, ..., +1 at the end: the same
      // bytes, length, CRC and first block; a valid member that is not the layout the restorer would read
      const c = chunks.find((x) => x.len === MIB && b[x.fileOffset + 40] === 0 && b.readUInt16LE(x.fileOffset + 41) === 65535)!;
      const body = b.subarray(c.fileOffset + 40, c.fileOffset + c.storedLen - 8);
      const data = zlib.inflateRawSync(body);
      const sizes = [65535, 65534];
      let left = data.length - 65535 - 65534;
      while (left > 0) { const n = Math.min(65535, left); sizes.push(n); left -= n; }
      sizes[sizes.length - 1] += 1;
      sizes[sizes.length - 2] -= 1;
      expect(sizes.length).toBe(Math.ceil(MIB / 65535));
      let o = 0, d = 0;
      sizes.forEach((n, k) => {
        body[o] = k === sizes.length - 1 ? 1 : 0;
        body.writeUInt16LE(n, o + 1);
        body.writeUInt16LE(~n & 0xffff, o + 3);
        data.copy(body, o + 5, d, d + n);
        o += 5 + n; d += n;
      });
      expect(o).toBe(body.length);
    });
    const info = { coord_addr: '127.0.0.1', coord_port: '7779' };
    writeRestorePlanSync(bad, bad + '.seq', { info });
    const layout = await writeRestorePlan(bad, bad + '.plan', { info });
    expect(layout.readRuns).toBe(0);
    expect(fs.readFileSync(bad + '.plan').equals(fs.readFileSync(bad + '.seq'))).toBe(true);
  });

  it('ISA-L is found here, so both fillers are tested (CI installs libisal-dev)', () => {
    expect(fillers).toContain('native');
  });

  /** A copy of image `name` with `damage` done to its bytes, written as bad-<tag>-<name>. */
  const damaged = (name: string, tag: string, damage: (b: Buffer, chunks: Chunk[]) => void): string => {
    const im = openImage(p(name));
    const chunks = im.chunks;
    im.close();
    const bad = p(`bad-${tag}-${name}`);
    const b = fs.readFileSync(p(name));
    damage(b, chunks);
    fs.writeFileSync(bad, b);
    return bad;
  };
  /** What writeRestorePlan says of `bad` by each filler and thread count: the same line, and no plan left. */
  const rejections = async (bad: string): Promise<string[]> => {
    const said: string[] = [];
    for (const filler of fillers) {
      for (const n of [1, 4]) {
        const e = await writeRestorePlan(bad, bad + '.plan', { inFlight: n, filler }).then(() => undefined, (x: Error) => x);
        expect(e, `${filler} x${n} took ${bad}`).toBeInstanceOf(Error);
        said.push(e!.message);
        expect(fs.existsSync(bad + '.plan')).toBe(false);
      }
    }
    return said;
  };

  it.each(['raw.dmtcp', 'gz.dmtcp'])('%s: a damaged chunk is rejected, named, alike by both fillers, and leaves no plan', async (name) => {
    const bad = damaged(name, 'byte', (b, c) => { b[c[3].fileOffset + (name === 'raw.dmtcp' ? 999 : 60)] ^= 0x10; });
    const said = await rejections(bad);
    expect(said[0]).toMatch(new RegExp(`^${bad.replace(/[.]/g, '\\.')}: .*chunk 3 `));
    if (name === 'raw.dmtcp') expect(new Set(said)).toEqual(new Set([said[0]]));
    // gzip: zlib and ISA-L word a bad CRC or deflate stream alike up to the reason
    else expect(new Set(said.map((m) => m.replace(/: [^:]*$/, '')))).toEqual(new Set([said[0].replace(/: [^:]*$/, '')]));
  });

  it.each(['raw.dmtcp', 'gz.dmtcp'])('%s: of two damaged chunks the lower-numbered is named, by both fillers', async (name) => {
    const bad = damaged(name, 'two', (b, c) => {
      for (const k of [9, 4]) b[c[k].fileOffset + (name === 'raw.dmtcp' ? 100 : 50)] ^= 0x01;
    });
    for (const m of await rejections(bad)) expect(m).toMatch(/ chunk 4 /);
  });

  it('gz: a member whose header is not ours, or whose data inflates to other bytes, is named alike by both fillers', async () => {
    const header = damaged('gz.dmtcp', 'tag', (b, c) => { b[c[2].fileOffset + 20] ^= 0x20; });   // the DMTCPDAT tag
    for (const m of await rejections(header)) expect(m).toMatch(/: no DMTCPDAT gzip member for chunk 2 .* at offset \d+$/);
    // a stored block's bytes changed and the CRC made to agree: only the XXH64 tells
    const crcFixed = damaged('gz.dmtcp', 'crc', (b, c) => {
      const m = b.subarray(c[5].fileOffset, c[5].fileOffset + c[5].storedLen);
      const data = zlib.inflateRawSync(m.subarray(40, m.length - 8));
      if (m[40] !== 0 && m[40] !== 1) throw new Error('test image: chunk 5 is not stored blocks');
      m[40 + 5 + 7] ^= 0x04;
      data[7] ^= 0x04;
      m.writeUInt32LE(zlib.crc32(data) >>> 0, m.length - 8);
    });
    for (const m of await rejections(crcFixed)) expect(m).toMatch(/: checksum mismatch in chunk 5 /);
  });

  it('a damaged link of an HBICT chain is rejected', async () => {
    const link = p('hb.hbict.1');
    const keep = fs.readFileSync(link);
    const im = openImage(link);
    const c = im.chunks[2];
    im.close();
    const b = Buffer.from(keep);
    b[c.fileOffset + 60] ^= 0x10;
    fs.writeFileSync(link, b);
    try {
      await expect(writeRestorePlan(p('hb.dmtcp'), p('hb.plan'), { inFlight: 4 })).rejects.toThrow(/hb\.hbict\.1/);
      expect(fs.existsSync(p('hb.plan'))).toBe(false);
    } finally { fs.writeFileSync(link, keep); }
  });
});
