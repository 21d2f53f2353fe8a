// HBICT-style delta images: names, the `hbict` header key, and the parent's
// block hash table as the encoder consults it. A delta holds only the pages
// whose XXH64 changed since its parent, plus the hash table of every non-zero
// page (docs/image-format.md, "HBICT delta chains").
import * as path from 'node:path';
import { Area, PAGE } from './format';

/** Block size of the hash table: one page, so a delta is as small as it can be. */
export const HBICT_BLOCK = PAGE;
/**
 * Longest chain of deltas before the encoder writes a full image again:
 * restart reads every link, so chains must not grow without bound.
 */
export const MAX_CHAIN_DEPTH = 8;
/** Chains deeper than this are refused when reading (also stops cycles). */
export const MAX_CHAIN_LINKS = 64;

/** The `hbict` key of the header JSON. */
export interface HbictInfo {
  /** 1 for the first image of the chain, +1 for each later checkpoint. */
  generation: number;
  /** Deltas between this image and the full image it rests on (0: this is a full image). */
  depth: number;
  /** Parent's file name, in the same directory (deltas only). */
  parent?: string;
  /** The parent's trailer self-checksum, hex: the link is by name and content. */
  parentXxh?: string;
  blockSize?: number;
}

/** `ckpt_X.dmtcp` -> `ckpt_X`: the stem that names the chain's links. */
export function chainStem(imagePath: string): string {
  return imagePath.endsWith('.dmtcp') ? imagePath.slice(0, -'.dmtcp'.length) : imagePath;
}

/** File name of generation `gen` of the chain of `imagePath`: `ckpt_X.hbict.N`. */
export function linkPath(imagePath: string, gen: number): string {
  return `${chainStem(imagePath)}.hbict.${gen}`;
}

/** True when `file` (a base name) is a link file of the chain of `imagePath`. */
export function isLinkOf(imagePath: string, file: string): boolean {
  const stem = path.basename(chainStem(imagePath));
  return file.startsWith(`${stem}.hbict.`) && /^\d+$/.test(file.slice(stem.length + '.hbict.'.length));
}

/** Reads and checks the `hbict` key of a header; undefined when absent or malformed. */
export function hbictInfo(meta: Record<string, unknown>): HbictInfo | undefined {
  const h = meta.hbict as HbictInfo | undefined;
  if (!h || typeof h !== 'object' || !Number.isSafeInteger(h.generation) || !Number.isSafeInteger(h.depth)) return undefined;
  return h;
}

interface Segment { startPage: number; pages: number; hashOff: number }

/**
 * The parent's hash of every non-zero page, looked up by page address. Built
 * once per checkpoint from the parent's metadata (no page data is read).
 */
export class ParentHashes {
  private segs: Segment[] = [];
  private all: BigUint64Array;

  constructor(areas: Area[]) {
    let total = 0;
    for (const a of areas) total += a.hashes?.length ?? 0;
    this.all = new BigUint64Array(total);
    let off = 0;
    for (const a of areas) {
      if (!a.live || !a.hashes) continue;
      this.all.set(a.hashes, off);
      let p = off;
      for (const r of a.live) {
        this.segs.push({ startPage: pageNo(a.start) + r.offset / PAGE, pages: r.len / PAGE, hashOff: p });
        p += r.len / PAGE;
      }
      off += a.hashes.length;
    }
    this.segs.sort((x, y) => x.startPage - y.startPage);
  }

  /** The parent's hash of the page at page number `page`, or undefined (zero or unmapped there). */
  get(page: number): bigint | undefined {
    let lo = 0, hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (page < s.startPage) hi = mid - 1;
      else if (page >= s.startPage + s.pages) lo = mid + 1;
      else return this.all[s.hashOff + page - s.startPage];
    }
    return undefined;
  }
}

/** Page number of an address (fits a double: addresses are below 2^57). */
export const pageNo = (addr: bigint): number => Number(addr / BigInt(PAGE));
