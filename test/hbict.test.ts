// HBICT delta chains on synthetic raw streams: three generations of one
// process where only some pages change. The delta stores only changed pages,
// the chain decodes to the newest memory, and a missing or damaged link is a
// one-line error naming the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openImage, openImageFile } from '../dist/image/decode.js';
import { writeRestorePlanSync } from '../dist/image/plan.js';
import { PAGE, READDMTCP, TestArea, buildRawStream, defaultMeta, expectedMemory, randomBytes, runEncoder, sparseBytes } from './helpers/rawstream';

const HEAP_PAGES = 256;
const START = 0x555555559000n;
const STACK = 0x7ffffffde000n;

/** Generation g of the process: a heap where pages 10..19 change every time, page 100 becomes zero at g3, a new area at g3. */
function generation(g: number): TestArea[] {
  const heap = sparseBytes(HEAP_PAGES, Array.from({ length: 200 }, (_, i) => i));
  for (let p = 10; p < 20; p++) heap.set(randomBytes(PAGE, 1000 * g + p), p * PAGE);
  if (g >= 3) heap.fill(0, 100 * PAGE, 101 * PAGE);
  const areas: TestArea[] = [
    { start: 0x555555554000n, size: 4 * PAGE, prot: 5, flags: 0, name: '/abs/path/a.out', data: randomBytes(4 * PAGE, 3) },
    { start: START, size: HEAP_PAGES * PAGE, prot: 3, flags: 0x2 | 0x8, name: '[heap]', data: heap },
    { start: STACK, size: 8 * PAGE, prot: 3, flags: 0x2 | 0x4, name: '[stack]', data: sparseBytes(8, [6, 7], 50 + g) },
  ];
  if (g >= 3) areas.push({ start: 0x7f0000000000n, size: 4 * PAGE, prot: 3, flags: 0x2, name: '', data: randomBytes(4 * PAGE, 77) });
  return areas;
}

const FLAGS = [['raw', ['--no-gzip']], ['gzip', ['--gzip']]] as const;

describe.each(FLAGS)('three generations (%s)', (_kind, flags) => {
  let dir: string;
  const out = () => path.join(dir, 'ckpt_a.out_1.dmtcp');
  const link = (n: number) => path.join(dir, `ckpt_a.out_1.hbict.${n}`);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-hbict-'));
    for (const g of [1, 2, 3]) {
      const r = runEncoder(buildRawStream(defaultMeta({ generation: g }), generation(g)), out(), [...flags, '--hbict', '--no-fsync']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a full image, then deltas named .hbict.N, leaving no temp files', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['ckpt_a.out_1.dmtcp', 'ckpt_a.out_1.hbict.1', 'ckpt_a.out_1.hbict.2', 'ckpt_a.out_1.hbict.3']);
    const full = openImageFile(link(1));
    expect(full.hbict).toMatchObject({ generation: 1, depth: 0 });
    full.close();
    const top = openImageFile(out());
    expect(top.hbict).toMatchObject({ generation: 3, depth: 2, parent: 'ckpt_a.out_1.hbict.2' });
    top.close();
    expect(fs.readFileSync(out())).toEqual(fs.readFileSync(link(3)));
  });

  it('stores only the changed pages in a delta', () => {
    const d2 = openImageFile(link(2));
    const stored = d2.areas.map((a) => a.dataLen);
    // heap pages 10..19 and the two stack pages changed; the binary did not.
    expect(stored).toEqual([0, 10 * PAGE, 2 * PAGE]);
    d2.close();
    const d3 = openImageFile(link(3));
    expect(d3.areas.map((a) => a.dataLen)).toEqual([0, 10 * PAGE, 2 * PAGE, 4 * PAGE]);
    d3.close();
    expect(fs.statSync(link(2)).size).toBeLessThan(fs.statSync(link(1)).size / 4);
  });

  it('decodes the chain to exactly the newest memory', () => {
    const img = openImage(out());
    try {
      expect(img.verify()).toBeNull();
      expect(img.chain!.map((l) => path.basename(l.path))).toEqual(['ckpt_a.out_1.dmtcp', 'ckpt_a.out_1.hbict.2', 'ckpt_a.out_1.hbict.1']);
      const want = generation(3);
      expect(img.areas.length).toBe(want.length);
      for (const a of want) expect(Buffer.compare(img.readMemory(a.start, a.size), expectedMemory(a))).toBe(0);
    } finally { img.close(); }
    // An older link opened by name reads as its own generation.
    const g2 = openImage(link(2));
    for (const a of generation(2)) expect(Buffer.compare(g2.readMemory(a.start, a.size), expectedMemory(a))).toBe(0);
    g2.close();
  });

  it('writes a restore plan from the chain (restart needs nothing else)', () => {
    const plan = path.join(dir, '..', `plan-${path.basename(dir)}`);
    try {
      const layout = writeRestorePlanSync(out(), plan);
      const heapData = expectedMemory(generation(3)[1]);
      // Every heap page with data appears in the plan file's data region.
      const planBytes = fs.readFileSync(plan);
      expect(planBytes.subarray(layout.dataOffset).includes(Buffer.from(heapData.subarray(15 * PAGE, 16 * PAGE)))).toBe(true);
    } finally { fs.rmSync(plan, { force: true }); }
  });

  it('readdmtcp shows the chain and --flatten writes one full image', () => {
    const r = spawnSync(READDMTCP, [out()], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/chain:.*ckpt_a\.out_1\.dmtcp.*delta.*ckpt_a\.out_1\.hbict\.2.*ckpt_a\.out_1\.hbict\.1.*full/s);
    const flat = path.join(dir, '..', `flat-${path.basename(dir)}.dmtcp`);
    try {
      const f = spawnSync(READDMTCP, ['--flatten', flat, out()], { encoding: 'utf8' });
      expect(f.stderr).toBe('');
      expect(f.status).toBe(0);
      const img = openImageFile(flat);
      expect(img.hbict?.parent).toBeUndefined();
      expect(img.verify()).toBeNull();
      for (const a of generation(3)) expect(Buffer.compare(img.readMemory(a.start, a.size), expectedMemory(a))).toBe(0);
      img.close();
    } finally { fs.rmSync(flat, { force: true }); }
  });
});

describe('broken chains', () => {
  let dir: string;
  const out = () => path.join(dir, 'ckpt_b_1.dmtcp');
  const link = (n: number) => path.join(dir, `ckpt_b_1.hbict.${n}`);
  const restore = () => { for (const f of fs.readdirSync(path.join(dir, 'good'))) fs.copyFileSync(path.join(dir, 'good', f), path.join(dir, f)); };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-hbict-bad-'));
    for (const g of [1, 2, 3]) expect(runEncoder(buildRawStream(defaultMeta(), generation(g)), out(), ['--no-gzip', '--hbict', '--no-fsync']).status).toBe(0);
    fs.mkdirSync(path.join(dir, 'good'));
    for (const f of fs.readdirSync(dir)) if (f !== 'good') fs.copyFileSync(path.join(dir, f), path.join(dir, 'good', f));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const readErr = (): { status: number | null; stderr: string } => spawnSync(READDMTCP, ['--verify', out()], { encoding: 'utf8' });

  it('a missing link is one line naming the file, exit 99', () => {
    restore();
    fs.rmSync(link(1));
    expect(() => openImage(out())).toThrow(/ckpt_b_1\.hbict\.1: no such file/);
    const r = readErr();
    expect(r.status).toBe(99);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('ckpt_b_1.hbict.1');
  });

  it('a replaced link is refused by content hash', () => {
    restore();
    fs.copyFileSync(link(2), link(1)); // a valid image, but not the parent
    expect(() => openImage(out())).toThrow(/ckpt_b_1\.hbict\.1: is not the image ckpt_b_1\.hbict\.2 was written against/);
  });

  it('a flipped byte in a parent page is named by verify', () => {
    restore();
    const buf = fs.readFileSync(link(1));
    const img = openImageFile(link(1));
    const heapChunk = img.areas[1].chunks[0];
    img.close();
    buf[heapChunk.fileOffset + 50 * PAGE + 7] ^= 0xff; // page 50: inherited by every delta
    fs.writeFileSync(link(1), buf);
    const r = readErr();
    expect(r.status).toBe(99);
    expect(r.stderr).toMatch(/ckpt_b_1\.hbict\.1: checksum mismatch/);
    expect(() => writeRestorePlanSync(out(), path.join(dir, 'plan'))).toThrow(/ckpt_b_1\.hbict\.1/);
  });

  it('a checkpoint after a broken chain writes a full image again', () => {
    restore();
    fs.rmSync(link(1));
    expect(runEncoder(buildRawStream(defaultMeta(), generation(4)), out(), ['--no-gzip', '--hbict', '--no-fsync']).status).toBe(0);
    const img = openImage(out());
    expect(img.hbict).toMatchObject({ generation: 4, depth: 0 });
    expect(img.verify()).toBeNull();
    img.close();
    expect(fs.readdirSync(dir).filter((f) => f.includes('.hbict.'))).toEqual([]);
  });

  it('without --hbict nothing changes: no hash table, no links', () => {
    const plain = path.join(dir, 'ckpt_plain.dmtcp');
    expect(runEncoder(buildRawStream(defaultMeta(), generation(1)), plain, ['--no-gzip', '--no-fsync']).status).toBe(0);
    expect(runEncoder(buildRawStream(defaultMeta(), generation(2)), plain, ['--no-gzip', '--no-fsync']).status).toBe(0);
    const img = openImage(plain);
    expect(img.hbict).toBeUndefined();
    expect(img.areas.every((a) => a.hashes === undefined)).toBe(true);
    img.close();
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('ckpt_plain'))).toEqual(['ckpt_plain.dmtcp']);
  });
});
