// Raw capture stream -> .dmtcp image (docs/image-format.md). Streams: holds
// one chunk of page data at a time, read straight into wasm memory, where
// zero pages are found and squeezed out before the chunk is hashed and written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Area, CHUNK_BYTES, Chunk, COMPRESSION_GZIP, COMPRESSION_NONE, FORMAT_VERSION, HEADER_FIXED, H_COMPRESSION,
  H_HEADER_LEN, H_JSON_LEN, H_JSON_XXH, H_PAGE_SIZE, H_VERSION, PAGE, TAG_DATA, TAG_END, TAG_IMAGE,
  TAG_META, TRAILER_LEN, T_COMPRESSION, T_META_FILE, T_META_LEN, T_META_LOGICAL, T_META_STORED,
  T_META_XXH, T_SELF_XXH, T_VERSION, alignUp,
} from './format';
import { classifyPagesAt, compactPagesAt, memView, pageMapRoom, scratch, xxh64, xxh64At } from './codec';
import { RawArea, RawStreamReader } from './rawstream';
import { serializeMetadata } from './metadata';
import { GzipSink, ParallelGzipSink, RawSink, Sink } from './sink';

export const IMAGE_MODE = 0o600;
export const ENCODER_NAME = 'dmtcp-encoder/1';

export interface EncodeOptions {
  gzip: boolean;
  /** Compress gzip members on the thread pool (default true). */
  parallel?: boolean;
  /** Flush to disk before the rename (default true: a checkpoint must survive a crash). */
  fsync?: boolean;
}

export interface EncodeResult { areas: number; chunks: number; dataBytes: number; fileBytes: number }

/** Builds the header section: fixed part, JSON (process metadata + image facts), padding. */
export function buildHeader(meta: Record<string, unknown>, compression: number): Buffer {
  const image = { formatVersion: FORMAT_VERSION, compression: compression === COMPRESSION_GZIP ? 'gzip' : 'none', created: new Date().toISOString(), encoder: ENCODER_NAME, pageSize: PAGE };
  const json = Buffer.from(JSON.stringify({ ...meta, image }), 'utf8');
  const len = alignUp(HEADER_FIXED + json.length, PAGE);
  const h = Buffer.alloc(len);
  h.write(TAG_IMAGE, 0, 8, 'latin1');
  h.writeUInt32LE(FORMAT_VERSION, H_VERSION);
  h.writeUInt32LE(compression, H_COMPRESSION);
  h.writeUInt32LE(len, H_HEADER_LEN);
  h.writeUInt32LE(json.length, H_JSON_LEN);
  h.writeBigUInt64LE(xxh64(json), H_JSON_XXH);
  h.writeBigUInt64LE(BigInt(PAGE), H_PAGE_SIZE);
  json.copy(h, HEADER_FIXED);
  return h;
}

class ImageBuilder {
  logical = 0;
  areas: Area[] = [];
  chunks = 0;
  dataBytes = 0;
  constructor(private sink: Sink, private compression: number) {}

  header(meta: Record<string, unknown>): void {
    const h = buildHeader(meta, this.compression);
    this.sink.section(TAG_IMAGE, 0, h, false);
    this.logical = h.length;
  }

  /** Reads the area's page data from the stream chunk by chunk, storing non-zero pages. */
  async area(raw: RawArea, input: RawStreamReader): Promise<void> {
    const area: Area = {
      index: this.areas.length, start: raw.start, end: raw.end, fileOffset: raw.fileOffset,
      prot: raw.prot, flags: raw.flags, name: raw.name, runs: [], chunks: [], dataLen: 0,
    };
    const { ptr } = scratch(CHUNK_BYTES + pageMapRoom(CHUNK_BYTES));
    for (const run of raw.runs) {
      for (let done = 0; done < run.len; ) {
        const n = Math.min(CHUNK_BYTES, run.len - done);
        input.readExact(memView(ptr, n), `the data of area 0x${raw.start.toString(16)}`);
        await this.chunk(area, run.offset + done, ptr, n);
        done += n;
      }
    }
    // An area's stored bytes are one contiguous logical range, in run order.
    let at = area.chunks.length ? area.chunks[0].logicalOffset : 0;
    for (const r of area.runs) { r.dataOffset = at; at += r.len; }
    this.areas.push(area);
  }

  private async chunk(area: Area, areaOffset: number, ptr: number, n: number): Promise<void> {
    const { mapPtr, pages, nonZero } = classifyPagesAt(ptr, n);
    if (nonZero === 0) return;
    const map = memView(mapPtr, pages);
    const start = this.logical;
    for (let i = 0; i < pages; i++) {
      if (!map[i]) continue;
      const off = areaOffset + i * PAGE;
      const last = area.runs[area.runs.length - 1];
      if (last && last.offset + last.len === off) last.len += PAGE;
      else area.runs.push({ offset: off, len: PAGE, dataOffset: 0 });
    }
    const stored = nonZero === pages ? n : compactPagesAt(ptr, n, mapPtr);
    this.logical += stored;
    const chunk: Chunk = { index: this.chunks++, area: area.index, logicalOffset: start, len: stored, fileOffset: 0, storedLen: 0, xxh: xxh64At(ptr, stored) };
    area.chunks.push(chunk);
    await this.sink.data(TAG_DATA, start, memView(ptr, stored), (p) => { chunk.fileOffset = p.fileOffset; chunk.storedLen = p.storedLen; });
    area.dataLen += stored;
    this.dataBytes += stored;
  }


  async finish(): Promise<void> {
    await this.sink.flush();
    const meta = serializeMetadata(this.areas);
    const metaLogical = this.logical;
    const placed = this.sink.section(TAG_META, metaLogical, meta, false);
    this.logical += meta.length;
    const t = Buffer.alloc(TRAILER_LEN);
    t.write(TAG_END, 0, 8, 'latin1');
    t.writeUInt32LE(FORMAT_VERSION, T_VERSION);
    t.writeUInt32LE(this.compression, T_COMPRESSION);
    t.writeBigUInt64LE(BigInt(metaLogical), T_META_LOGICAL);
    t.writeBigUInt64LE(BigInt(placed.fileOffset), T_META_FILE);
    t.writeBigUInt64LE(BigInt(placed.storedLen), T_META_STORED);
    t.writeBigUInt64LE(BigInt(meta.length), T_META_LEN);
    t.writeBigUInt64LE(xxh64(meta), T_META_XXH);
    t.writeBigUInt64LE(xxh64(t.subarray(0, T_SELF_XXH)), T_SELF_XXH);
    this.sink.trailer(TAG_END, this.logical, t);
    this.logical += TRAILER_LEN;
  }
}

/**
 * Encodes the raw stream read from `inFd` into `outPath`, atomically: the
 * image is written to `<out>.tmp.<pid>` (mode 0600), synced and renamed; on
 * any failure the temp file is removed and the error rethrown.
 */
export async function encodeStream(inFd: number, outPath: string, opts: EncodeOptions): Promise<EncodeResult> {
  const tmp = `${outPath}.tmp.${process.pid}`;
  const fd = fs.openSync(tmp, 'wx', IMAGE_MODE);
  try {
    fs.fchmodSync(fd, IMAGE_MODE); // the umask may only remove bits; be explicit anyway
    const compression = opts.gzip ? COMPRESSION_GZIP : COMPRESSION_NONE;
    const sink: Sink = !opts.gzip ? new RawSink(fd) : opts.parallel === false ? new GzipSink(fd) : new ParallelGzipSink(fd);
    const b = new ImageBuilder(sink, compression);
    const input = new RawStreamReader(inFd);
    b.header(input.readHeader().meta);
    for (let rec = input.nextRecord(); rec; rec = input.nextRecord()) await b.area(rec, input);
    await b.finish();
    if (opts.fsync !== false) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, outPath);
    if (opts.fsync !== false) syncDir(path.dirname(outPath));
    return { areas: b.areas.length, chunks: b.chunks, dataBytes: b.dataBytes, fileBytes: sink.size };
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    try { fs.unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
}

/** Makes the rename itself durable. */
function syncDir(dir: string): void {
  let dfd = -1;
  try {
    dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is synced.
  } finally {
    if (dfd >= 0) fs.closeSync(dfd);
  }
}
