// Bounded positional reads of an image file. Every read is checked against
// the file size first, so a damaged length can only produce an error naming
// the offset, never a huge allocation or a short read taken for data.
import * as fs from 'node:fs';

export class ImageError extends Error {
  constructor(file: string, what: string) {
    super(`${file}: ${what}`);
    this.name = 'ImageError';
  }
}

/** Largest single section we will read into memory (metadata, header, chunk member). */
export const MAX_SECTION = 256 << 20;

export class ImageFile {
  readonly size: number;
  private fd: number;

  constructor(readonly path: string) {
    try {
      this.fd = fs.openSync(path, 'r');
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ImageError(path, code === 'ENOENT' ? 'no such file' : `cannot open: ${(e as Error).message}`);
    }
  }

  fail(what: string): never {
    throw new ImageError(this.path, what);
  }

  /** Reads [pos, pos+len) or fails naming where the file ends. */
  read(pos: number, len: number, what: string, into?: Uint8Array): Buffer {
    if (len > MAX_SECTION && !into) this.fail(`absurd size ${len} for ${what}`);
    if (pos < 0 || pos + len > this.size) this.fail(`truncated at offset ${this.size} (${what} needs bytes ${pos}..${pos + len})`);
    const buf = into ? Buffer.from(into.buffer, into.byteOffset, len) : Buffer.alloc(len);
    let off = 0;
    while (off < len) {
      const n = fs.readSync(this.fd, buf, off, len - off, pos + off);
      if (n === 0) this.fail(`truncated at offset ${pos + off} while reading ${what}`);
      off += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
