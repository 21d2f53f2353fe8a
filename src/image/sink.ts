// Where image sections go: a raw file (sections written as they are, so file
// offsets equal logical offsets) or a sequence of gzip members (one per
// section). The encoder talks only to this interface.
import * as fs from 'node:fs';
import { buildMember, buildStoredMember } from './gzmember';

/** Compression level of page-data members: speed matters more than the last percent. */
const GZIP_DATA_LEVEL = 1;
/** Header and metadata members are stored (level 0) so their tags and JSON stay readable. */
const GZIP_STORED_LEVEL = 0;

export interface Placed { fileOffset: number; storedLen: number }

export interface Sink {
  /** Appends one section whose logical offset is `logical`. `bulk` marks page data. */
  section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed;
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
}

export class GzipSink implements Sink {
  size = 0;
  constructor(private fd: number) {}
  private put(parts: Buffer[]): Placed {
    const fileOffset = this.size;
    this.size = writeAll(this.fd, this.size, parts);
    return { fileOffset, storedLen: this.size - fileOffset };
  }
  section(tag: string, logical: number, data: Uint8Array, bulk: boolean): Placed {
    return this.put(buildMember(tag, logical, data, bulk ? GZIP_DATA_LEVEL : GZIP_STORED_LEVEL));
  }
  trailer(tag: string, logical: number, data: Uint8Array): Placed {
    return this.put(buildStoredMember(tag, logical, data));
  }
}
