// Independent gzip members with a readable tag in the FEXTRA field (bgzip
// style). Every section of a gzip image is one member, so plain `gunzip -c`
// reads the whole file, while our reader seeks member by member via the index.
import * as zlib from 'node:zlib';

/** Fixed member header: 10 gzip bytes + XLEN + one 'DM' subfield of 24 bytes. */
export const GZ_HEADER = 40;
export const GZ_FOOTER = 8;
const GZ_XLEN = 28;
const GZ_SUBFIELD_LEN = 24;
const FLG_FEXTRA = 0x04;
const OS_UNIX = 3;
/** Deflate "stored" block: 1 byte BFINAL|BTYPE=00, LEN, NLEN. */
const STORED_BLOCK_HEAD = 5;

export interface MemberHeader {
  tag: string;
  logicalOffset: number;
  memberLen: number;
  dataLen: number;
}

function header(tag: string, logicalOffset: number, memberLen: number, dataLen: number): Buffer {
  const h = Buffer.alloc(GZ_HEADER);
  h[0] = 0x1f; h[1] = 0x8b; h[2] = 8; h[3] = FLG_FEXTRA;
  h[9] = OS_UNIX;
  h.writeUInt16LE(GZ_XLEN, 10);
  h[12] = 0x44; h[13] = 0x4d; // 'D','M'
  h.writeUInt16LE(GZ_SUBFIELD_LEN, 14);
  h.write(tag, 16, 8, 'latin1');
  h.writeBigUInt64LE(BigInt(logicalOffset), 24);
  h.writeUInt32LE(memberLen, 32);
  h.writeUInt32LE(dataLen, 36);
  return h;
}

function footer(data: Uint8Array): Buffer {
  const f = Buffer.alloc(GZ_FOOTER);
  f.writeUInt32LE(zlib.crc32(data) >>> 0, 0);
  f.writeUInt32LE(data.length >>> 0, 4);
  return f;
}

/** One member holding `data`, deflated at `level` (0 = stored, readable in a hexdump). */
export function buildMember(tag: string, logicalOffset: number, data: Uint8Array, level: number): Buffer[] {
  const body = level === 0 ? storedBlocks(data) : zlib.deflateRawSync(data, { level });
  return assemble(tag, logicalOffset, data, body);
}

/** Largest stored block (LEN is 16 bits). */
const STORED_BLOCK_MAX = 65535;

/**
 * `data` as raw deflate stored blocks, each as large as allowed (zlib's level
 * 0 cuts smaller ones): one copy, no compression. The last block has BFINAL.
 */
export function storedBlocks(data: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / STORED_BLOCK_MAX));
  const body = Buffer.allocUnsafe(data.length + blocks * STORED_BLOCK_HEAD);
  let o = 0;
  for (let done = 0, k = 0; k < blocks; k++) {
    const n = Math.min(STORED_BLOCK_MAX, data.length - done);
    body[o] = k === blocks - 1 ? 1 : 0; // BFINAL on the last, BTYPE=00
    body.writeUInt16LE(n, o + 1);
    body.writeUInt16LE(~n & 0xffff, o + 3);
    body.set(data.subarray(done, done + n), o + STORED_BLOCK_HEAD);
    o += STORED_BLOCK_HEAD + n;
    done += n;
  }
  return body;
}

export function assemble(tag: string, logicalOffset: number, data: Uint8Array, body: Buffer): Buffer[] {
  const len = GZ_HEADER + body.length + GZ_FOOTER;
  return [header(tag, logicalOffset, len, data.length), body, footer(data)];
}

/** A member from a finished body: deflate data and the 8-byte footer (engine.ts's memberBody). */
export function memberFromBody(tag: string, logicalOffset: number, dataLen: number, body: Buffer[]): Buffer[] {
  const len = GZ_HEADER + body.reduce((s, b) => s + b.length, 0);
  return [header(tag, logicalOffset, len, dataLen), ...body];
}

/**
 * The trailer member, built by hand as one stored block so that its content
 * always sits at a fixed distance from the end of the file.
 */
export function buildStoredMember(tag: string, logicalOffset: number, data: Uint8Array): Buffer[] {
  if (data.length > STORED_BLOCK_MAX) throw new Error('internal: a one-block member holds at most 65535 bytes');
  return assemble(tag, logicalOffset, data, storedBlocks(data));
}

/** Total size of the member buildStoredMember makes for `len` bytes. */
export const storedMemberLen = (len: number): number => GZ_HEADER + STORED_BLOCK_HEAD + len + GZ_FOOTER;

/** Parses a member header; returns null when the bytes are not one of ours. */
export function parseMemberHeader(b: Uint8Array): MemberHeader | null {
  if (b.length < GZ_HEADER) return null;
  const buf = Buffer.from(b.buffer, b.byteOffset, GZ_HEADER);
  if (buf[0] !== 0x1f || buf[1] !== 0x8b || buf[2] !== 8 || buf[3] !== FLG_FEXTRA) return null;
  if (buf.readUInt16LE(10) !== GZ_XLEN || buf[12] !== 0x44 || buf[13] !== 0x4d) return null;
  if (buf.readUInt16LE(14) !== GZ_SUBFIELD_LEN) return null;
  return {
    tag: buf.toString('latin1', 16, 24),
    logicalOffset: Number(buf.readBigUInt64LE(24)),
    memberLen: buf.readUInt32LE(32),
    dataLen: buf.readUInt32LE(36),
  };
}

/** Inflates one whole member (CRC and length checked by zlib), never beyond `maxLen`. */
export function inflateMember(member: Uint8Array, maxLen: number): Buffer {
  return zlib.gunzipSync(member, { maxOutputLength: Math.max(1, maxLen) });
}

/** inflateMember on libuv's thread pool. */
export function inflateMemberAsync(member: Uint8Array, maxLen: number, cb: (err: Error | null, out?: Buffer) => void): void {
  // One output buffer a little larger than the member's content: zlib's
  // default 16 KiB chunks would cost one thread-pool round trip each.
  zlib.gunzip(member, { maxOutputLength: Math.max(1, maxLen), chunkSize: Math.max(64 << 10, maxLen + 4096) }, (err, out) => cb(err, out));
}
