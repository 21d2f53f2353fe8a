// One checkpoint's files: the raw stream from the agent becomes `ckpt_X.dmtcp`,
// either a plain image, or (HBICT) a full image with a block hash table or a
// delta against the previous checkpoint. Every step keeps a good image under
// the final name: new files are written under temp names and renamed; the
// final name is replaced last, by one rename.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EncodeOptions, EncodeResult, ImageBuilder, fsyncWanted, writeImageFile, syncDir } from './encode';
import { RawStreamReader } from './rawstream';
import { DirectSource } from './direct';
import { HBICT_BLOCK, HbictInfo, MAX_CHAIN_DEPTH, ParentHashes, isLinkOf, linkPath } from './hbict';
import { Image, openImageFile } from './decode';
import { hex } from './format';

const tmpName = (p: string, tag = 'tmp'): string => `${p}.${tag}.${process.pid}`;

export interface CheckpointResult extends EncodeResult {
  /** HBICT: 'full' or 'delta'; absent for plain images. */
  kind?: 'full' | 'delta';
  /** HBICT: the file holding this checkpoint's own pages (`ckpt_X.hbict.N`, or the image itself). */
  linkFile?: string;
  inheritedBytes: number;
  /** Direct mode: page data left where the process wrote it. */
  adoptedBytes?: number;
}

/** The previous checkpoint under `outPath`, when a delta can be written against it. */
interface Previous { img: Image; info: HbictInfo }

/**
 * The image now under `outPath`, if it has a hash table and a whole chain:
 * every parent present with the content hash its child recorded. Anything
 * else (no file, no table, a broken or too long chain) means a full image.
 */
function previousImage(outPath: string): Previous | null {
  let img: Image;
  try { img = openImageFile(outPath); } catch { return null; }
  const info = img.hbict;
  if (!info || img.areas.some((a) => !a.hashes) || info.depth >= MAX_CHAIN_DEPTH || !chainIntact(img)) { img.close(); return null; }
  return { img, info };
}

/** Checks each parent's content hash (headers and metadata only; no page data). */
function chainIntact(img: Image): boolean {
  let cur = img.hbict;
  let dir = path.dirname(img.path);
  for (let n = 0; cur?.parent && n < MAX_CHAIN_DEPTH + 1; n++) {
    let p: Image;
    try { p = openImageFile(path.join(dir, path.basename(cur.parent))); } catch { return false; }
    const ok = hex(p.contentXxh) === cur.parentXxh;
    const next = p.hbict;
    p.close();
    if (!ok) return false;
    cur = next;
  }
  return !cur?.parent;
}

/** Gives the file at `from` a second name `to` (hard link; a copy where links are refused), atomically. */
function addName(from: string, to: string): void {
  const tmp = tmpName(to, 'link');
  try { fs.unlinkSync(tmp); } catch { /* not there */ }
  try {
    fs.linkSync(from, tmp);
  } catch {
    fs.copyFileSync(from, tmp);
  }
  fs.renameSync(tmp, to);
}

const sameFile = (a: string, b: string): boolean => {
  try {
    const x = fs.statSync(a), y = fs.statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch { return false; }
};

/** Removes the chain's link files that the image now under `outPath` no longer needs. */
function removeStaleLinks(outPath: string): void {
  const keep = new Set<string>();
  try {
    let img: Image | null = openImageFile(outPath);
    for (let n = 0; img && n <= MAX_CHAIN_DEPTH + 1; n++) {
      const info: HbictInfo | undefined = img.hbict;
      img.close();
      if (!info) break;
      keep.add(path.basename(linkPath(outPath, info.generation)));
      if (!info.parent) break;
      keep.add(path.basename(info.parent));
      img = openImageFile(path.join(path.dirname(outPath), path.basename(info.parent)));
    }
  } catch {
    return; // not sure what the chain needs: remove nothing
  }
  for (const f of fs.readdirSync(path.dirname(outPath))) {
    if (isLinkOf(outPath, f) && !keep.has(f)) fs.rmSync(path.join(path.dirname(outPath), f), { force: true });
  }
}

/**
 * Encodes the raw stream read from `inFd` into `outPath` (docs/image-format.md).
 * Plain: `<out>.tmp.<pid>` renamed to `<out>`. HBICT: a full image the first
 * time (and every MAX_CHAIN_DEPTH deltas); otherwise the current image gets
 * the name `ckpt_X.hbict.G` (its generation), the delta is written as
 * `ckpt_X.hbict.G+1`, and `<out>` becomes a second name of the delta.
 */
/** Whether a process with this pid exists (EPERM: it does, it is another user's). */
function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Temporary files an encoder left behind when it was killed in the middle of an
 * image (the resident encoder by SIGKILL, a per-checkpoint one by the OOM
 * killer): they are named `<image>.tmp.<pid>` and can be as large as the image.
 * One whose pid no longer runs is removed before this image is written; a live
 * pid (even a reused one) keeps its file.
 */
function sweepStaleTemps(outPath: string): void {
  const dir = path.dirname(outPath);
  const prefix = `${path.basename(outPath)}.tmp.`;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    try { fs.unlinkSync(path.join(dir, name)); } catch { /* removed meanwhile */ }
  }
}

export async function encodeStream(inFd: number, outPath: string, opts: EncodeOptions): Promise<CheckpointResult> {
  const input = new RawStreamReader(inFd);
  const feed = (meta: Record<string, unknown>) => async (b: ImageBuilder): Promise<void> => {
    b.header(meta, opts.writer ? { writer: opts.writer } : {});
    for (let rec = input.nextRecord(); rec; rec = input.nextRecord()) await b.area(rec, input);
  };
  const { meta } = input.readHeader();
  sweepStaleTemps(outPath);
  const tmp = tmpName(outPath);
  const sync = fsyncWanted(opts.fsync);
  if (opts.direct) {
    if (opts.gzip || opts.hbict) throw new Error('direct page data is for raw images without HBICT');
    const link = opts.direct;
    const r = await writeImageFile(tmp, opts, null, async (b, fd) => {
      b.header(meta, { ...(opts.writer ? { writer: opts.writer } : {}), pageData: 'direct' });
      const src = new DirectSource(input, fd, b.logical, link);
      link.handOver(fd, b.logical);
      for (let rec = input.nextRecord(); rec; rec = input.nextRecord()) {
        await b.area(rec, src);
        src.endOfArea(`area 0x${rec.start.toString(16)}`);
      }
    });
    fs.renameSync(tmp, outPath);
    if (sync) syncDir(path.dirname(outPath));
    return r;
  }
  if (!opts.hbict) {
    const r = await writeImageFile(tmp, opts, null, feed(meta));
    fs.renameSync(tmp, outPath);
    if (sync) syncDir(path.dirname(outPath));
    return r;
  }
  const prev = previousImage(outPath);
  const generation = (hbictOf(outPath) ?? 0) + 1;
  if (!prev) {
    const info: HbictInfo = { generation, depth: 0, blockSize: HBICT_BLOCK };
    const r = await writeImageFile(tmp, opts, {}, feed({ ...meta, hbict: info }));
    fs.renameSync(tmp, outPath);
    if (sync) syncDir(path.dirname(outPath));
    removeStaleLinks(outPath);
    return { ...r, kind: 'full', linkFile: outPath };
  }
  try {
    const parentFile = linkPath(outPath, prev.info.generation);
    if (!sameFile(outPath, parentFile)) addName(outPath, parentFile);
    const info: HbictInfo = {
      generation: prev.info.generation + 1, depth: prev.info.depth + 1, blockSize: HBICT_BLOCK,
      parent: path.basename(parentFile), parentXxh: hex(prev.img.contentXxh),
    };
    const r = await writeImageFile(tmp, opts, { parent: new ParentHashes(prev.img.areas) }, feed({ ...meta, hbict: info }));
    const own = linkPath(outPath, info.generation);
    fs.renameSync(tmp, own);
    addName(own, outPath); // the final name changes last, in one rename
    if (sync) syncDir(path.dirname(outPath));
    removeStaleLinks(outPath);
    return { ...r, kind: 'delta', linkFile: own };
  } finally {
    prev.img.close();
  }
}

/** HBICT generation of the image under `p`, from its header alone; undefined when none. */
function hbictOf(p: string): number | undefined {
  try {
    const img = openImageFile(p);
    const g = img.hbict?.generation;
    img.close();
    return g;
  } catch { return undefined; }
}
