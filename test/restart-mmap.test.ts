/**
 * Restart at mmap speed (issue 12, docs/restore-plan.md "Mapped runs"): a raw
 * image's anonymous memory is mapped from the image file, private and
 * copy-on-write, instead of copied. test/programs/mapped.c checks its own
 * memory every tick (A, and a counter written after each restart), and on
 * SIGUSR1 a region left untouched since the restart (D) and a discard
 * (MADV_DONTNEED must read as zero, as anonymous memory does).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import { Run, Session, program, session, waitUntil } from './helpers/e2e';
import { openImage } from '../dist/image/decode.js';

let prog: string;
let s: Session | undefined;
beforeAll(() => { prog = program('mapped'); });
afterEach(async () => { await s?.close(); s = undefined; });

const RAW = { DMTCP_GZIP: '0' };
const lastTick = (r: Run): number => {
  const ticks = r.lines.filter((l) => l.startsWith('TICK ')).map((l) => Number(l.slice(5)));
  return ticks.length ? ticks[ticks.length - 1] : 0;
};
const ticksPast = async (r: Run, n: number): Promise<void> => {
  const from = lastTick(r);
  await waitUntil(() => lastTick(r) >= from + n || r.lines.some((l) => l.startsWith('FAIL')));
  expect(r.lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
};
/** Lines of the process's maps that name the image file. */
const imageMappings = (pid: number, image: string): string[] =>
  fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes(image));
const mappedBytes = (lines: string[]): number => lines.reduce((n, l) => {
  const [lo, hi] = l.split(' ')[0].split('-').map((h) => parseInt(h, 16));
  return n + (hi - lo);
}, 0);
const checkOnSignal = async (r: Run): Promise<void> => {
  const before = r.lines.filter((l) => l === 'CHECKED ok').length;
  process.kill(r.child.pid!, 'SIGUSR1');
  await waitUntil(() => r.lines.filter((l) => l === 'CHECKED ok').length > before || r.lines.some((l) => l.startsWith('FAIL')));
  expect(r.lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
};
const killed = async (r: Run): Promise<void> => { r.kill(); await r.exited; };

describe('restart maps raw images', () => {
  it('maps the memory, survives two cycles, a removed image and MADV_DONTNEED', async () => {
    s = await session();
    const first = s.launch(prog, [], { env: RAW });
    await ticksPast(first, 3);
    const [image] = await s.checkpoint();
    await killed(first);

    // Cycle 1: memory comes from the image file, touched or not.
    const second = s.restart([image]);
    await ticksPast(second, 3);
    // A, D and B (36 MiB, adjacent: one mapping or several) come from the file.
    expect(mappedBytes(imageMappings(second.child.pid!, image))).toBeGreaterThanOrEqual(36 * 2 ** 20);
    await checkOnSignal(second);                        // D untouched until now; B discarded reads zero
    // The next checkpoint renames a new image over the old name: the old file
    // stays the mapped one, and the new image holds every page (touched or not).
    const [image2] = await s.checkpoint();
    expect(image2).toBe(image);
    // Memory mapped from the image is saved as the program's own anonymous
    // memory, not as a mapping of the (old) image file.
    const img2 = openImage(image2);
    try { expect(img2.areas.filter((a) => a.name.includes('ckpt_')).map((a) => a.name)).toEqual([]); } finally { img2.close(); }
    await ticksPast(second, 2);
    await killed(second);

    // Cycle 2: the image is removed while the restarted program runs.
    const third = s.restart([image2]);
    await ticksPast(third, 2);
    // The memory mapped from the first image was saved as the program's own
    // (anonymous), so this restart maps it from the new image again.
    expect(mappedBytes(imageMappings(third.child.pid!, image2))).toBeGreaterThanOrEqual(36 * 2 ** 20);
    fs.rmSync(image2);
    await checkOnSignal(third);
    await ticksPast(third, 2);
    expect(imageMappings(third.child.pid!, image2).every((l) => l.endsWith('(deleted)'))).toBe(true);
    const [image3] = await s.checkpoint();
    await killed(third);

    // And once more from the image written by a process whose memory was mapped from a deleted file.
    const fourth = s.restart([image3]);
    await ticksPast(fourth, 2);
    await checkOnSignal(fourth);
    const counter = lastTick(fourth);
    expect(counter).toBeGreaterThan(lastTick(third) - 3);
  }, 120_000);

  it('--no-mmap (and DMTCP_RESTART_MMAP=0) reads every page up front', async () => {
    s = await session();
    const first = s.launch(prog, [], { env: RAW });
    await ticksPast(first, 2);
    const [image] = await s.checkpoint();
    await killed(first);
    for (const how of [{ args: ['--no-mmap'] }, { env: { DMTCP_RESTART_MMAP: '0' } }]) {
      const r = s.restart([image], how);
      await ticksPast(r, 2);
      expect(imageMappings(r.child.pid!, image)).toEqual([]);
      await checkOnSignal(r);
      await killed(r);
    }
  }, 90_000);

  it('gzip images are copied, never mapped', async () => {
    s = await session();
    const first = s.launch(prog, [], { env: { DMTCP_GZIP: '1' } });
    await ticksPast(first, 2);
    const [image] = await s.checkpoint();
    await killed(first);
    const r = s.restart([image]);
    await ticksPast(r, 2);
    expect(imageMappings(r.child.pid!, image)).toEqual([]);
    await checkOnSignal(r);
  }, 90_000);
});

describe("the restorer's threads fill a large copy (stage fill)", () => {
  const threads = (pid: number): number => fs.readdirSync(`/proc/${pid}/task`).length;
  // D of 96 MiB: more than the 64 MiB from which the restorer reads with one
  // thread per core; the program checks every byte of A on each tick and of D
  // on SIGUSR1, two cycles of each kind of copy, and no thread of ours is left.
  for (const [kind, env, args] of [['gzip', { DMTCP_GZIP: '1' }, []], ['raw --no-mmap', RAW, ['--no-mmap']]] as const) {
    it(`${kind}: two cycles, every byte checked, as many threads as before`, async () => {
      s = await session();
      let r = s.launch(prog, ['1000000', '96'], { env });
      await ticksPast(r, 2);
      let [image] = await s.checkpoint();
      const before = threads(r.child.pid!);
      for (let cycle = 1; cycle <= 2; cycle++) {
        await killed(r);
        r = s.restart([image], { args: [...args] });
        await ticksPast(r, 2);
        expect(imageMappings(r.child.pid!, image)).toEqual([]);
        await checkOnSignal(r);
        expect(threads(r.child.pid!)).toBe(before);
        [image] = await s.checkpoint();
      }
    }, 120_000);
  }
});
