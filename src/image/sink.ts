// Where image sections go: a raw file (sections written as they are, so file
// offsets equal logical offsets) or a sequence of gzip members (one per
// section). The encoder talks only to this interface.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as zlib from 'node:zlib';
import { assemble, buildMember, buildStoredMember } from './gzmember';

/** Compression level of page-data members: speed matters more than the last percent. */
const GZIP_DATA_LEVEL = 1;
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
  constructor(private fd: number) {}
  protected place(parts: Buffer[]): Placed {
    const fileOffset = this.size;
    this.size = writeAll(this.fd, this.size, parts);
    return { fileOffset, storedLen: this.size - fileOffset };
  }
  section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed {
    return this.place(buildMember(tag, logical, data, bulk ? GZIP_DATA_LEVEL : GZIP_STORED_LEVEL));
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

/** Members compressed at once on libuv's thread pool: enough to keep every core busy. */
const IN_FLIGHT = Math.max(2, (os.availableParallelism?.() ?? os.cpus().length) * 2);

/**
 * Gzip sink that deflates page-data members on the thread pool while the
 * main thread keeps reading and hashing; members are written in order.
 */
export class ParallelGzipSink extends GzipSink {
  private queue: { job: Promise<Buffer>; tag: string; logical: number; copy: Buffer; done: (p: Placed) => void }[] = [];

  override async data(tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void> {
    // The caller's buffer is wasm scratch memory reused for the next chunk: copy it.
    const copy = Buffer.from(data);
    const job = new Promise<Buffer>((resolve, reject) => {
      zlib.deflateRaw(copy, { level: GZIP_DATA_LEVEL }, (err, out) => (err ? reject(err) : resolve(out)));
    });
    job.catch(() => { /* surfaced when awaited in order */ });
    this.queue.push({ job, tag, logical, copy, done });
    while (this.queue.length >= IN_FLIGHT) await this.writeOldest();
  }

  private async writeOldest(): Promise<void> {
    const q = this.queue.shift()!;
    const body = await q.job;
    q.done(this.place(assemble(q.tag, q.logical, q.copy, body)));
  }

  override async flush(): Promise<void> {
    while (this.queue.length) await this.writeOldest();
  }

  override async settle(): Promise<void> {
    // Deflate jobs never touch the fd; drop them.
    this.queue = [];
  }

  override section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed {
    if (this.queue.length) throw new Error('internal: section written while members are pending');
    return super.section(tag, logical, data, bulk);
  }
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
