// Reader of .dmtcp images (docs/image-format.md): raw or gzip container,
// header JSON, metadata tables located through the trailer, and page data
// chunk by chunk with XXH64 verification. Everything is bounds-checked: a
// damaged or foreign file gives one ImageError line naming file and fault.
import {
  Area, Chunk, FORMAT_VERSION, HEADER_FIXED, H_COMPRESSION, H_HEADER_LEN, H_JSON_LEN, H_JSON_XXH,
  H_PAGE_SIZE, H_VERSION, MAX_JSON_LEN, PAGE, TAG_DATA, TAG_END, TAG_IMAGE, TAG_META, TRAILER_LEN,
  T_META_FILE, T_META_LEN, T_META_LOGICAL, T_META_STORED, T_META_XXH, T_SELF_XXH, T_VERSION,
  compressionName, hex,
} from './format';
import { GZ_FOOTER, GZ_HEADER, inflateMember, inflateMemberAsync, parseMemberHeader, storedMemberLen } from './gzmember';
import { ImageError, ImageFile } from './imagefile';
import { parseMetadata } from './metadata';
import { xxh64 } from './codec';
import { HbictInfo, hbictInfo } from './hbict';
import { openChain } from './chain';

export { ImageError } from './imagefile';
export type { Area, Chunk, Run } from './format';

/** The process metadata JSON (docs/raw-stream.md) plus `image` facts; unknown keys kept. */
export interface ImageMeta {
  prog?: string; argv?: string[]; exe?: string; pid?: number; ppid?: number; pgid?: number; sid?: number;
  uid?: number; gid?: number; host?: string; cwd?: string; time?: number; uniqueId?: string;
  generation?: number; ckptSignal?: number; brk?: string; startBrk?: string;
  restoreEntry?: string; restoreArg?: string;
  threads?: { tid: number; fsBase?: string; [k: string]: unknown }[];
  fds?: { fd: number; path?: string; flags?: number; offset?: number; kind?: string; [k: string]: unknown }[];
  env?: string[];
  /**
   * `writer`: 'resident' or 'per-checkpoint' (which encoder process wrote it; images since the resident encoder).
   * `pageData`: 'direct' when the process wrote its pages into the file itself (docs/encoder-service.md).
   * `deflate`: gzip images, the engine that deflated page data: 'isa-l' or 'zlib' (src/image/engine.ts).
   */
  image?: { formatVersion: number; compression: string; created: string; encoder?: string; pageSize?: number; writer?: string; pageData?: string; deflate?: string };
  hbict?: HbictInfo;
  [k: string]: unknown;
}

/** One file of an HBICT chain, as readdmtcp shows it (newest first in Image.chain). */
export interface ChainLink {
  path: string;
  generation: number;
  /** true for the full image the chain rests on. */
  full: boolean;
  fileSize: number;
  /** Page bytes this file itself stores. */
  storedBytes: number;
}

export type Container = 'raw' | 'gzip';

export interface Image {
  path: string;
  /** How the file is stored: `gzip` members, or `raw` (also what `gunzip -c` of a gzip image gives). */
  container: Container;
  /** Compression recorded by the encoder in the header. */
  compression: string;
  formatVersion: number;
  fileSize: number;
  meta: ImageMeta;
  areas: Area[];
  chunks: Chunk[];
  /** Uncompressed bytes of chunk k, checksum verified (throws ImageError naming chunk, area, offset). */
  readChunk(k: number): Buffer;
  /**
   * readChunk for pipelines: the same bytes and checks, but a gzip member is
   * inflated on libuv's thread pool, so several chunks can be in flight. The
   * file itself is read synchronously, before this returns its promise.
   */
  loadChunk(k: number): Promise<Buffer>;
  /** Calls fn for every chunk of the area, in order, with its verified bytes. */
  forEachChunk(area: Area, fn: (chunk: Chunk, data: Buffer) => void): void;
  /** Reads process memory [addr, addr+len) from the image (zero where nothing is stored). */
  readMemory(addr: bigint, len: number): Buffer;
  /** Checks every checksum; returns null when intact, else the first problem's message. */
  verify(progress?: (done: number, total: number) => void): string | null;
  close(): void;
  /** HBICT facts of this file (absent for images written without --hbict). */
  hbict?: HbictInfo;
  /** The trailer's self-checksum: what a child delta records as `parentXxh`. */
  contentXxh: bigint;
  /** HBICT images: every file the memory comes from, newest (this one) first. */
  chain?: ChainLink[];
}

/** How errors name a chunk: its index, its area, where it is in the file. */
export function chunkPlace(container: Container, areas: Area[], c: Chunk): string {
  const a = areas[c.area];
  const off = container === 'raw' ? c.logicalOffset : c.fileOffset;
  return `chunk ${c.index} of area ${hex(a.start)}-${hex(a.end)} (file offset ${off})`;
}

interface Header { container: Container; compression: number; headerLen: number; meta: ImageMeta }

/** Reads the header section and its JSON. Cheap: the first kilobytes of the file. */
function readHeader(f: ImageFile): Header {
  if (f.size < 8) f.fail(f.size === 0 ? 'empty file' : 'not a dmtcp image (too short)');
  const first = f.read(0, Math.min(f.size, GZ_HEADER), 'the magic');
  let container: Container;
  let section: Buffer;
  if (first.toString('latin1', 0, 8) === TAG_IMAGE) {
    container = 'raw';
    const fixed = f.read(0, HEADER_FIXED, 'the header');
    const jsonLen = fixed.readUInt32LE(H_JSON_LEN);
    if (jsonLen > MAX_JSON_LEN) f.fail(`absurd header JSON length ${jsonLen}`);
    section = Buffer.concat([fixed, f.read(HEADER_FIXED, jsonLen, 'the header JSON')]);
  } else if (first[0] === 0x1f && first[1] === 0x8b) {
    container = 'gzip';
    const mh = parseMemberHeader(first);
    if (!mh || mh.tag !== TAG_IMAGE) f.fail('not a dmtcp image (a gzip file, but not one of ours)');
    section = inflateAt(f, 0, mh.memberLen, mh.dataLen, 'the header');
  } else {
    f.fail('not a dmtcp image (bad magic)');
  }
  if (section.length < HEADER_FIXED) f.fail('header truncated');
  const version = section.readUInt32LE(H_VERSION);
  if (version !== FORMAT_VERSION) f.fail(`unsupported image format version ${version}`);
  const jsonLen = section.readUInt32LE(H_JSON_LEN);
  const pageSize = Number(section.readBigUInt64LE(H_PAGE_SIZE));
  if (pageSize !== PAGE) f.fail(`unsupported page size ${pageSize}`);
  if (HEADER_FIXED + jsonLen > section.length) f.fail('header JSON runs past its section');
  const json = section.subarray(HEADER_FIXED, HEADER_FIXED + jsonLen);
  if (xxh64(json) !== section.readBigUInt64LE(H_JSON_XXH)) f.fail('header checksum mismatch');
  let meta: unknown;
  try { meta = JSON.parse(json.toString('utf8')); } catch { f.fail('header JSON is not valid'); }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) f.fail('header JSON is not an object');
  return { container, compression: section.readUInt32LE(H_COMPRESSION), headerLen: section.readUInt32LE(H_HEADER_LEN), meta: meta as ImageMeta };
}

/** Reads and inflates one gzip member at pos, checking our tag-carrying header. */
function inflateAt(f: ImageFile, pos: number, memberLen: number, dataLen: number, what: string, tag?: string): Buffer {
  if (memberLen < GZ_HEADER + GZ_FOOTER) f.fail(`bad gzip member for ${what} at offset ${pos}`);
  const member = f.read(pos, memberLen, what);
  const mh = parseMemberHeader(member);
  if (!mh || (tag && mh.tag !== tag) || mh.memberLen !== memberLen || mh.dataLen !== dataLen) {
    f.fail(`no ${tag ?? 'dmtcp'} gzip member for ${what} at offset ${pos}`);
  }
  let out: Buffer;
  try { out = inflateMember(member, dataLen); } catch (e) { f.fail(`corrupt gzip member for ${what} at offset ${pos}: ${(e as Error).message}`); }
  if (out.length !== dataLen) f.fail(`gzip member for ${what} at offset ${pos} holds ${out.length} bytes, expected ${dataLen}`);
  return out;
}

/** Process metadata only: reads the header, not the tables or page data. */
export function readImageMeta(path: string): ImageMeta {
  const f = new ImageFile(path);
  try { return readHeader(f).meta; } finally { f.close(); }
}

function readTrailer(f: ImageFile, container: Container): Buffer {
  const trailerPos = container === 'raw' ? f.size - TRAILER_LEN : f.size - GZ_FOOTER - TRAILER_LEN;
  const minSize = container === 'raw' ? TRAILER_LEN : storedMemberLen(TRAILER_LEN);
  if (f.size < minSize) f.fail(`truncated at offset ${f.size} (no trailer)`);
  const t = f.read(trailerPos, TRAILER_LEN, 'the trailer');
  if (t.toString('latin1', 0, 8) !== TAG_END) f.fail(`truncated at offset ${f.size} (no trailer at the end)`);
  if (xxh64(t.subarray(0, T_SELF_XXH)) !== t.readBigUInt64LE(T_SELF_XXH)) f.fail('trailer checksum mismatch');
  if (t.readUInt32LE(T_VERSION) !== FORMAT_VERSION) f.fail(`unsupported trailer version ${t.readUInt32LE(T_VERSION)}`);
  return t;
}

/**
 * Opens an image; an HBICT delta is opened together with its parents (found
 * by name next to it, checked by content hash) and reads as the full memory.
 */
export function openImage(path: string): Image {
  const top = openImageFile(path);
  if (!top.hbict?.parent) return top;
  return openChain(top);
}

/** Opens one file only: a delta reads as just the pages it stores. */
export function openImageFile(path: string): Image {
  const f = new ImageFile(path);
  try {
    return open(f);
  } catch (e) {
    f.close();
    if (e instanceof ImageError) throw e;
    throw new ImageError(path, `cannot read image: ${(e as Error).message}`);
  }
}

function open(f: ImageFile): Image {
  const h = readHeader(f);
  const t = readTrailer(f, h.container);
  const metaLogical = Number(t.readBigUInt64LE(T_META_LOGICAL));
  const metaLen = Number(t.readBigUInt64LE(T_META_LEN));
  let metaBuf: Buffer;
  if (h.container === 'raw') {
    if (metaLogical + metaLen > f.size - TRAILER_LEN) f.fail(`metadata index points past the end (offset ${metaLogical})`);
    metaBuf = f.read(metaLogical, metaLen, 'the metadata');
  } else {
    const pos = Number(t.readBigUInt64LE(T_META_FILE));
    const stored = Number(t.readBigUInt64LE(T_META_STORED));
    if (pos + stored > f.size) f.fail(`metadata index points past the end (offset ${pos})`);
    metaBuf = inflateAt(f, pos, stored, metaLen, 'the metadata', TAG_META);
  }
  if (xxh64(metaBuf) !== t.readBigUInt64LE(T_META_XXH)) f.fail('metadata checksum mismatch');
  const areas = parseMetadata(metaBuf, metaLogical, (w) => f.fail(w));
  const chunks = areas.flatMap((a) => a.chunks);
  for (const c of chunks) {
    const end = h.container === 'raw' ? c.logicalOffset + c.len : c.fileOffset + c.storedLen;
    if (end > f.size) f.fail(`chunk ${c.index} index points past the end of the file (offset ${end})`);
  }
  const where = (c: Chunk): string => chunkPlace(h.container, areas, c);

  // Delta chains read a parent's chunk once per page span: keep the last one.
  let cached: { k: number; data: Buffer } | null = null;
  const readChunk = (k: number): Buffer => {
    if (cached && cached.k === k) return cached.data;
    const c = chunks[k];
    if (!c) throw new RangeError(`no chunk ${k}`);
    let data: Buffer;
    if (h.container === 'raw') data = f.read(c.logicalOffset, c.len, where(c));
    else data = inflateAt(f, c.fileOffset, c.storedLen, c.len, where(c), TAG_DATA);
    if (xxh64(data) !== c.xxh) f.fail(`checksum mismatch in ${where(c)}`);
    cached = { k, data };
    return data;
  };

  const loadChunk = (k: number): Promise<Buffer> => {
    const c = chunks[k];
    if (!c) return Promise.reject(new RangeError(`no chunk ${k}`));
    if (h.container === 'raw') {
      try { return Promise.resolve(readChunk(k)); } catch (e) { return Promise.reject(e); }
    }
    let member: Buffer;
    try {
      if (c.storedLen < GZ_HEADER + GZ_FOOTER) f.fail(`bad gzip member for ${where(c)} at offset ${c.fileOffset}`);
      member = f.read(c.fileOffset, c.storedLen, where(c));
      const mh = parseMemberHeader(member);
      if (!mh || mh.tag !== TAG_DATA || mh.memberLen !== c.storedLen || mh.dataLen !== c.len) {
        f.fail(`no ${TAG_DATA} gzip member for ${where(c)} at offset ${c.fileOffset}`);
      }
    } catch (e) { return Promise.reject(e); }
    return new Promise<Buffer>((resolve, reject) => {
      inflateMemberAsync(member, c.len, (err, out) => {
        try {
          if (err) f.fail(`corrupt gzip member for ${where(c)} at offset ${c.fileOffset}: ${err.message}`);
          if (out!.length !== c.len) f.fail(`gzip member for ${where(c)} at offset ${c.fileOffset} holds ${out!.length} bytes, expected ${c.len}`);
          if (xxh64(out!) !== c.xxh) f.fail(`checksum mismatch in ${where(c)}`);
          resolve(out!);
        } catch (e) { reject(e); }
      });
    });
  };

  const forEachChunk = (area: Area, fn: (chunk: Chunk, data: Buffer) => void): void => {
    for (const c of area.chunks) fn(c, readChunk(c.index));
  };

  const readMemory = (addr: bigint, len: number): Buffer => readMemoryFrom(areas, readChunk, addr, len);

  const verify = (progress?: (done: number, total: number) => void): string | null => {
    for (const c of chunks) {
      try { readChunk(c.index); } catch (e) { return (e as Error).message; }
      progress?.(c.index + 1, chunks.length);
    }
    return null;
  };

  const hb = hbictInfo(h.meta);
  const storedBytes = areas.reduce((s, a) => s + a.dataLen, 0);
  return {
    path: f.path, container: h.container, compression: compressionName(h.compression),
    formatVersion: FORMAT_VERSION, fileSize: f.size, meta: h.meta, areas, chunks,
    readChunk, loadChunk, forEachChunk, readMemory, verify, close: () => f.close(),
    hbict: hb, contentXxh: t.readBigUInt64LE(T_SELF_XXH),
    chain: hb ? [{ path: f.path, generation: hb.generation, full: !hb.parent, fileSize: f.size, storedBytes }] : undefined,
  };
}

/**
 * Process memory [addr, addr+len) from areas whose runs locate bytes in
 * chunks (zero where nothing is stored). Shared by single images and chains.
 */
export function readMemoryFrom(areas: Area[], readChunk: (k: number) => Buffer, addr: bigint, len: number): Buffer {
  const out = Buffer.alloc(len);
  const endAddr = addr + BigInt(len);
  for (const a of areas) {
    if (a.end <= addr || a.start >= endAddr || a.runs.length === 0) continue;
    for (const c of a.chunks) {
      const cEnd = c.logicalOffset + c.len;
      // Only decode chunks holding some run byte inside the window.
      const hit = a.runs.some((r) => r.dataOffset < cEnd && r.dataOffset + r.len > c.logicalOffset &&
        a.start + BigInt(r.offset) < endAddr && a.start + BigInt(r.offset + r.len) > addr);
      if (!hit) continue;
      const data = readChunk(c.index);
      for (const r of a.runs) {
        const lo = Math.max(r.dataOffset, c.logicalOffset), hi = Math.min(r.dataOffset + r.len, cEnd);
        for (let p = lo; p < hi; p += PAGE) {
          const pageAddr = a.start + BigInt(r.offset + (p - r.dataOffset));
          const s = pageAddr > addr ? pageAddr : addr;
          const e = pageAddr + BigInt(PAGE) < endAddr ? pageAddr + BigInt(PAGE) : endAddr;
          if (s >= e) continue;
          const src = p - c.logicalOffset + Number(s - pageAddr);
          data.copy(out, Number(s - addr), src, src + Number(e - s));
        }
      }
    }
  }
  return out;
}
