// Builds raw capture streams (docs/raw-stream.md) in memory for tests: what
// the agent would send the encoder, with areas of chosen contents.
export const PAGE = 4096;

export interface TestArea {
  start: bigint;
  /** Area size in bytes (page multiple). */
  size: number;
  prot?: number;
  flags?: number;
  name?: string;
  fileOffset?: bigint;
  /** The area's whole contents; runs are derived (all pages, or none when absent). */
  data?: Uint8Array;
  /** Explicit runs (offset,len) over `data`; default: one run over everything. */
  runs?: { offset: number; len: number }[];
}

export function defaultMeta(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    prog: 'a.out', argv: ['./a.out', '3'], exe: '/abs/path/a.out',
    pid: 123, ppid: 100, pgid: 123, sid: 100, uid: 1000, gid: 1000,
    host: 'node1', cwd: '/home/u', time: 1763800000, uniqueId: '7f3a9c-123-1763800000',
    generation: 1, ckptSignal: 12,
    brk: '0x555555560000', startBrk: '0x555555559000',
    restoreEntry: '0x7f0000001234', restoreArg: '0x7f0000002000',
    threads: [{ tid: 123, fsBase: '0x7f0000003000' }, { tid: 124, fsBase: '0x7f0000004000' }],
    fds: [{ fd: 0, path: '/dev/pts/1', flags: 2, offset: 0, kind: 'tty' }, { fd: 3, path: '/tmp/x', flags: 1025, offset: 42, kind: 'file' }],
    env: ['HOME=/root', 'PATH=/usr/bin'],
    ...extra,
  };
}

function u64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

export function buildRawStream(meta: Record<string, unknown>, areas: TestArea[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const h = Buffer.alloc(32);
  h.write('DMTCPRAW', 0, 'latin1');
  h.writeUInt32LE(1, 8);
  h.writeUInt32LE(json.length, 12);
  parts.push(h, json);
  for (const a of areas) {
    const name = Buffer.from(a.name ?? '', 'utf8');
    const runs = a.data ? (a.runs ?? [{ offset: 0, len: a.size }]) : [];
    const dataLen = runs.reduce((s, r) => s + r.len, 0);
    const r = Buffer.alloc(64);
    r.write('AREA', 0, 'latin1');
    r.writeBigUInt64LE(a.start, 8);
    r.writeBigUInt64LE(a.start + BigInt(a.size), 16);
    r.writeBigUInt64LE(a.fileOffset ?? 0n, 24);
    r.writeUInt32LE(a.prot ?? 3, 32);
    r.writeUInt32LE(a.flags ?? 2, 36);
    r.writeUInt32LE(name.length, 40);
    r.writeUInt32LE(runs.length, 44);
    r.writeBigUInt64LE(BigInt(dataLen), 48);
    parts.push(r, name, Buffer.alloc(Math.ceil(name.length / 8) * 8 - name.length));
    for (const run of runs) parts.push(u64(run.offset), u64(run.len));
    for (const run of runs) parts.push(Buffer.from(a.data!.buffer, a.data!.byteOffset + run.offset, run.len));
  }
  if (opts.end !== false) {
    const e = Buffer.alloc(64);
    e.write('END', 0, 'latin1');
    parts.push(e);
  }
  return Buffer.concat(parts);
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** An area of `pages` pages where only the listed pages hold random bytes. */
export function sparseBytes(pages: number, dataPages: number[], seed = 7): Uint8Array {
  const out = new Uint8Array(pages * PAGE);
  for (const p of dataPages) out.set(randomBytes(PAGE, seed + p), p * PAGE);
  return out;
}

/** A set of areas covering the interesting cases. */
export function sampleAreas(): TestArea[] {
  return [
    { start: 0x555555554000n, size: 4 * PAGE, prot: 5, flags: 0, name: '/abs/path/a.out', data: randomBytes(4 * PAGE, 3) },
    { start: 0x555555559000n, size: 300 * PAGE, prot: 3, flags: 0x2 | 0x8, name: '[heap]', data: sparseBytes(300, [0, 1, 5, 100, 255, 256, 257, 299]) },
    { start: 0x7f0000000000n, size: 64 * PAGE, prot: 3, flags: 0x2, name: '', data: new Uint8Array(64 * PAGE) },
    { start: 0x7f0000100000n, size: 16 * PAGE, prot: 0, flags: 0x2 | 0x40, name: '' },
    { start: 0x7f0000200000n, size: 20 * PAGE, prot: 3, flags: 0x2, name: '[anon:runs]', data: sparseBytes(20, [2, 3, 4, 10, 19]), runs: [{ offset: 0, len: 8 * PAGE }, { offset: 10 * PAGE, len: 10 * PAGE }] },
    { start: 0x7ffff7fc1000n, size: 4 * PAGE, prot: 1, flags: 0x2 | 0x20, name: '[vvar]' },
    { start: 0x7ffff7fc5000n, size: 2 * PAGE, prot: 5, flags: 0x2 | 0x10, name: '[vdso]' },
    { start: 0x7ffffffde000n, size: 33 * PAGE, prot: 3, flags: 0x2 | 0x4, name: '[stack]', data: sparseBytes(33, [31, 32]) },
  ];
}

// ---- running the encoder CLI on a stream (shared by image and readdmtcp tests) ----
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const ENCODER = path.join(ROOT, 'dist', 'image', 'encoder-main.js');
export const READDMTCP = path.join(ROOT, 'bin', 'readdmtcp');

export function runEncoder(stream: Uint8Array, out: string, flags: string[] = [], env: NodeJS.ProcessEnv = process.env): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [ENCODER, '--out', out, ...flags], { input: stream, encoding: 'utf8', maxBuffer: 1 << 26, env });
  return { status: r.status, stderr: r.stderr };
}

/** The process memory a test area represents: its data inside runs, zero elsewhere. */
export function expectedMemory(a: TestArea): Uint8Array {
  const mem = new Uint8Array(a.size);
  if (!a.data) return mem;
  for (const r of a.runs ?? [{ offset: 0, len: a.size }]) mem.set(a.data.subarray(r.offset, r.offset + r.len), r.offset);
  return mem;
}

// ---- lazily generated streams (gigabytes of mostly zero pages, no big buffer) ----
import { spawn } from 'node:child_process';

/** Bytes handed to the pipe at a time: one shared zero buffer unless a data page falls inside. */
const PIECE = 1 << 20;

export interface LazyArea {
  start: bigint;
  size: number;
  name?: string;
  /** Runs the agent sends (offset,len; page aligned); default: the whole area. */
  runs?: { offset: number; len: number }[];
  /** Area offset (page aligned) -> that page's contents; every other page sent is zero. */
  pages: Map<number, Uint8Array>;
}

function recordHead(start: bigint, size: number, name: Buffer, nruns: number, dataLen: number): Buffer {
  const r = Buffer.alloc(64);
  r.write('AREA', 0, 'latin1');
  r.writeBigUInt64LE(start, 8);
  r.writeBigUInt64LE(start + BigInt(size), 16);
  r.writeUInt32LE(3, 32);
  r.writeUInt32LE(2, 36);
  r.writeUInt32LE(name.length, 40);
  r.writeUInt32LE(nruns, 44);
  r.writeBigUInt64LE(BigInt(dataLen), 48);
  return r;
}

/** The raw stream of `areas`, piece by piece: what an agent sends for a huge, mostly zero process. */
export function* lazyRawStream(meta: Record<string, unknown>, areas: LazyArea[]): Generator<Buffer> {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const h = Buffer.alloc(32);
  h.write('DMTCPRAW', 0, 'latin1');
  h.writeUInt32LE(1, 8);
  h.writeUInt32LE(json.length, 12);
  yield Buffer.concat([h, json]);
  const zero = Buffer.alloc(PIECE);
  for (const a of areas) {
    const runs = a.runs ?? [{ offset: 0, len: a.size }];
    const name = Buffer.from(a.name ?? '', 'utf8');
    const dataLen = runs.reduce((s, r) => s + r.len, 0);
    yield Buffer.concat([recordHead(a.start, a.size, name, runs.length, dataLen), name, Buffer.alloc(Math.ceil(name.length / 8) * 8 - name.length)]);
    yield Buffer.concat(runs.map((r) => Buffer.concat([u64(r.offset), u64(r.len)])));
    for (const r of runs) {
      for (let off = r.offset; off < r.offset + r.len; off += PIECE) {
        const n = Math.min(PIECE, r.offset + r.len - off);
        const inside = [...a.pages.keys()].filter((p) => p >= off && p < off + n);
        if (inside.length === 0) { yield n === PIECE ? zero : zero.subarray(0, n); continue; }
        const piece = Buffer.alloc(n);
        for (const p of inside) piece.set(a.pages.get(p)!, p - off);
        yield piece;
      }
    }
  }
  const e = Buffer.alloc(64);
  e.write('END', 0, 'latin1');
  yield e;
}

/** Runs the encoder CLI on a lazily generated stream, honouring the pipe's back-pressure. */
export async function runEncoderLazy(pieces: Iterable<Buffer>, out: string, flags: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [ENCODER, '--out', out, ...flags], { stdio: ['pipe', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.stdin.on('error', () => { /* the encoder quit early: its status says why */ });
  for (const p of pieces) {
    if (child.stdin.destroyed) break;
    if (!child.stdin.write(p)) {
      await new Promise<void>((resolve) => {
        const go = (): void => { child.stdin.off('drain', go); child.stdin.off('close', go); resolve(); };
        child.stdin.on('drain', go);
        child.stdin.on('close', go);
      });
    }
  }
  child.stdin.end();
  return { status: await exited, stderr };
}
