// Restore-plan writer (docs/restore-plan.md): turns a verified image into the
// flat, page-aligned file mtcp_restart maps and copies from. The restorer is
// tiny and trusts this file, so everything here is checked before writing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Area, FLAG, PAGE, alignUp } from './format';
import { Chunk, Image, ImageError, chunkPlace, openImage } from './decode';
import { GZ_FOOTER, GZ_HEADER } from './gzmember';
import { loadAddon } from '../native';
import type { PlanFillFailure } from '../native/native';

export const PLAN_MAGIC = 'DMTCPPLN';
export const PLAN_VERSION = 2;
const PLAN_AREA_REC = 48;
const PLAN_RUN_REC = 32;
/** Run flag (native/common/plan_format.h): the run is mapped from the raw image file. */
export const RUN_MAP_IMAGE = 0x1;
/** Run flag: the restorer reads the run from the image file (a gzip image's stored block payload). */
export const RUN_READ_IMAGE = 0x2;
/** A deflate stored block: at most this many bytes, after a 5-byte head (BFINAL|BTYPE, LEN, NLEN). */
const STORED_MAX = 65535;
const STORED_HEAD = 5;
/**
 * An area is mapped from a raw image only when its stored runs are on average at
 * least this long: every mapped run is one more kernel mapping (vma), and a
 * scattered area (a page here and there) is cheaper to copy than to map.
 */
export const MAP_MIN_AVG_RUN = 64 * 1024;
/** Mapped runs per process at most: the kernel allows 65530 mappings (vm.max_map_count) in all. */
export const MAP_MAX_RUNS = 4096;
const INFO_OFFSET = 256;
const INFO_MAX = PAGE - INFO_OFFSET;
const RUN_TABLE_ALIGN = 8;
/** tables_addr bounds: above the restorer's region [RESTORER_LO, RESTORER_HI), below the kernel's top. */
export const TABLES_ADDR_MIN = 0x10000000n;
export const TABLES_ADDR_MAX = 0x7f0000000000n;
export const RESTORER_LO = 0x100000n;
export const RESTORER_HI = 0x10000000n;
/** A page left free after every area: the area may be the heap, and the kernel's
 * brk() refuses to grow the heap up to the page before another mapping, so the
 * restorer could not give the heap back its size with the tables right after it. */
const AFTER_AREA_GAP = BigInt(PAGE);

/** An address range the plan tables must stay out of (the restart tree's map). */
export interface AddrRange { start: bigint; end: bigint }

/**
 * How the restart maps one area instead of as the image says: shared memory
 * that several processes of the tree hold is mapped from one object the root
 * restorer made (src/restart/shared-memory.ts); one holder fills it.
 */
export interface AreaOverride { path: string; flags: number; keepRuns: boolean }
/** Overrides by area start address. */
export type AreaOverrides = Map<bigint, AreaOverride>;

/**
 * A run of the plan: copied from the plan file at dataOffset, or, `mapped`,
 * mapped from the image file at dataOffset, or, `read`, read by the restorer
 * from the image file at dataOffset.
 */
export interface PlanRun { addr: bigint; len: number; dataOffset: number; mapped: boolean; read?: boolean }
export interface PlanLayout {
  areasOffset: number; runsOffset: number; tablesLen: number; dataOffset: number;
  tablesAddr: bigint; nruns: number; fileLen: number;
  /** Runs the restorer maps from the image instead of copying (0: none). */
  mappedRuns: number;
  /** Runs the restorer reads from the image's stored blocks instead of the plan (0: none). */
  readRuns: number;
}

/** Areas whose contents the restorer must not copy (the live vdso/vvar are moved there). */
const keepsNoRuns = (a: Area): boolean => (a.flags & (FLAG.VDSO | FLAG.VVAR)) !== 0;
/**
 * Path recorded for an area: the backing file of a file mapping, and the kernel's
 * name of a vdso/vvar area (`[vvar_vclock]`...), which the restorer matches with
 * this kernel's own to move them; nothing for other anonymous or `[special]` areas.
 */
const backingPath = (a: Area): string => {
  if (a.flags & (FLAG.VDSO | FLAG.VVAR)) return a.name;
  return ((a.flags & FLAG.ANON) || a.name === '' || a.name.startsWith('[')) ? '' : a.name;
};

function parseAddr(v: unknown, key: string, file: string): bigint {
  if (v === undefined || v === null) return 0n;
  try {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v)) return BigInt(v);
  } catch { /* falls through */ }
  throw new ImageError(file, `metadata ${key} is not an address: ${JSON.stringify(v)}`);
}

/** Lowest page-aligned gap of `len` bytes in [TABLES_ADDR_MIN, TABLES_ADDR_MAX) that no area touches. */
export function chooseTablesAddr(areas: { start: bigint; end: bigint }[], len: number): bigint {
  const need = BigInt(alignUp(Math.max(len, 1), PAGE));
  const sorted = [...areas].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let cand = TABLES_ADDR_MIN;
  for (const a of sorted) {
    if (a.end + AFTER_AREA_GAP <= cand) continue;
    if (a.start >= cand + need) break;
    cand = alignUpBig(a.end) + AFTER_AREA_GAP;
  }
  if (cand + need > TABLES_ADDR_MAX) throw new Error('no free address range for the restore tables');
  return cand;
}

const alignUpBig = (v: bigint): bigint => ((v + BigInt(PAGE) - 1n) / BigInt(PAGE)) * BigInt(PAGE);

function encodeInfo(info: Record<string, string>, file: string): Buffer {
  let text = '';
  for (const [k, v] of Object.entries(info)) {
    if (!k || /[=\n\0]/.test(k) || /[\n\0]/.test(String(v))) throw new ImageError(file, `restart info ${JSON.stringify(k)} cannot be written as key=value`);
    text += `${k}=${v}\n`;
  }
  const b = Buffer.from(text, 'utf8');
  if (b.length > INFO_MAX) throw new ImageError(file, `restart info is ${b.length} bytes, more than ${INFO_MAX}`);
  return b;
}

/** What a restore plan carries besides the image (all optional). */
export interface PlanOptions {
  /** key=value lines for the agent (coordinator, folders: restore_entry.c). */
  info?: Record<string, string>;
  /**
   * dmtcp_restart's environment, `NAME=value` each: what dmtcp_get_restart_env
   * answers in the restarted process (the program's own environment is the
   * one in its memory, from before the checkpoint).
   */
  environ?: string[];
  /** Address ranges the plan tables must stay out of. */
  avoid?: AddrRange[];
  overrides?: AreaOverrides;
  /** writeRestorePlan: chunks in flight at once (threads, for the native filler). */
  inFlight?: number;
  /**
   * writeRestorePlan: who copies the page data: `native` threads of the addon
   * (native/addon/plan_fill.cc; the default, wherever it can read the image:
   * one file, raw or gzip with ISA-L), or `js`, members inflated by node:zlib
   * on libuv's pool (delta chains always).
   */
  filler?: PlanFiller;
  /**
   * Map what can be mapped from a raw image instead of copying it into the plan
   * (docs/restore-plan.md, "Mapped runs"). Ignored for gzip images and delta chains.
   */
  mapImage?: boolean;
  /** Smallest average run length of an area that is mapped (default MAP_MIN_AVG_RUN). */
  mapMinAvgRun?: number;
  /** writeRestorePlan, gzip images: let the restorer read stored blocks from the image (default true). */
  readImage?: boolean;
  /**
   * Gzip images: the chunks (by index) whose members are stored blocks the
   * restorer reads from the image itself (storedChunks); their bytes are
   * verified but not copied into the plan. writeRestorePlan fills it.
   */
  readChunks?: Set<number>;
}

/** The raw image file a plan maps runs from, and the identity the restorer checks. */
interface MappedImage { path: string; dev: bigint; ino: bigint }

/**
 * Whether an area's runs are mapped from the image: private anonymous memory
 * (not the stack, which must grow down, nor the heap, which brk manages),
 * not shared in the tree, with runs long enough on average to be worth a mapping.
 */
function mapsArea(a: Area, overridden: boolean, minAvgRun: number): boolean {
  if (overridden || a.runs.length === 0) return false;
  if ((a.flags & FLAG.ANON) === 0 || (a.flags & (FLAG.SHARED | FLAG.STACK | FLAG.HEAP | FLAG.VDSO | FLAG.VVAR | FLAG.NODATA)) !== 0) return false;
  return a.dataLen / a.runs.length >= minAvgRun;
}

/** The file the restorer maps or reads runs from, and the identity it checks. */
function imageIdentity(img: Image): MappedImage {
  const st = fs.statSync(img.path, { bigint: true });
  return { path: img.path.startsWith('/') ? img.path : fs.realpathSync(img.path), dev: st.dev, ino: st.ino };
}

/** A raw, self-contained image can lend its pages (page aligned, file offset = logical offset). */
function mappableImage(img: Image): MappedImage | undefined {
  if (img.container !== 'raw' || (img.chain && img.chain.length > 1)) return undefined;
  return imageIdentity(img);
}

/**
 * The chunks of a gzip image whose members are stored deflate blocks of
 * STORED_MAX bytes but the last, as the encoder writes incompressible data
 * (engine.ts): the restorer can read their bytes from the image itself, and
 * the plan need not hold a second copy (at 2 GiB, two seconds of fresh page
 * cache on a virtual machine). Judged from the member's length and its first
 * block's head; the filler checks every block's head (plan_fill.cc).
 */
export function storedChunks(img: Image): Set<number> {
  const found = new Set<number>();
  if (img.container !== 'gzip' || (img.chain && img.chain.length > 1)) return found;
  const fd = fs.openSync(img.path, 'r');
  const head = Buffer.alloc(STORED_HEAD);
  try {
    for (const c of img.chunks) {
      const blocks = Math.max(1, Math.ceil(c.len / STORED_MAX));
      if (c.storedLen !== GZ_HEADER + c.len + blocks * STORED_HEAD + GZ_FOOTER) continue;
      if (fs.readSync(fd, head, 0, STORED_HEAD, c.fileOffset + GZ_HEADER) !== STORED_HEAD) continue;
      const first = Math.min(STORED_MAX, c.len);
      if (head[0] !== (blocks === 1 ? 1 : 0) || head.readUInt16LE(1) !== first || head.readUInt16LE(3) !== (~first & 0xffff)) continue;
      found.add(c.index);
    }
  } finally {
    fs.closeSync(fd);
  }
  return found;
}

/**
 * The runs of a copied area: its image runs, cut where a chunk the restorer
 * reads from the image begins or ends, and those pieces cut again at every
 * stored block (each block's payload is a piece of its own in the file).
 * Plan pieces keep the plan layout: the area's bytes back to back from
 * `planAt` (relative), wherever they come from.
 */
function copiedRuns(a: Area, planAt: number, readChunks: Set<number>): PlanRun[] {
  const imgBase = a.runs.length ? a.runs[0].dataOffset : 0;
  // nothing read from the image here: one plan run per image run
  if (!a.chunks.some((c) => readChunks.has(c.index))) {
    return a.runs.map((r) => ({ addr: a.start + BigInt(r.offset), len: r.len, dataOffset: planAt + (r.dataOffset - imgBase), mapped: false }));
  }
  const out: PlanRun[] = [];
  const fromPlan = (addr: bigint, logical: number, len: number): void => {
    const dataOffset = planAt + (logical - imgBase);
    const last = out[out.length - 1];
    if (last && !last.read && last.addr + BigInt(last.len) === addr && last.dataOffset + last.len === dataOffset) last.len += len;
    else out.push({ addr, len, dataOffset, mapped: false });
  };
  for (const r of a.runs) {
    const runAddr = a.start + BigInt(r.offset);
    const lo = r.dataOffset, hi = r.dataOffset + r.len;
    for (const c of a.chunks) {
      const cLo = Math.max(lo, c.logicalOffset), cHi = Math.min(hi, c.logicalOffset + c.len);
      if (cLo >= cHi) continue;
      if (!readChunks.has(c.index)) { fromPlan(runAddr + BigInt(cLo - lo), cLo, cHi - cLo); continue; }
      for (let b = Math.floor((cLo - c.logicalOffset) / STORED_MAX); c.logicalOffset + b * STORED_MAX < cHi; b++) {
        const bLo = Math.max(cLo, c.logicalOffset + b * STORED_MAX), bHi = Math.min(cHi, c.logicalOffset + (b + 1) * STORED_MAX);
        const payload = c.fileOffset + GZ_HEADER + b * (STORED_HEAD + STORED_MAX) + STORED_HEAD;
        out.push({ addr: runAddr + BigInt(bLo - lo), len: bHi - bLo, dataOffset: payload + (bLo - (c.logicalOffset + b * STORED_MAX)), mapped: false, read: true });
      }
    }
  }
  return out;
}

/** NUL-terminated `NAME=value` strings, back to back (docs/restore-plan.md). */
function encodeEnviron(environ: string[]): Buffer {
  return Buffer.concat(environ.filter((e) => !e.includes('\0')).map((e) => Buffer.from(`${e}\0`, 'utf8')));
}

/**
 * The plan's header page and tables, and per area its runs and where its
 * bytes begin in the plan (planBase; -1: none there: no runs, or mapped).
 */
export function buildPlanTables(img: Image, opts: PlanOptions = {}): { head: Buffer; tables: Buffer; layout: PlanLayout; runs: PlanRun[][]; planBase: number[] } {
  const { avoid = [], overrides } = opts;
  const environ = encodeEnviron(opts.environ ?? []);
  const m = img.meta;
  const image = opts.mapImage ? mappableImage(img) : undefined;
  const readChunks = opts.readChunks ?? new Set<number>();
  const paths = img.areas.map((a) => Buffer.from((overrides?.get(a.start)?.path ?? backingPath(a)) + '\0', 'utf8'));
  const areasOffset = PAGE;
  const areaTableLen = img.areas.length * PLAN_AREA_REC;
  let pathsLen = 0;
  const pathOff = paths.map((p) => {
    if (p.length === 1) return 0;
    const o = areaTableLen + pathsLen;
    pathsLen += p.length;
    return o;
  });
  const runs: PlanRun[][] = [];
  const planBase: number[] = [];
  let nruns = 0;
  let mappedRuns = 0;
  let readRuns = 0;
  let dataAt = 0; // relative to dataOffset, fixed below
  for (const a of img.areas) {
    const override = overrides?.get(a.start);
    const dropped = override?.keepRuns === false;
    const mapped = image !== undefined && mapsArea(a, override !== undefined, opts.mapMinAvgRun ?? MAP_MIN_AVG_RUN) && mappedRuns + a.runs.length <= MAP_MAX_RUNS;
    if (mapped) mappedRuns += a.runs.length;
    let rs: PlanRun[] = [];
    planBase.push(-1);
    if (keepsNoRuns(a) || dropped) {
      // nothing of this area is restored from its image
    } else if (mapped) {
      rs = a.runs.map((r) => ({ addr: a.start + BigInt(r.offset), len: r.len, dataOffset: r.dataOffset, mapped }));
    } else if (a.runs.length) {
      planBase[planBase.length - 1] = dataAt;
      rs = copiedRuns(a, dataAt, readChunks);
      readRuns += rs.filter((r) => r.read).length;
      dataAt += a.runs.reduce((n, r) => n + r.len, 0);
    }
    runs.push(rs);
    nruns += rs.length;
  }
  // The image's path follows the areas' paths, only when a run is mapped or read from it.
  const source = mappedRuns > 0 ? image : readRuns > 0 ? imageIdentity(img) : undefined;
  const imagePath = source ? Buffer.from(source.path + '\0', 'utf8') : undefined;
  const imagePathOff = imagePath ? areaTableLen + pathsLen : 0;
  if (imagePath) pathsLen += imagePath.length;
  const runsOffset = alignUp(areasOffset + areaTableLen + pathsLen, RUN_TABLE_ALIGN);
  const environOffset = alignUp(runsOffset + nruns * PLAN_RUN_REC, RUN_TABLE_ALIGN);
  const tablesEnd = environOffset + environ.length;
  const tablesLen = tablesEnd - areasOffset;
  const dataOffset = alignUp(tablesEnd, PAGE);
  for (const rs of runs) for (const r of rs) if (!r.mapped && !r.read) r.dataOffset += dataOffset;
  for (let i = 0; i < planBase.length; i++) if (planBase[i] >= 0) planBase[i] += dataOffset;
  const tablesAddr = chooseTablesAddr([...img.areas, ...avoid], tablesLen);

  const tables = Buffer.alloc(tablesLen);
  let runIndex = 0;
  img.areas.forEach((a, i) => {
    const o = i * PLAN_AREA_REC;
    tables.writeBigUInt64LE(a.start, o);
    tables.writeBigUInt64LE(a.end, o + 8);
    tables.writeUInt32LE(a.prot, o + 16);
    tables.writeUInt32LE(overrides?.get(a.start)?.flags ?? a.flags, o + 20);
    tables.writeUInt32LE(runIndex, o + 24);
    tables.writeUInt32LE(runs[i].length, o + 28);
    tables.writeBigUInt64LE(a.fileOffset, o + 32);
    tables.writeUInt32LE(pathOff[i], o + 40);
    if (pathOff[i]) paths[i].copy(tables, pathOff[i]);
    for (const r of runs[i]) {
      const ro = runsOffset - areasOffset + runIndex++ * PLAN_RUN_REC;
      tables.writeBigUInt64LE(r.addr, ro);
      tables.writeBigUInt64LE(BigInt(r.len), ro + 8);
      tables.writeBigUInt64LE(BigInt(r.dataOffset), ro + 16);
      tables.writeUInt32LE(r.mapped ? RUN_MAP_IMAGE : r.read ? RUN_READ_IMAGE : 0, ro + 24);
    }
  });
  if (imagePath) imagePath.copy(tables, imagePathOff);
  environ.copy(tables, environOffset - areasOffset);

  // The agent learns which file its memory is mapped from: at its next
  // checkpoint those mappings are its own memory, not a file (capture.c).
  const restartInfo = { ...(opts.info ?? {}) };
  if (mappedRuns > 0 && image) restartInfo.image_map = `${devMajor(image.dev)}:${devMinor(image.dev)}:${image.ino}`;
  const info = encodeInfo(restartInfo, img.path);
  const head = Buffer.alloc(PAGE);
  head.write(PLAN_MAGIC, 0, 8, 'latin1');
  head.writeUInt32LE(PLAN_VERSION, 8);
  head.writeUInt32LE(img.areas.length, 12);
  head.writeBigUInt64LE(parseAddr(m.restoreEntry, 'restoreEntry', img.path), 16);
  head.writeBigUInt64LE(parseAddr(m.restoreArg, 'restoreArg', img.path), 24);
  head.writeBigUInt64LE(parseAddr(m.brk, 'brk', img.path), 32);
  head.writeBigUInt64LE(parseAddr(m.startBrk, 'startBrk', img.path), 40);
  head.writeBigUInt64LE(BigInt(areasOffset), 48);
  head.writeBigUInt64LE(BigInt(runsOffset), 56);
  head.writeBigUInt64LE(BigInt(nruns), 64);
  head.writeBigUInt64LE(BigInt(tablesLen), 72);
  head.writeBigUInt64LE(tablesAddr, 80);
  head.writeBigUInt64LE(BigInt(environ.length ? environOffset : 0), 88);
  head.writeBigUInt64LE(BigInt(environ.length), 96);
  if (imagePath && source) {
    head.writeUInt32LE(imagePathOff, 104);
    head.writeBigUInt64LE(source.dev, 112);
    head.writeBigUInt64LE(source.ino, 120);
  }
  head.writeUInt32LE(info.length, 128);
  info.copy(head, INFO_OFFSET);
  const layout = { areasOffset, runsOffset, tablesLen, dataOffset, tablesAddr, nruns, fileLen: dataOffset + dataAt, mappedRuns, readRuns };
  return { head, tables, layout, runs, planBase };
}

/** The major and minor numbers of a stat(2) st_dev, as /proc/self/maps prints them (glibc's encoding). */
const devMajor = (dev: bigint): bigint => ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
const devMinor = (dev: bigint): bigint => (dev & 0xffn) | ((dev >> 12n) & ~0xffn);

function writeFully(fd: number, buf: Uint8Array, pos: number): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off, pos + off);
}

/**
 * Writes the restore plan for `imagePath` to `planPath` (mode 0600). Every
 * chunk is checksum-verified on the way; a damaged image throws an ImageError
 * (one line naming the image) and leaves no plan file behind.
 */
export function writeRestorePlanSync(imagePath: string, planPath: string, opts: PlanOptions = {}): PlanLayout {
  const img = openImage(imagePath);
  let fd = -1;
  try {
    const { head, tables, layout, planBase } = buildPlanTables(img, opts);
    const read = opts.readChunks ?? new Set<number>();
    fd = fs.openSync(planPath, 'w', 0o600);
    writeFully(fd, head, 0);
    writeFully(fd, tables, layout.areasOffset);
    img.areas.forEach((a, i) => {
      if (planBase[i] < 0) return;
      // An area's runs are stored back to back both in the image and in the
      // plan, so a chunk's bytes land at the same relative position.
      const imgBase = a.runs[0].dataOffset;
      img.forEachChunk(a, (c, data) => { if (!read.has(c.index)) writeFully(fd, data, planBase[i] + (c.logicalOffset - imgBase)); });
    });
    fs.ftruncateSync(fd, layout.fileLen);
    fs.closeSync(fd);
    fd = -1;
    return layout;
  } catch (e) {
    if (fd >= 0) { fs.closeSync(fd); try { fs.unlinkSync(planPath); } catch { /* gone */ } }
    throw e;
  } finally {
    img.close();
  }
}

export type PlanFiller = 'native' | 'js';

/** Whether the native filler reads `img`: one file (not a delta chain), raw, or gzip where ISA-L is. */
function nativeFills(img: Image): boolean {
  if (img.chain && img.chain.length > 1) return false;
  try {
    return img.container === 'raw' || loadAddon().planFillGzip();
  } catch {
    return false;   // no addon build: the reader in JavaScript needs none
  }
}

/** Threads of the native filler: one per core (each reads, inflates, hashes and writes its chunks). */
export const PLAN_THREADS = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);

/** The error the JavaScript reader gives for the same fault (decode.ts), so both fillers say alike. */
function fillError(img: Image, c: Chunk, f: PlanFillFailure, planPath: string): Error {
  const where = chunkPlace(img.container, img.areas, c);
  const at = `at offset ${c.fileOffset}`;
  switch (f.kind) {
    case 'member': return new ImageError(img.path, c.storedLen < GZ_HEADER + GZ_FOOTER ? `bad gzip member for ${where} ${at}` : `no DMTCPDAT gzip member for ${where} ${at}`);
    case 'corrupt': return new ImageError(img.path, `corrupt gzip member for ${where} ${at}: ${f.detail}`);
    case 'length': return new ImageError(img.path, `gzip member for ${where} ${at} holds ${f.detail} bytes, expected ${c.len}`);
    case 'checksum': return new ImageError(img.path, `checksum mismatch in ${where}`);
    case 'read': return new ImageError(img.path, `cannot read ${where}: ${f.detail}`);
    default: return new Error(`cannot write the restore plan ${planPath}: ${f.detail}`);
  }
}

/** A chunk the restorer reads from the image is not laid out as storedChunks judged (plan_fill.cc). */
class LayoutError extends Error {}

/** Fill job flag (native.d.ts): the restorer reads this chunk from the image; verify, write nothing. */
const JOB_READ_BY_RESTORER = 1n;
const JOB_WORDS = 6;

/** Every copied chunk of the plan, by the addon's threads (native/addon/plan_fill.cc). */
async function fillNative(img: Image, planBase: number[], read: Set<number>, planFd: number, planPath: string, threads: number): Promise<void> {
  const chunks: Chunk[] = [];
  const places: number[] = [];
  img.areas.forEach((a, i) => {
    if (planBase[i] < 0) return;
    const imgBase = a.runs[0].dataOffset;
    for (const c of a.chunks) { chunks.push(c); places.push(planBase[i] + (c.logicalOffset - imgBase)); }
  });
  if (chunks.length === 0) return;
  const gzip = img.container === 'gzip';
  const jobs = new BigUint64Array(chunks.length * JOB_WORDS);
  chunks.forEach((c, k) => {
    jobs.set([BigInt(gzip ? c.fileOffset : c.logicalOffset), BigInt(gzip ? c.storedLen : c.len), BigInt(c.len), c.xxh,
      BigInt(places[k]), read.has(c.index) ? JOB_READ_BY_RESTORER : 0n], k * JOB_WORDS);
  });
  const imageFd = fs.openSync(img.path, 'r');
  try {
    const failure = await new Promise<PlanFillFailure | null>((resolve, reject) => {
      loadAddon().fillPlan({ imageFd, planFd, gzip, jobs, threads }, (err, f) => (err ? reject(err) : resolve(f)));
    });
    if (failure?.kind === 'layout') throw new LayoutError();
    if (failure) throw fillError(img, chunks[failure.index], failure, planPath);
  } finally {
    fs.closeSync(imageFd);
  }
}

/** Chunks in flight at once in writeRestorePlan: two per core keep every core inflating. */
export const PLAN_IN_FLIGHT = Math.max(4, (os.availableParallelism?.() ?? os.cpus().length) * 2);

function writeAsync(fd: number, buf: Uint8Array, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      fs.write(fd, buf, off, buf.length - off, pos + off, (err, n) => {
        if (err) reject(err);
        else if (off + n < buf.length) step(off + n);
        else resolve();
      });
    };
    step(0);
  });
}

/**
 * writeRestorePlanSync, in parallel: by the addon's threads, one per core
 * (`filler`), or up to `inFlight` chunks at once, gzip members inflated on
 * libuv's thread pool; each checked against its XXH64 and written at its plan
 * offset (positional writes; order does not matter).
 * The same file, byte for byte, and the same errors: the promise resolves
 * only when every chunk was verified and written; on the first damaged chunk
 * (the lowest-numbered one, when several fail at once) nothing new starts,
 * what is in flight is waited for, and the plan file is removed.
 */
export async function writeRestorePlan(imagePath: string, planPath: string, opts: PlanOptions = {}): Promise<PlanLayout> {
  const img = openImage(imagePath);
  let fd = -1;
  try {
    const native = opts.filler !== 'js' && nativeFills(img);
    // Stored blocks the restorer reads from the image itself: only where the
    // native filler checks their layout.
    const readChunks = opts.readChunks ?? (native && opts.readImage !== false ? storedChunks(img) : new Set<number>());
    const { head, tables, layout, planBase } = buildPlanTables(img, { ...opts, readChunks });
    fd = fs.openSync(planPath, 'w', 0o600);
    writeFully(fd, head, 0);
    writeFully(fd, tables, layout.areasOffset);
    if (native) await fillNative(img, planBase, readChunks, fd, planPath, opts.inFlight ?? PLAN_THREADS);
    else await fillJs(img, planBase, readChunks, fd, opts.inFlight ?? PLAN_IN_FLIGHT);
    fs.ftruncateSync(fd, layout.fileLen);
    fs.closeSync(fd);
    fd = -1;
    return layout;
  } catch (e) {
    if (fd >= 0) { fs.closeSync(fd); try { fs.unlinkSync(planPath); } catch { /* gone */ } }
    // A member that looked like full stored blocks and is not: the plan copies it after all.
    if (e instanceof LayoutError) return writeRestorePlan(imagePath, planPath, { ...opts, readImage: false, readChunks: undefined });
    throw e;
  } finally {
    img.close();
  }
}

/** Every copied chunk of the plan, `inFlight` at once: members inflated on libuv's pool, hashed here. */
async function fillJs(img: Image, planBase: number[], read: Set<number>, planFd: number, inFlight: number): Promise<void> {
  const pending = new Set<Promise<void>>();
  let failure: { k: number; e: unknown } | null = null;
  for (let i = 0; i < img.areas.length && !failure; i++) {
    const a = img.areas[i];
    if (planBase[i] < 0) continue;
    const imgBase = a.runs[0].dataOffset;
    for (const c of a.chunks) {
      if (failure) break;
      const pos = planBase[i] + (c.logicalOffset - imgBase);
      const job: Promise<void> = img.loadChunk(c.index)
        .then((data) => (read.has(c.index) ? undefined : writeAsync(planFd, data, pos)))
        .catch((e: unknown) => { if (!failure || c.index < failure.k) failure = { k: c.index, e }; })
        .finally(() => { pending.delete(job); });
      pending.add(job);
      while (pending.size >= Math.max(1, inFlight)) await Promise.race(pending);
    }
  }
  // what is in flight is waited for before the plan file is closed and removed
  await Promise.all(pending);
  if (failure) throw (failure as { e: unknown }).e;
}

