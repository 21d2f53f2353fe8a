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
   * written (at once, or later for a parallel sink). `data` may be reused by
   * the caller as soon as this returns (the promise only applies back-pressure).
   */
  data(tag: string, logical: number, data: Uint8Array, done: (p: Placed) => void): Promise<void>;
  /** Waits until every pending section is in the file. */
  flush(): Promise<void>;
  /** Appends the trailer (fixed position from the end of the file). */
  trailer(tag: string, logical: number, data: Uint8Array): Placed;
  /** Bytes written to the file so far. */
  readonly size: number;
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
  constructor(private fd: number) {}
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
  async flush(): Promise<void> { /* nothing pending */ }
}

export class GzipSink implements Sink {
  size = 0;
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

  override section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed {
    if (this.queue.length) throw new Error('internal: section written while members are pending');
    return super.section(tag, logical, data, bulk);
  }
}
