// Reading an HBICT delta chain as one image. The newest file lists every
// non-zero page of the process (live runs + one hash per page) and stores the
// changed ones; every other live page comes from the nearest older link that
// stores it. Each page read is checked against the newest file's hash, so a
// wrong or damaged link is named, never silently restored.
import * as path from 'node:path';
import { Area, CHUNK_BYTES, Chunk, PAGE, Run, hex } from './format';
import { Image, ImageError, openImageFile, readMemoryFrom } from './decode';
import { MAX_CHAIN_LINKS, pageNo } from './hbict';
import { pageHashes } from './codec';

/** A stored run of one link, by absolute page number, for binary search. */
interface Seg { startPage: number; pages: number; area: Area; dataOffset: number }

function storedIndex(img: Image): Seg[] {
  const segs: Seg[] = [];
  for (const a of img.areas) {
    for (const r of a.runs) segs.push({ startPage: pageNo(a.start) + r.offset / PAGE, pages: r.len / PAGE, area: a, dataOffset: r.dataOffset });
  }
  return segs.sort((x, y) => x.startPage - y.startPage);
}

/** Where link `img` stores page `page`: its chunk and the offset inside it, or null. */
function locate(segs: Seg[], page: number): { chunk: Chunk; off: number } | null {
  let lo = 0, hi = segs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = segs[mid];
    if (page < s.startPage) hi = mid - 1;
    else if (page >= s.startPage + s.pages) lo = mid + 1;
    else {
      const logical = s.dataOffset + (page - s.startPage) * PAGE;
      const cs = s.area.chunks;
      let a = 0, b = cs.length - 1;
      while (a <= b) {
        const m = (a + b) >> 1;
        if (logical < cs[m].logicalOffset) b = m - 1;
        else if (logical >= cs[m].logicalOffset + cs[m].len) a = m + 1;
        else return { chunk: cs[m], off: logical - cs[m].logicalOffset };
      }
      return null;
    }
  }
  return null;
}

/** Opens the parents of `top` (already open) and returns the chain read as one image. */
export function openChain(top: Image): Image {
  const links: Image[] = [top];
  try {
    for (let cur = top; cur.hbict?.parent; ) {
      if (links.length >= MAX_CHAIN_LINKS) throw new ImageError(top.path, `HBICT chain longer than ${MAX_CHAIN_LINKS} links`);
      // Links live next to each other: only the base name of the parent counts.
      const parentPath = path.join(path.dirname(cur.path), path.basename(cur.hbict.parent));
      const needed = `a link of the HBICT chain of ${path.basename(top.path)}, parent of ${path.basename(cur.path)}`;
      let parent: Image;
      try {
        parent = openImageFile(parentPath);
      } catch (e) {
        if (e instanceof ImageError) e.message += ` (${needed})`;
        throw e;
      }
      links.push(parent);
      if (hex(parent.contentXxh) !== cur.hbict.parentXxh) {
        throw new ImageError(parentPath, `is not the image ${path.basename(cur.path)} was written against (content hash differs; ${needed})`);
      }
      cur = parent;
    }
    return compose(links);
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
}

/** The memory of the chain's newest checkpoint, laid out as if it were one full image. */
function compose(links: Image[]): Image {
  const top = links[0];
  const idx = links.map(storedIndex);
  const areas: Area[] = [];
  const chunks: Chunk[] = [];
  let logical = 0;
  for (const a of top.areas) {
    if (!a.live || !a.hashes) throw new ImageError(top.path, `delta image lacks the hash table of area ${hex(a.start)}-${hex(a.end)}`);
    const runs: Run[] = a.live.map((r) => { const x = { offset: r.offset, len: r.len, dataOffset: logical }; logical += r.len; return x; });
    const dataLen = runs.reduce((s, r) => s + r.len, 0);
    const base = runs.length ? runs[0].dataOffset : 0;
    const own = a.chunks.reduce((s, c) => s + c.storedLen, 0);
    const va: Area = { ...a, runs, chunks: [], dataLen };
    for (let off = 0; off < dataLen; off += CHUNK_BYTES) {
      const c: Chunk = { index: chunks.length, area: a.index, logicalOffset: base + off, len: Math.min(CHUNK_BYTES, dataLen - off), fileOffset: 0, storedLen: off === 0 ? own : 0, xxh: 0n };
      va.chunks.push(c);
      chunks.push(c);
    }
    areas.push(va);
  }

  let cached: { k: number; data: Buffer } | null = null;
  const readChunk = (k: number): Buffer => {
    if (cached && cached.k === k) return cached.data;
    const c = chunks[k];
    if (!c) throw new RangeError(`no chunk ${k}`);
    const a = areas[c.area];
    const out = Buffer.alloc(c.len);
    const source: number[] = [];
    const addrs: number[] = [];
    for (const r of a.runs) {
      const lo = Math.max(r.dataOffset, c.logicalOffset), hi = Math.min(r.dataOffset + r.len, c.logicalOffset + c.len);
      for (let p = lo; p < hi; p += PAGE) {
        const page = pageNo(a.start) + (r.offset + p - r.dataOffset) / PAGE;
        let li = 0;
        for (; li < links.length; li++) {
          const loc = locate(idx[li], page);
          if (!loc) continue;
          links[li].readChunk(loc.chunk.index).copy(out, p - c.logicalOffset, loc.off, loc.off + PAGE);
          break;
        }
        if (li === links.length) throw new ImageError(links[li - 1].path, `page ${hex(page * PAGE)} of ${path.basename(top.path)} is stored in no link of its HBICT chain`);
        source.push(li);
        addrs.push(page);
      }
    }
    const got = pageHashes(out);
    const first = (c.logicalOffset - (a.runs[0]?.dataOffset ?? 0)) / PAGE;
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== a.hashes![first + i]) {
        throw new ImageError(links[source[i]].path, `page ${hex(addrs[i] * PAGE)} does not match the hash recorded in ${path.basename(top.path)}: a damaged or wrong link of the HBICT chain`);
      }
    }
    cached = { k, data: out };
    return out;
  };

  /** Every link's own checksums, then every page of the newest memory against its hash. */
  const verify = (progress?: (done: number, total: number) => void): string | null => {
    const total = links.reduce((s, l) => s + l.chunks.length, 0) + chunks.length;
    let done = 0;
    for (const l of links) {
      const bad = l.verify(progress && ((d) => progress(done + d, total)));
      if (bad) return bad;
      done += l.chunks.length;
    }
    for (const c of chunks) {
      try { readChunk(c.index); } catch (e) { return (e as Error).message; }
      progress?.(++done, total);
    }
    return null;
  };

  return {
    path: top.path, container: top.container, compression: top.compression, formatVersion: top.formatVersion,
    fileSize: top.fileSize, meta: top.meta, areas, chunks, readChunk,
    // Composing pages from several links stays on the main thread.
    loadChunk: (k) => { try { return Promise.resolve(readChunk(k)); } catch (e) { return Promise.reject(e); } },
    forEachChunk: (area, fn) => { for (const c of area.chunks) fn(c, readChunk(c.index)); },
    readMemory: (addr, len) => readMemoryFrom(areas, readChunk, addr, len),
    verify,
    close: () => { for (const l of links) l.close(); },
    hbict: top.hbict, contentXxh: top.contentXxh,
    chain: links.map((l) => l.chain?.[0] ?? { path: l.path, generation: 0, full: true, fileSize: l.fileSize, storedBytes: l.areas.reduce((s, a) => s + a.dataLen, 0) }),
  };
}
