// `readdmtcp --flatten OUT`: writes one full image holding what an image (or a
// whole HBICT chain) decodes to. Page data streams chunk by chunk through the
// same builder the encoder uses, so the result is an ordinary image.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Image } from './decode';
import { Area } from './format';
import { DataSource, WrittenImage, fsyncWanted, syncDir, writeImageFile } from './encode';
import { HBICT_BLOCK } from './hbict';

/** Reads an area's stored bytes in order, as the builder asks for them. */
class AreaBytes implements DataSource {
  private next = 0;
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  constructor(private img: Image, private area: Area, private onChunk: () => void) {}
  readExact(dst: Uint8Array, what: string): void {
    for (let off = 0; off < dst.length; ) {
      if (this.at === this.buf.length) {
        const c = this.area.chunks[this.next++];
        if (!c) throw new Error(`internal: ${what} runs past the area's chunks`);
        this.buf = this.img.readChunk(c.index);
        this.at = 0;
        this.onChunk();
      }
      const n = Math.min(dst.length - off, this.buf.length - this.at);
      dst.set(this.buf.subarray(this.at, this.at + n), off);
      off += n;
      this.at += n;
    }
  }
}

export interface FlattenOptions { gzip: boolean; fsync?: boolean; progress?: (done: number, total: number) => void }

/**
 * Writes `img` as one full image at `outPath` (temp name, then rename). An
 * HBICT image keeps its hash table, so a later checkpoint could continue from
 * the flattened file.
 */
export async function flattenImage(img: Image, outPath: string, opts: FlattenOptions): Promise<WrittenImage> {
  const tmp = `${outPath}.tmp.${process.pid}`;
  const hashing = img.hbict ? {} : null;
  const meta: Record<string, unknown> = { ...img.meta };
  delete meta.image;
  delete meta.hbict;
  if (img.hbict) meta.hbict = { generation: img.hbict.generation, depth: 0, blockSize: HBICT_BLOCK };
  let done = 0;
  const r = await writeImageFile(tmp, { gzip: opts.gzip, fsync: opts.fsync, pipeline: false }, hashing, async (b) => {
    b.header(meta);
    for (const a of img.areas) {
      const raw = {
        start: a.start, end: a.end, fileOffset: a.fileOffset, prot: a.prot, flags: a.flags, name: a.name,
        runs: a.runs.map((x) => ({ offset: x.offset, len: x.len })), dataLen: a.dataLen,
      };
      await b.area(raw, new AreaBytes(img, a, () => opts.progress?.(++done, img.chunks.length)));
    }
  });
  fs.renameSync(tmp, outPath);
  if (fsyncWanted(opts.fsync)) syncDir(path.dirname(outPath));
  return r;
}
