// Area records + page data -> .dmtcp image (docs/image-format.md). Streams:
// holds one chunk of page data at a time, read straight into wasm memory, where
// zero pages (and, for HBICT deltas, pages unchanged since the parent) are
// squeezed out before the chunk is hashed and written. File naming and the
// chain live in checkpoint.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Area, CHUNK_BYTES, Chunk, COMPRESSION_GZIP, COMPRESSION_NONE, FORMAT_VERSION, HEADER_FIXED, H_COMPRESSION,
  H_HEADER_LEN, H_JSON_LEN, H_JSON_XXH, H_PAGE_SIZE, H_VERSION, PAGE, TAG_DATA, TAG_END, TAG_IMAGE,
  TAG_META, TRAILER_LEN, T_COMPRESSION, T_META_FILE, T_META_LEN, T_META_LOGICAL, T_META_STORED,
  T_META_XXH, T_SELF_XXH, T_VERSION, alignUp,
} from './format';
import { classifyPagesAt, compactPagesAt, hashPagesAt, memView, pageHashRoom, pageMapRoom, regionIo, releaseRegion, reserveRegion, scratch, xxh64, xxh64At } from './codec';
import { RawArea } from './rawstream';
import { ParentHashes, pageNo } from './hbict';
import { serializeMetadata } from './metadata';
import { GZIP_IN_FLIGHT, GzipSink, ParallelGzipSink, PipelinedRawSink, RAW_PIPELINE_BUFFERS, RawSink, Sink } from './sink';

export const IMAGE_MODE = 0o600;
/** Environment switch for durable images (the CLI's --fsync/--no-fsync win). */
export const FSYNC_ENV = 'DMTCP_FSYNC';

/** Whether to fsync: the explicit option, else DMTCP_FSYNC=1. */
export function fsyncWanted(opt?: boolean): boolean {
  return opt ?? process.env[FSYNC_ENV] === '1';
}
export const ENCODER_NAME = 'dmtcp-encoder/1';

export interface EncodeOptions {
  gzip: boolean;
  /** Compress gzip members on the thread pool (default true). */
  parallel?: boolean;
  /**
   * fsync the file before the rename and the directory after it. Default:
   * DMTCP_FSYNC=1 in the environment (see fsyncWanted). Without it the image
   * is still atomic against a crash of the process (temp name, rename), just
   * not against a crash of the machine: that costs a full flush per image.
   */
  fsync?: boolean;
  /** HBICT: keep a block hash table, and write a delta when the previous image allows (checkpoint.ts). */
  hbict?: boolean;
  /**
   * Raw images: write chunk k on the thread pool while chunk k+1 is read and
   * scanned (default true). Needs a data source that does not use the codec's
   * scratch memory (the raw stream; not flatten, which decodes images).
   */
  pipeline?: boolean;
  /** Buffers a pipelined raw sink cycles through (default RAW_PIPELINE_BUFFERS; tests use 2). */
  pipelineBuffers?: number;
  /** Which encoder wrote the image, recorded in the header's image facts ("resident" or "per-checkpoint"). */
  writer?: EncoderWriter;
  /**
   * Direct page data (raw images, resident encoder): once the header is in the
   * file, `handOver` gives the process the file and the offset where its pages
   * start; it writes them itself and the stream says when (direct.ts).
   */
  direct?: { handOver(fd: number, dataStart: number): void; switchToPipe(): void };
}

/** The resident encoder of a computation (src/service/), or one started for this checkpoint. */
export type EncoderWriter = 'resident' | 'per-checkpoint';

/** Where page data comes from: the raw stream, (flatten) an image's chunks, or the image file itself (direct.ts). */
export interface DataSource {
  readExact(dst: Uint8Array, what: string): void;
  /** When the bytes just read already lie in the image file: their file offset (direct.ts). */
  readonly placedAt?: number;
  /** Told when such bytes could not stay where they lie (direct.ts). */
  chunkMoved?(): void;
}

/**
 * Hashing mode of a builder: off (plain image), on without a parent (a full
 * image with a hash table), or on against the parent's table (a delta).
 */
export type Hashing = { parent?: ParentHashes } | null;

/** Growable list of u64 page hashes. */
class HashList {
  private buf = new BigUint64Array(1024);
  n = 0;
  push(h: bigint): void {
    if (this.n === this.buf.length) { const b = new BigUint64Array(this.buf.length * 2); b.set(this.buf); this.buf = b; }
    this.buf[this.n++] = h;
  }
  done(): BigUint64Array { return this.buf.slice(0, this.n); }
}

export interface EncodeResult { areas: number; chunks: number; dataBytes: number; fileBytes: number }

/** Builds the header section: fixed part, JSON (process metadata + image facts), padding. */
export function buildHeader(meta: Record<string, unknown>, compression: number, facts: Record<string, unknown> = {}): Buffer {
  const image = { formatVersion: FORMAT_VERSION, compression: compression === COMPRESSION_GZIP ? 'gzip' : 'none', created: new Date().toISOString(), encoder: ENCODER_NAME, pageSize: PAGE, ...facts };
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

export class ImageBuilder {
  logical = 0;
  areas: Area[] = [];
  chunks = 0;
  dataBytes = 0;
  /** Pages found unchanged since the parent and therefore not stored (deltas). */
  inheritedBytes = 0;
  /** Page data that stayed where the process wrote it (direct mode): never copied by us. */
  adoptedBytes = 0;
  private hashList = new HashList();
  /** Page-data buffers in wasm memory: one scratch chunk, or `sink.buffers` slots of a reserved region. */
  private region = -1;
  private slot = 0;
  constructor(private sink: Sink, private compression: number, private hashing: Hashing = null) {}

  /** Bytes one chunk needs: data, page map and (HBICT) page hashes; page multiple so slots stay aligned. */
  private get slotRoom(): number {
    return alignUp(CHUNK_BYTES + pageMapRoom(CHUNK_BYTES) + (this.hashing ? pageHashRoom(CHUNK_BYTES) : 0), PAGE);
  }

  /** Where the next chunk is read: the scratch, or the next free slot (see Sink.data on ownership). */
  private chunkPtr(): number {
    if (this.sink.buffers === 1) return scratch(this.slotRoom).ptr;
    if (this.region < 0) this.region = reserveRegion(this.slotRoom * this.sink.buffers);
    return this.region + this.slot * this.slotRoom;
  }

  /** Gives back the reserved region; call once nothing is in flight (after finish() or sink.settle()). */
  release(): void {
    if (this.region >= 0) releaseRegion(this.region);
    this.region = -1;
  }

  /** `facts`: more image facts for the header (e.g. the writer). */
  header(meta: Record<string, unknown>, facts: Record<string, unknown> = {}): void {
    const h = buildHeader(meta, this.compression, this.sink.deflate ? { deflate: this.sink.deflate, ...facts } : facts);
    this.sink.section(TAG_IMAGE, 0, h, false);
    this.logical = h.length;
  }

  /** Reads the area's page data from `input` chunk by chunk, storing non-zero (changed) pages. */
  async area(raw: RawArea, input: DataSource): Promise<void> {
    const area: Area = {
      index: this.areas.length, start: raw.start, end: raw.end, fileOffset: raw.fileOffset,
      prot: raw.prot, flags: raw.flags, name: raw.name, runs: [], chunks: [], dataLen: 0,
    };
    if (this.hashing) { area.live = []; this.hashList = new HashList(); }
    for (const run of raw.runs) {
      for (let done = 0; done < run.len; ) {
        const n = Math.min(CHUNK_BYTES, run.len - done);
        const ptr = this.chunkPtr();
        input.readExact(memView(ptr, n), `the data of area 0x${raw.start.toString(16)}`);
        const placedAt = input.placedAt;
        const went = await this.chunk(area, run.offset + done, ptr, n, placedAt);
        // A slot handed to the sink moves on; a chunk of zero pages (or one left where it lies) leaves it free.
        if (went === 'sink') this.slot = (this.slot + 1) % this.sink.buffers;
        if (placedAt !== undefined && went !== 'adopted') input.chunkMoved?.();
        done += n;
      }
    }
    // An area's stored bytes are one contiguous logical range, in run order.
    let at = area.chunks.length ? area.chunks[0].logicalOffset : 0;
    for (const r of area.runs) { r.dataOffset = at; at += r.len; }
    if (this.hashing) area.hashes = this.hashList.done();
    this.areas.push(area);
  }

  /**
   * HBICT: records every non-zero page of the chunk as live with its hash, and
   * clears the map bit of pages whose hash equals the parent's at the same
   * address (they are inherited, not stored). Returns the pages left to store.
   */
  private hashChunk(area: Area, areaOffset: number, ptr: number, n: number, mapPtr: number, pages: number): number {
    const hashes = hashPagesAt(ptr, n, mapPtr + pages);
    const map = memView(mapPtr, pages);
    const parent = this.hashing!.parent;
    const base = pageNo(area.start) + areaOffset / PAGE;
    let keep = 0;
    for (let i = 0; i < pages; i++) {
      if (!map[i]) continue;
      appendPage(area.live!, areaOffset + i * PAGE);
      this.hashList.push(hashes[i]);
      if (parent && parent.get(base + i) === hashes[i]) { map[i] = 0; this.inheritedBytes += PAGE; } else keep++;
    }
    return keep;
  }

  /**
   * Stores the chunk's kept pages. Returns where they went: to the sink (which
   * now holds the buffer), adopted where they lie, or nowhere (nothing to keep).
   * `placedAt`: where these bytes already lie in the file (direct mode); when
   * that is exactly where they belong, nothing is written.
   */
  private async chunk(area: Area, areaOffset: number, ptr: number, n: number, placedAt?: number): Promise<'sink' | 'adopted' | 'none'> {
    const { mapPtr, pages, nonZero } = classifyPagesAt(ptr, n);
    if (nonZero === 0) return 'none';
    const keep = this.hashing ? this.hashChunk(area, areaOffset, ptr, n, mapPtr, pages) : nonZero;
    if (keep === 0) return 'none';
    const map = memView(mapPtr, pages);
    const start = this.logical;
    for (let i = 0; i < pages; i++) if (map[i]) appendPage(area.runs, areaOffset + i * PAGE);
    const stored = keep === pages ? n : compactPagesAt(ptr, n, mapPtr);
    this.logical += stored;
    const chunk: Chunk = { index: this.chunks++, area: area.index, logicalOffset: start, len: stored, fileOffset: 0, storedLen: 0, xxh: xxh64At(ptr, stored) };
    area.chunks.push(chunk);
    area.dataLen += stored;
    this.dataBytes += stored;
    if (placedAt === start && stored === n && this.sink.adopt) {
      const p = this.sink.adopt(start, stored);
      chunk.fileOffset = p.fileOffset;
      chunk.storedLen = p.storedLen;
      this.adoptedBytes += stored;
      return 'adopted';
    }
    await this.sink.data(TAG_DATA, start, memView(ptr, stored), (p) => { chunk.fileOffset = p.fileOffset; chunk.storedLen = p.storedLen; });
    return 'sink';
  }

  /** Writes metadata and trailer; returns the trailer's self-checksum (the image's content hash). */
  async finish(): Promise<bigint> {
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
    const self = xxh64(t.subarray(0, T_SELF_XXH));
    t.writeBigUInt64LE(self, T_SELF_XXH);
    this.sink.trailer(TAG_END, this.logical, t);
    this.logical += TRAILER_LEN;
    return self;
  }
}

/** Appends one page at `offset` to ascending runs, merging with the last run. */
function appendPage<R extends { offset: number; len: number }>(runs: R[], offset: number): void {
  const last = runs[runs.length - 1];
  if (last && last.offset + last.len === offset) last.len += PAGE;
  else runs.push({ offset, len: PAGE, dataOffset: 0 } as unknown as R);
}

export interface WrittenImage extends EncodeResult { contentXxh: bigint; inheritedBytes: number; adoptedBytes: number }

/**
 * Writes an image to `tmp` (created exclusively, mode 0600): `produce` feeds
 * the builder header and areas (and gets the file, for direct mode). Closed (and synced when asked) on success; on failure the
 * temp file is removed and the error rethrown. Renaming is the caller's job.
 */
export async function writeImageFile(tmp: string, opts: EncodeOptions, hashing: Hashing, produce: (b: ImageBuilder, fd: number) => Promise<void>): Promise<WrittenImage> {
  // Direct mode reads the process's pages back from this file.
  const fd = fs.openSync(tmp, opts.direct ? 'wx+' : 'wx', IMAGE_MODE);
  let b: ImageBuilder | undefined;
  let sink: Sink | undefined;
  try {
    fs.fchmodSync(fd, IMAGE_MODE); // the umask may only remove bits; be explicit anyway
    const compression = opts.gzip ? COMPRESSION_GZIP : COMPRESSION_NONE;
    // Gzip members are read where they lie in wasm slots when the source allows it (pipeline), else copied.
    sink = opts.gzip ? (opts.parallel === false ? new GzipSink(fd)
      : opts.pipeline === false ? new ParallelGzipSink(fd) : new ParallelGzipSink(fd, GZIP_IN_FLIGHT + 1, regionIo))
      : opts.pipeline === false ? new RawSink(fd) : new PipelinedRawSink(fd, opts.pipelineBuffers ?? RAW_PIPELINE_BUFFERS, regionIo);
    b = new ImageBuilder(sink, compression, hashing);
    await produce(b, fd);
    const contentXxh = await b.finish();
    b.release();
    // Direct mode: the process wrote every page, zero ones too; what the image
    // keeps was moved down, so the file may run on past the trailer.
    if (opts.direct) fs.ftruncateSync(fd, sink.size);
    if (fsyncWanted(opts.fsync)) fs.fsyncSync(fd);
    fs.closeSync(fd);
    return { areas: b.areas.length, chunks: b.chunks, dataBytes: b.dataBytes, fileBytes: sink.size, contentXxh, inheritedBytes: b.inheritedBytes, adoptedBytes: b.adoptedBytes };
  } catch (e) {
    await sink?.settle().catch(() => {}); // no write may still use the fd or the buffers
    b?.release();
    try { fs.closeSync(fd); } catch { /* already closed */ }
    try { fs.unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
}

/** Makes the rename itself durable. */
export function syncDir(dir: string): void {
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
