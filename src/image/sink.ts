// Where image sections go: a raw file (sections written as they are, so file
// offsets equal logical offsets) or a sequence of gzip members (one per
// section). The encoder talks only to this interface.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { buildMember, buildStoredMember, memberFromBody } from './gzmember';
import { DATA_LEVEL, EngineName, gzipEngine, memberBody, worthDeflating } from './engine';

/** Header and metadata members are stored (level 0) so their tags and JSON stay readable. */
const GZIP_STORED_LEVEL = 0;

export interface Placed { fileOffset: number; storedLen: number }

export interface Sink {
  /** Appends one section whose logical offset is `logical`. `bulk` marks page data. */
  section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed;
  /**
   * Appends a page-data section; `done` receives its placement when it is
   * written (at once, or later for a parallel sink). Buffer ownership: the
   * caller cycles through `buffers` distinct buffers; when the promise
   * resolves the sink still holds at most `buffers - 1` of the ones it was
   * given, the oldest released first. With `buffers` = 1 (sinks that write or
   * copy at once) `data` may be reused as soon as the promise resolves.
   */
  data(tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void>;
  /** How many caller buffers may be in flight at once (see data()). */
  readonly buffers: number;
  /** Gzip sinks: the deflate engine of page data (engine.ts), told in the image header. */
  readonly deflate?: EngineName;
  /** Waits until every pending section is in the file. */
  flush(): Promise<void>;
  /** After a failure: waits until nothing is in flight any more (errors ignored), so the fd may be closed. */
  settle(): Promise<void>;
  /** Appends the trailer (fixed position from the end of the file). */
  trailer(tag: string, logical: number, data: Uint8Array): Placed;
  /** Bytes written to the file so far. */
  readonly size: number;
  /**
   * Raw sinks: page data that already lies in the file at `logical` (the
   * process wrote it there, direct.ts) becomes part of the image unwritten.
   */
  adopt?(logical: number, len: number): Placed;
}

function writeAll(fd: number, pos: number, parts: Uint8Array[]): number {
  for (const p of parts) {
    let off = 0;
    while (off < p.length) {
      const n = fs.writeSync(fd, p, off, p.length - off, pos);
      off += n;
      pos += n;
    }
  }
  return pos;
}

export class RawSink implements Sink {
  size = 0;
  readonly buffers: number = 1;
  constructor(private fd: number) {}
  protected get fdNo(): number { return this.fd; }
  section(_tag: string, logical: number, data: Uint8Array): Placed {
    if (logical !== this.size) throw new Error(`internal: raw section at ${logical} but file is ${this.size} bytes`);
    this.size = writeAll(this.fd, this.size, [data]);
    return { fileOffset: logical, storedLen: data.length };
  }
  trailer(tag: string, logical: number, data: Uint8Array): Placed {
    return this.section(tag, logical, data);
  }
  async data(tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void> {
    done(this.section(tag, logical, data));
  }
  adopt(logical: number, len: number): Placed {
    if (logical !== this.size) throw new Error(`internal: raw section at ${logical} but file is ${this.size} bytes`);
    this.size += len;
    return { fileOffset: logical, storedLen: len };
  }
  async flush(): Promise<void> { /* nothing pending */ }
  async settle(): Promise<void> { /* nothing pending */ }
}

export class GzipSink implements Sink {
  size = 0;
  readonly buffers: number = 1;
  get deflate(): EngineName { return 'zlib'; }
  constructor(private fd: number) {}
  protected place(parts: Buffer[]): Placed {
    const fileOffset = this.size;
    this.size = writeAll(this.fd, this.size, parts);
    return { fileOffset, storedLen: this.size - fileOffset };
  }
  section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed {
    // Page data: level 1, or stored when incompressible (engine.ts decides, as the parallel sink does).
    return this.place(buildMember(tag, logical, data, bulk && worthDeflating(data) ? DATA_LEVEL : GZIP_STORED_LEVEL));
  }
  trailer(tag: string, logical: number, data: Uint8Array): Placed {
    return this.place(buildStoredMember(tag, logical, data));
  }
  async data(tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void> {
    done(this.section(tag, logical, data, true));
  }
  async flush(): Promise<void> { /* nothing pending */ }
  async settle(): Promise<void> { /* nothing pending */ }
}

/** Members made at once on libuv's thread pool: enough to keep every core busy. */
export const GZIP_IN_FLIGHT = Math.max(2, (os.availableParallelism?.() ?? os.cpus().length) * 2);
/** Finished members whose writes may be pending on the pool at once (bounds their memory). */
const WRITES_IN_FLIGHT = 8;

/**
 * Gzip sink that makes page-data members on the thread pool (engine.ts:
 * deflated, or stored when the chunk is incompressible) while the main thread
 * keeps reading and hashing. Members are placed in order, each written with a
 * positional write on the pool, so the main thread neither deflates, nor
 * checksums, nor writes.
 *
 * With `buffers` > 1 the caller's chunks are slots of a reserved wasm region
 * and the pool reads them where they lie (no copy; `onIo` keeps memory from
 * growing meanwhile); with 1 (flatten, which reuses the scratch) each chunk
 * is copied first.
 */
export class ParallelGzipSink extends GzipSink {
  override readonly buffers: number;
  private queue: { job: Promise<Buffer[]>; tag: string; logical: number; len: number; done: (p: Placed) => void }[] = [];
  private writes: Promise<void>[] = [];
  private failed: Error | null = null;

  constructor(private file: number, buffers = 1, private onIo: (d: 1 | -1) => void = () => {}) {
    super(file);
    this.buffers = buffers;
  }
  override get deflate(): EngineName { return gzipEngine(); }

  private get inFlight(): number {
    return this.buffers > 1 ? Math.min(GZIP_IN_FLIGHT, this.buffers - 1) : GZIP_IN_FLIGHT;
  }

  override async data(tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void> {
    if (this.failed) throw this.failed;
    const inPlace = this.buffers > 1;
    // Decided here, on the data as it lies: a look at a small sample.
    const deflate = worthDeflating(data);
    const input = inPlace ? data : Buffer.from(data);
    if (inPlace) this.onIo(1);
    const job = memberBody(input, !deflate).finally(() => { if (inPlace) this.onIo(-1); });
    job.catch(() => { /* surfaced when awaited in order */ });
    this.queue.push({ job, tag, logical, len: data.length, done });
    while (this.queue.length >= this.inFlight) await this.placeOldest();
  }

  private async placeOldest(): Promise<void> {
    const q = this.queue.shift()!;
    const parts = memberFromBody(q.tag, q.logical, q.len, await q.job);
    const fileOffset = this.size;
    for (const p of parts) this.size += p.length;
    q.done({ fileOffset, storedLen: this.size - fileOffset });
    const w = writevAt(this.file, parts, fileOffset);
    w.catch((e: Error) => { this.failed ??= e; });
    this.writes.push(w);
    while (this.writes.length > WRITES_IN_FLIGHT) await this.writes.shift();
    if (this.failed) throw this.failed;
  }

  override async flush(): Promise<void> {
    while (this.queue.length) await this.placeOldest();
    while (this.writes.length) await this.writes.shift();
    if (this.failed) throw this.failed;
  }

  override async settle(): Promise<void> {
    // Jobs may still read the caller's buffers, and writes use the fd: wait for all.
    await Promise.allSettled([...this.queue.map((q) => q.job), ...this.writes]);
    this.queue = [];
    this.writes = [];
  }

  override section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed {
    if (this.queue.length || this.writes.length) throw new Error('internal: section written while members are pending');
    return super.section(tag, logical, data, bulk);
  }
}

/** All of `parts` at `pos` with fs.writev on the pool (short writes continued). */
function writevAt(fd: number, parts: Buffer[], pos: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const step = (bufs: Buffer[], at: number): void => {
      fs.writev(fd, bufs, at, (err, n) => {
        if (err) { reject(err); return; }
        let rest = n;
        const left: Buffer[] = [];
        for (const b of bufs) {
          if (rest >= b.length) { rest -= b.length; continue; }
          left.push(rest > 0 ? b.subarray(rest) : b);
          rest = 0;
        }
        if (left.length) step(left, at + n); else resolve();
      });
    };
    step(parts, pos);
  });
}

/** Caller buffers a pipelined raw sink lets the encoder cycle through (see Sink.data). */
export const RAW_PIPELINE_BUFFERS = 4;

/**
 * Raw sink whose page-data writes run on libuv's thread pool (positional
 * fs.write: file offset = logical offset, so order does not matter) while the
 * caller reads and scans the next chunk into another buffer. Back-pressure:
 * data() resolves once at most `buffers - 1` writes are pending. Headers,
 * metadata and trailer are written synchronously after flush().
 */
export class PipelinedRawSink extends RawSink {
  override readonly buffers: number;
  private pending: Promise<void>[] = [];
  private failed: Error | null = null;

  /** `onIo(+1/-1)` brackets each write (codec.regionIo: memory must not grow while one runs). */
  constructor(fd: number, buffers = RAW_PIPELINE_BUFFERS, private onIo: (d: 1 | -1) => void = () => {}) {
    super(fd);
    if (buffers < 2) throw new Error('internal: a pipelined sink needs at least 2 buffers');
    this.buffers = buffers;
  }

  override async data(_tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void> {
    if (this.failed) throw this.failed;
    if (logical !== this.size) throw new Error(`internal: raw section at ${logical} but file is ${this.size} bytes`);
    this.size += data.length;
    const job = this.writeAt(data, logical);
    job.catch((e: Error) => { this.failed ??= e; });
    this.pending.push(job);
    done({ fileOffset: logical, storedLen: data.length });
    while (this.pending.length > this.buffers - 1) await this.pending.shift();
  }

  private writeAt(data: Uint8Array, pos: number): Promise<void> {
    const fd = this.fdNo;
    this.onIo(1);
    return new Promise<void>((resolve, reject) => {
      const step = (off: number): void => {
        fs.write(fd, data, off, data.length - off, pos + off, (err, n) => {
          if (err) { this.onIo(-1); reject(err); return; }
          if (off + n < data.length) { step(off + n); return; }
          this.onIo(-1);
          resolve();
        });
      };
      step(0);
    });
  }

  override async flush(): Promise<void> {
    while (this.pending.length) await this.pending.shift();
    if (this.failed) throw this.failed;
  }

  override async settle(): Promise<void> {
    await Promise.allSettled(this.pending);
    this.pending = [];
  }

  override section(tag: string, logical: number, data: Uint8Array): Placed {
    if (this.pending.length) throw new Error('internal: section written while page data is pending');
    return super.section(tag, logical, data);
  }
}
