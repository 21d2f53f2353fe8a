// Reader of the raw capture stream (docs/raw-stream.md) from a file
// descriptor, with blocking reads straight into caller-provided views (for page
// data: views of wasm memory). Never buffers more than one record head.
import * as fs from 'node:fs';
import type { AreaFacts } from './format';

export const RAW_MAGIC = 'DMTCPRAW';
export const RAW_VERSION = 1;
const RAW_HEADER = 32;
const RECORD_HEAD = 64;
const RUN_DESC = 16;
const RAW_PAGE = 4096;
/** Limits that stop a garbage stream from making us allocate gigabytes. */
const MAX_META = 16 << 20;
const MAX_NAME = 1 << 16;
const MAX_RUNS = 1 << 24;
const EAGAIN_SLEEP_MS = 5;

export class StreamError extends Error {}

export interface RawArea extends AreaFacts {
  runs: { offset: number; len: number }[];
  dataLen: number;
}

export class RawStreamReader {
  /** Bytes consumed so far: named in errors so a torn stream is easy to place. */
  pos = 0;
  private sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(private fd: number) {}

  /** Reads exactly dst.length bytes or throws naming what was being read. */
  readExact(dst: Uint8Array, what: string): void {
    let off = 0;
    while (off < dst.length) {
      let n: number;
      try {
        n = fs.readSync(this.fd, dst, off, dst.length - off, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // A non-blocking pipe (inherited O_NONBLOCK) is not an error: wait and retry.
        if (code === 'EAGAIN') { Atomics.wait(this.sleeper, 0, 0, EAGAIN_SLEEP_MS); continue; }
        throw new StreamError(`cannot read input: ${(e as Error).message}`);
      }
      if (n === 0) throw new StreamError(`torn stream: input ended inside ${what} at offset ${this.pos + off}`);
      off += n;
    }
    this.pos += dst.length;
  }

  /** Stream header + JSON metadata; returns the parsed JSON and its text. */
  readHeader(): { meta: Record<string, unknown>; json: string } {
    const h = Buffer.alloc(RAW_HEADER);
    this.readExact(h, 'the stream header');
    if (h.toString('latin1', 0, 8) !== RAW_MAGIC) throw new StreamError('not a raw capture stream (bad magic)');
    const version = h.readUInt32LE(8);
    if (version !== RAW_VERSION) throw new StreamError(`unsupported raw stream version ${version}`);
    const metaLen = h.readUInt32LE(12);
    if (metaLen > MAX_META) throw new StreamError(`absurd metadata length ${metaLen}`);
    const j = Buffer.alloc(metaLen);
    this.readExact(j, 'the process metadata');
    const json = j.toString('utf8');
    let meta: unknown;
    try { meta = JSON.parse(json); } catch { throw new StreamError('process metadata is not valid JSON'); }
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new StreamError('process metadata is not a JSON object');
    return { meta: meta as Record<string, unknown>, json };
  }

  /** Next record: an area (its data not yet read) or null at END. */
  nextRecord(): RawArea | null {
    const r = Buffer.alloc(RECORD_HEAD);
    this.readExact(r, 'a record header');
    const tag = r.toString('latin1', 0, 8);
    if (tag === 'END\0\0\0\0\0') return null;
    if (tag !== 'AREA\0\0\0\0') throw new StreamError(`bad record tag at offset ${this.pos - RECORD_HEAD}`);
    const start = r.readBigUInt64LE(8);
    const end = r.readBigUInt64LE(16);
    const nameLen = r.readUInt32LE(40);
    const nruns = r.readUInt32LE(44);
    const dataLen = Number(r.readBigUInt64LE(48));
    const where = `area 0x${start.toString(16)}-0x${end.toString(16)}`;
    if (end <= start || start % BigInt(RAW_PAGE) !== 0n || end % BigInt(RAW_PAGE) !== 0n) throw new StreamError(`${where}: bad bounds`);
    if (nameLen > MAX_NAME || nruns > MAX_RUNS) throw new StreamError(`${where}: absurd name or run count`);
    const name = Buffer.alloc(Math.ceil(nameLen / 8) * 8);
    this.readExact(name, `the name of ${where}`);
    const runBuf = Buffer.alloc(nruns * RUN_DESC);
    this.readExact(runBuf, `the runs of ${where}`);
    const size = Number(end - start);
    const runs: { offset: number; len: number }[] = [];
    let sum = 0;
    let prevEnd = 0;
    for (let i = 0; i < nruns; i++) {
      const offset = Number(runBuf.readBigUInt64LE(i * RUN_DESC));
      const len = Number(runBuf.readBigUInt64LE(i * RUN_DESC + 8));
      if (offset % RAW_PAGE || len % RAW_PAGE || offset < prevEnd || offset + len > size) {
        throw new StreamError(`${where}: run ${i} is not page aligned, ascending and inside the area`);
      }
      prevEnd = offset + len;
      sum += len;
      if (len > 0) runs.push({ offset, len });
    }
    if (sum !== dataLen) throw new StreamError(`${where}: data_len ${dataLen} is not the sum of its runs (${sum})`);
    return {
      start, end,
      fileOffset: r.readBigUInt64LE(24),
      prot: r.readUInt32LE(32),
      flags: r.readUInt32LE(36),
      name: name.toString('utf8', 0, nameLen),
      runs, dataLen,
    };
  }
}
