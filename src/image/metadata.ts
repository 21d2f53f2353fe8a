// Serialize and parse the metadata section (area, run and chunk tables).
// The parser trusts nothing: every count and offset is checked against the
// section's length before use, so a damaged image gives an error, not a crash.
import {
  AREA_REC, Area, CHUNK_REC, Chunk, HASH_REC, LIVE_REC, LiveRun, META_FIXED, MFLAG_HASHES, M_FLAGS, M_NAMES_LEN,
  M_NAREAS, M_NCHUNKS, M_NLIVE, M_NRUNS, PAGE, RUN_REC, Run, TAG_META, hex,
} from './format';

const TWO_32 = 2 ** 32;

/**
 * A u64 from a safe-integer number, as two u32 halves: no BigInt per field
 * (an image of sparse memory has one run record per data run, thousands of them).
 */
function putU64(b: Buffer, v: number, at: number): void {
  b.writeUInt32LE(v % TWO_32, at);
  b.writeUInt32LE(Math.floor(v / TWO_32), at + 4);
}

/** An image carries the HBICT hash table when any of its areas has one. */
const hasHashTable = (areas: Area[]): boolean => areas.some((a) => a.live !== undefined);

function hashTableLen(areas: Area[]): { nlive: number; npages: number } {
  let nlive = 0, npages = 0;
  for (const a of areas) for (const r of a.live ?? []) { nlive++; npages += r.len / PAGE; }
  return { nlive, npages };
}

export function serializeMetadata(areas: Area[]): Buffer {
  const names = areas.map((a) => Buffer.from(a.name, 'utf8'));
  const namesLen = names.reduce((s, n) => s + n.length, 0);
  const nruns = areas.reduce((s, a) => s + a.runs.length, 0);
  const nchunks = areas.reduce((s, a) => s + a.chunks.length, 0);
  const areasOff = META_FIXED;
  const runsOff = areasOff + areas.length * AREA_REC;
  const chunksOff = runsOff + nruns * RUN_REC;
  const namesOff = chunksOff + nchunks * CHUNK_REC;
  const hashed = hasHashTable(areas);
  const ht = hashTableLen(areas);
  const liveOff = namesOff + namesLen;
  const hashesOff = liveOff + ht.nlive * LIVE_REC;
  const b = Buffer.alloc(hashed ? hashesOff + ht.npages * HASH_REC : liveOff);
  b.write(TAG_META, 0, 8, 'latin1');
  if (hashed) {
    b.writeUInt32LE(ht.nlive, M_NLIVE);
    b.writeUInt32LE(MFLAG_HASHES, M_FLAGS);
    writeHashTable(b, areas, liveOff, hashesOff);
  }
  b.writeUInt32LE(areas.length, M_NAREAS);
  b.writeUInt32LE(nruns, M_NRUNS);
  b.writeUInt32LE(nchunks, M_NCHUNKS);
  b.writeUInt32LE(namesLen, M_NAMES_LEN);
  let run = 0, chunk = 0, nameOff = 0;
  areas.forEach((a, i) => {
    const o = areasOff + i * AREA_REC;
    b.writeBigUInt64LE(a.start, o);
    b.writeBigUInt64LE(a.end, o + 8);
    b.writeBigUInt64LE(a.fileOffset, o + 16);
    b.writeUInt32LE(a.prot, o + 24);
    b.writeUInt32LE(a.flags, o + 28);
    b.writeUInt32LE(nameOff, o + 32);
    b.writeUInt32LE(names[i].length, o + 36);
    b.writeUInt32LE(run, o + 40);
    b.writeUInt32LE(a.runs.length, o + 44);
    b.writeUInt32LE(chunk, o + 48);
    b.writeUInt32LE(a.chunks.length, o + 52);
    putU64(b, a.dataLen, o + 56);
    names[i].copy(b, namesOff + nameOff);
    nameOff += names[i].length;
    for (const r of a.runs) {
      const ro = runsOff + run++ * RUN_REC;
      putU64(b, r.offset, ro);
      putU64(b, r.len, ro + 8);
      putU64(b, r.dataOffset, ro + 16);
    }
    for (const c of a.chunks) {
      const co = chunksOff + chunk++ * CHUNK_REC;
      putU64(b, c.logicalOffset, co);
      putU64(b, c.len, co + 8);
      putU64(b, c.fileOffset, co + 16);
      putU64(b, c.storedLen, co + 24);
      b.writeBigUInt64LE(c.xxh, co + 32);
      b.writeUInt32LE(i, co + 40);
    }
  });
  return b;
}

function writeHashTable(b: Buffer, areas: Area[], liveOff: number, hashesOff: number): void {
  let lo = liveOff, ho = hashesOff;
  areas.forEach((a, i) => {
    const pages = (a.live ?? []).reduce((n, r) => n + r.len / PAGE, 0);
    if (pages !== (a.hashes?.length ?? 0)) throw new Error(`internal: area ${i} has ${a.hashes?.length ?? 0} hashes for ${pages} live pages`);
    for (const r of a.live ?? []) {
      putU64(b, r.offset, lo);
      putU64(b, r.len, lo + 8);
      b.writeUInt32LE(i, lo + 16);
      lo += LIVE_REC;
    }
    for (const h of a.hashes ?? []) { b.writeBigUInt64LE(h, ho); ho += HASH_REC; }
  });
}

/**
 * Parses the optional hash table at `off` (after the names) into the areas'
 * live runs and hashes; the table must end exactly at the section's end.
 */
function parseHashTable(b: Buffer, off: number, nlive: number, areas: Area[], fail: (what: string) => never): void {
  const hashesOff = off + nlive * LIVE_REC;
  if (hashesOff > b.length) fail('metadata hash table does not match the section length');
  for (const a of areas) { a.live = []; }
  const pagesOf: number[] = areas.map(() => 0);
  let prevArea = 0;
  for (let k = 0; k < nlive; k++) {
    const o = off + k * LIVE_REC;
    const area = b.readUInt32LE(o + 16);
    const r: LiveRun = { offset: Number(b.readBigUInt64LE(o)), len: Number(b.readBigUInt64LE(o + 8)) };
    const a = areas[area];
    if (!a || area < prevArea) fail(`hash table record ${k} names no area in order`);
    const last = a.live![a.live!.length - 1];
    const size = Number(a.end - a.start);
    if (r.offset % PAGE || r.len % PAGE || r.len === 0 || r.offset + r.len > size || (last && r.offset < last.offset + last.len)) {
      fail(`hash table record ${k} of area ${hex(a.start)}-${hex(a.end)} is out of range`);
    }
    a.live!.push(r);
    pagesOf[area] += r.len / PAGE;
    prevArea = area;
  }
  const total = pagesOf.reduce((s, n) => s + n, 0);
  if (hashesOff + total * HASH_REC !== b.length) fail('metadata hash table does not match the section length');
  let at = hashesOff;
  areas.forEach((a, i) => {
    const h = new BigUint64Array(pagesOf[i]);
    for (let p = 0; p < h.length; p++, at += HASH_REC) h[p] = b.readBigUInt64LE(at);
    a.hashes = h;
  });
}

/** Parses the section; `fail(what)` must throw. Returns areas with their runs and chunks. */
export function parseMetadata(b: Buffer, dataEnd: number, fail: (what: string) => never): Area[] {
  if (b.length < META_FIXED || b.toString('latin1', 0, 8) !== TAG_META) fail('metadata section has a bad tag');
  const nareas = b.readUInt32LE(M_NAREAS);
  const nruns = b.readUInt32LE(M_NRUNS);
  const nchunks = b.readUInt32LE(M_NCHUNKS);
  const namesLen = b.readUInt32LE(M_NAMES_LEN);
  const runsOff = META_FIXED + nareas * AREA_REC;
  const chunksOff = runsOff + nruns * RUN_REC;
  const namesOff = chunksOff + nchunks * CHUNK_REC;
  const hashed = (b.readUInt32LE(M_FLAGS) & MFLAG_HASHES) !== 0;
  if (hashed ? namesOff + namesLen > b.length : namesOff + namesLen !== b.length) fail('metadata tables do not match the section length');
  const num = (o: number, what: string): number => {
    const v = b.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`absurd ${what} in metadata`);
    return Number(v);
  };
  const areas: Area[] = [];
  for (let i = 0; i < nareas; i++) {
    const o = META_FIXED + i * AREA_REC;
    const start = b.readBigUInt64LE(o), end = b.readBigUInt64LE(o + 8);
    const where = `area ${hex(start)}-${hex(end)}`;
    const nameOff = b.readUInt32LE(o + 32), nameLen = b.readUInt32LE(o + 36);
    const firstRun = b.readUInt32LE(o + 40), nr = b.readUInt32LE(o + 44);
    const firstChunk = b.readUInt32LE(o + 48), nc = b.readUInt32LE(o + 52);
    if (end <= start) fail(`${where} has bad bounds`);
    if (nameOff + nameLen > namesLen || firstRun + nr > nruns || firstChunk + nc > nchunks) fail(`${where} points outside the metadata tables`);
    const size = end - start;
    const runs: Run[] = [];
    let prevEnd = 0;
    for (let k = firstRun; k < firstRun + nr; k++) {
      const ro = runsOff + k * RUN_REC;
      const r = { offset: num(ro, 'run offset'), len: num(ro + 8, 'run length'), dataOffset: num(ro + 16, 'run data offset') };
      if (r.offset < prevEnd || BigInt(r.offset + r.len) > size || r.dataOffset + r.len > dataEnd) fail(`${where}: run ${k - firstRun} is out of range`);
      prevEnd = r.offset + r.len;
      runs.push(r);
    }
    const chunks: Chunk[] = [];
    for (let k = firstChunk; k < firstChunk + nc; k++) {
      const co = chunksOff + k * CHUNK_REC;
      const c: Chunk = {
        index: k, area: i,
        logicalOffset: num(co, 'chunk offset'), len: num(co + 8, 'chunk length'),
        fileOffset: num(co + 16, 'chunk file offset'), storedLen: num(co + 24, 'chunk stored length'),
        xxh: b.readBigUInt64LE(co + 32),
      };
      if (b.readUInt32LE(co + 40) !== i || c.logicalOffset + c.len > dataEnd) fail(`chunk ${k} of ${where} is out of range`);
      chunks.push(c);
    }
    const dataLen = num(o + 56, 'area data length');
    if (runs.reduce((s, r) => s + r.len, 0) !== dataLen || chunks.reduce((s, c) => s + c.len, 0) !== dataLen) {
      fail(`${where}: runs and chunks do not add up to its data length`);
    }
    // Readers (the plan writer) rely on an area's data being one contiguous
    // logical range, laid out in run order and cut into chunks in order.
    const base = chunks.length ? chunks[0].logicalOffset : 0;
    let at = base;
    for (const c of chunks) { if (c.logicalOffset !== at) fail(`chunk ${c.index} of ${where} is not contiguous`); at += c.len; }
    at = base;
    for (const r of runs) { if (r.dataOffset !== at) fail(`${where}: run data is not contiguous`); at += r.len; }
    areas.push({
      index: i, start, end, fileOffset: b.readBigUInt64LE(o + 16),
      prot: b.readUInt32LE(o + 24), flags: b.readUInt32LE(o + 28),
      name: b.toString('utf8', namesOff + nameOff, namesOff + nameOff + nameLen),
      runs, chunks, dataLen,
    });
  }
  if (hashed) parseHashTable(b, namesOff + namesLen, b.readUInt32LE(M_NLIVE), areas, fail);
  return areas;
}
