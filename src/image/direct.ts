// Page data the process wrote into the image file itself (the resident
// encoder's direct mode, docs/encoder-service.md). The pipe still carries the
// stream's records; where a run's page data would be it carries notices, one
// little-endian u64 per piece:
//   - the bytes the process just wrote into the file, sequentially from the
//     data start (it wrote them itself: one copy, no pipe);
//   - INLINE | n: n bytes of page data follow right here in the pipe (after
//     we asked it to stop writing the file, see below).
// Reading a chunk = taking pieces in order: file pieces are read back from the
// file (page cache, usually still in the CPU cache), inline ones from the pipe.
//
// Why: a pipe costs two copies of every page (into our memory, then into the
// page cache); here the process's write is the only copy that allocates. It
// pays while the data is dense: once a chunk had zero pages, everything after
// it must move down in the file (the image does not store zero pages), so we
// ask the process, once, to send the rest inline (`switchToPipe`).
import * as fs from 'node:fs';
import type { DataSource } from './encode';
import { RawStreamReader, StreamError } from './rawstream';

/** One notice, little-endian u64. */
const NOTICE_BYTES = 8;
/** Notice flag: the piece follows in the pipe instead of lying in the file. */
export const INLINE = 1n << 63n;
/** A piece larger than this is garbage, not a write (the agent writes at most 1 MiB at once). */
const MAX_PIECE = 1 << 30;

export interface DirectLink {
  /** Asks the process to send the rest of its page data inline (at most once). */
  switchToPipe(): void;
}

export class DirectSource implements DataSource {
  /** File offset of the next page-data byte the process wrote into the file. */
  private filePos: number;
  /** What is left of the current piece. */
  private left = 0;
  private inline = false;
  private notice = Buffer.alloc(NOTICE_BYTES);
  private switched = false;
  /** Where the bytes of the last readExact lie in the image file, when they all came from it. */
  placedAt: number | undefined;

  constructor(private stream: RawStreamReader, private fd: number, dataStart: number, private link: DirectLink) {
    this.filePos = dataStart;
  }

  readExact(dst: Uint8Array, what: string): void {
    let allFromFile = true;
    const start = this.filePos;
    for (let off = 0; off < dst.length; ) {
      if (this.left === 0) this.nextPiece(what);
      const n = Math.min(this.left, dst.length - off);
      const part = dst.subarray(off, off + n);
      if (this.inline) {
        this.stream.readExact(part, what);
        allFromFile = false;
      } else {
        this.readFile(part, what);
      }
      this.left -= n;
      off += n;
    }
    this.placedAt = allFromFile ? start : undefined;
  }

  /**
   * The builder could not leave a chunk where the process put it (zero pages
   * were squeezed out, so it and all later data move down): from here on the
   * pipe is the cheaper way, ask for it.
   */
  chunkMoved(): void {
    if (this.switched) return;
    this.switched = true;
    this.link.switchToPipe();
  }

  /**
   * At a record boundary every announced byte must have been used: the
   * process sends each run's pages whole, so a leftover means the two sides
   * disagree about the stream.
   */
  endOfArea(where: string): void {
    if (this.left !== 0) throw new StreamError(`${where}: ${this.left} bytes of page data announced but not part of its runs`);
  }

  private nextPiece(what: string): void {
    this.stream.readExact(this.notice, `a page-data notice in ${what}`);
    const v = this.notice.readBigUInt64LE(0);
    const n = Number(v & ~INLINE);
    if (n === 0 || n > MAX_PIECE) throw new StreamError(`bad page-data notice (${n} bytes) in ${what}`);
    this.inline = (v & INLINE) !== 0n;
    this.left = n;
  }

  private readFile(dst: Uint8Array, what: string): void {
    for (let off = 0; off < dst.length; ) {
      const got = fs.readSync(this.fd, dst, off, dst.length - off, this.filePos);
      if (got === 0) throw new StreamError(`the image file ends inside ${what} at offset ${this.filePos}, which the process said it wrote`);
      off += got;
      this.filePos += got;
    }
  }
}
