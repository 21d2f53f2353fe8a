// Presentation of an opened image for readdmtcp: the maps-like area table,
// per-area byte accounting and the --json document. No I/O beyond the image.
import { Area, FLAG, PAGE, hex } from './format';
import * as path from 'node:path';
import { Image } from './decode';

export const JSON_SCHEMA_VERSION = 1;

const FLAG_NAMES: [number, string][] = Object.entries(FLAG).map(([k, v]) => [v, k.toLowerCase()]);

export function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
}

export function protString(prot: number, flags: number): string {
  return (prot & 1 ? 'r' : '-') + (prot & 2 ? 'w' : '-') + (prot & 4 ? 'x' : '-') + (flags & FLAG.SHARED ? 's' : 'p');
}

export interface AreaFacts {
  start: string; end: string; perms: string; offset: string; size: number;
  stored: number; zero: number; compressed: number; flags: string[]; name: string;
}

/** Bytes on disk for the area's page data (gzip: member sizes; raw: same as stored). */
function compressedBytes(a: Area): number {
  return a.chunks.reduce((s, c) => s + c.storedLen, 0);
}

export function areaFacts(a: Area): AreaFacts {
  const size = Number(a.end - a.start);
  const noData = (a.flags & (FLAG.NODATA | FLAG.VDSO | FLAG.VVAR)) !== 0;
  return {
    start: hex(a.start), end: hex(a.end), perms: protString(a.prot, a.flags), offset: hex(a.fileOffset),
    size, stored: a.dataLen, zero: noData ? 0 : size - a.dataLen, compressed: compressedBytes(a),
    flags: flagNames(a.flags), name: a.name,
  };
}

export function human(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n}B` : `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

export function areaTable(img: Image): string {
  const rows = img.areas.map((a) => {
    const f = areaFacts(a);
    return `${a.start.toString(16).padStart(12, '0')}-${a.end.toString(16).padStart(12, '0')} ${f.perms} ` +
      `${a.fileOffset.toString(16).padStart(8, '0')} ${human(f.size).padStart(6)} ${human(f.stored).padStart(6)} ` +
      `${human(f.zero).padStart(6)} ${human(f.compressed).padStart(6)}  ${f.name}`;
  });
  const head = `${'start-end'.padEnd(25)} perm ${'offset'.padEnd(8)} ${'size'.padStart(6)} ${'stored'.padStart(6)} ${'zero'.padStart(6)} ${'disk'.padStart(6)}  name`;
  return [head, ...rows].join('\n');
}

export function totals(img: Image): { size: number; stored: number; zero: number; pages: number } {
  const f = img.areas.map(areaFacts);
  const size = f.reduce((s, x) => s + x.size, 0);
  const stored = f.reduce((s, x) => s + x.stored, 0);
  return { size, stored, zero: f.reduce((s, x) => s + x.zero, 0), pages: stored / PAGE };
}

export function jsonDocument(img: Image): Record<string, unknown> {
  return {
    schema_version: JSON_SCHEMA_VERSION,
    file: img.path,
    fileSize: img.fileSize,
    formatVersion: img.formatVersion,
    container: img.container,
    compression: img.compression,
    meta: img.meta,
    areas: img.areas.map((a) => ({ ...areaFacts(a), runs: a.runs.length, chunks: a.chunks.length })),
    totals: totals(img),
    ...(img.chain ? { hbict: img.hbict, chain: img.chain } : {}),
  };
}

/** The HBICT chain, newest first: `chain: a.dmtcp (delta gen 3, 40K) <- a.hbict.2 (...) <- a.hbict.1 (full gen 1, 4.1M)`. */
export function chainText(img: Image): string | null {
  if (!img.chain) return null;
  const links = img.chain.map((l) => `${path.basename(l.path)} (${l.full ? 'full' : 'delta'} gen ${l.generation}, ${human(l.storedBytes)} stored, file ${human(l.fileSize)})`);
  return `chain:    ${links.join(' <- ')}`;
}
