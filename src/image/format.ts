// Constants and record layouts of the .dmtcp image, version 1. The prose spec
// is docs/image-format.md; this file is its single source in code.

export const FORMAT_VERSION = 1;
export const PAGE = 4096;

/** 8-byte ASCII section tags, visible in `hexdump -C`. */
export const TAG_IMAGE = 'DMTCPIMG';
export const TAG_DATA = 'DMTCPDAT';
export const TAG_META = 'DMTCPMET';
export const TAG_END = 'DMTCPEND';

export const COMPRESSION_NONE = 0;
export const COMPRESSION_GZIP = 1;
export const compressionName = (c: number): string => (c === COMPRESSION_GZIP ? 'gzip' : c === COMPRESSION_NONE ? 'none' : `unknown(${c})`);

/** Page data is cut into chunks of at most this many input bytes, never spanning areas. */
export const CHUNK_BYTES = 1 << 20;

// Header section: logical offset 0, padded to a multiple of PAGE.
export const HEADER_FIXED = 64;
export const H_MAGIC = 0;
export const H_VERSION = 8;
export const H_COMPRESSION = 12;
export const H_HEADER_LEN = 16;
export const H_JSON_LEN = 20;
export const H_JSON_XXH = 24;
export const H_PAGE_SIZE = 32;
/** JSON bigger than this is not a process header (env is the big part). */
export const MAX_JSON_LEN = 16 << 20;

// Metadata section (after the page data).
export const META_FIXED = 32;
export const M_NAREAS = 8;
export const M_NRUNS = 12;
export const M_NCHUNKS = 16;
export const M_NAMES_LEN = 20;
/** HBICT block hash table (optional): count of live-run records, and flags saying it is there. */
export const M_NLIVE = 24;
export const M_FLAGS = 28;
export const MFLAG_HASHES = 0x1;

export const AREA_REC = 64;
export const RUN_REC = 24;
export const CHUNK_REC = 48;
/** Live-run record of the hash table: u64 offset_in_area, u64 len, u32 area, u32 reserved. */
export const LIVE_REC = 24;
/** One u64 XXH64 per page of the live runs, in table order. */
export const HASH_REC = 8;

// Trailer: the last 64 logical bytes of every image.
export const TRAILER_LEN = 64;
export const T_VERSION = 8;
export const T_COMPRESSION = 12;
export const T_META_LOGICAL = 16;
export const T_META_FILE = 24;
export const T_META_STORED = 32;
export const T_META_LEN = 40;
export const T_META_XXH = 48;
export const T_SELF_XXH = 56;

/** Raw-stream area flags (docs/raw-stream.md). */
export const FLAG = {
  SHARED: 0x1, ANON: 0x2, STACK: 0x4, HEAP: 0x8, VDSO: 0x10, VVAR: 0x20,
  NODATA: 0x40, DELETED: 0x80, FILE_SHARED_WRITABLE: 0x100,
} as const;

export interface Run {
  /** Offset of the run inside its area (page aligned). */
  offset: number;
  len: number;
  /** Logical offset of the run's bytes in the image. */
  dataOffset: number;
}

export interface Chunk {
  index: number;
  area: number;
  /** Logical offset and length of the chunk's (uncompressed) bytes. */
  logicalOffset: number;
  len: number;
  /** Where the chunk lies in the file: equals logical for raw images; a gzip member otherwise. */
  fileOffset: number;
  storedLen: number;
  xxh: bigint;
}

/** What /proc/pid/maps says of an area: shared by the raw stream and the image. */
export interface AreaFacts {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
  prot: number;
  flags: number;
  name: string;
}

export interface Area extends AreaFacts {
  index: number;
  runs: Run[];
  chunks: Chunk[];
  /** Bytes of page data stored for this area (the rest is zero). */
  dataLen: number;
  /**
   * HBICT images only: the area's non-zero pages in the process at this
   * checkpoint (ascending, page aligned), whether stored here or inherited from
   * the parent, and one XXH64 per page of them, in order.
   */
  live?: LiveRun[];
  hashes?: BigUint64Array;
}

export interface LiveRun { offset: number; len: number }

export const hex = (v: bigint | number): string => '0x' + v.toString(16);

export function tagAt(buf: Uint8Array, off: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, 8).toString('latin1');
}

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
