/**
 * The five-line session on a single-threaded program: launch, checkpoint, kill,
 * restart; the counter continues where it was, with its heap checksum intact,
 * through two generations, with gzip and raw images.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import { numbers, program, session, Session } from './helpers/e2e';
import { counted, oneTo, twoRestarts } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

/** Counting 1..N with no gap and no repeat, then DONE N. */
function expectWholeCount(all: number[], n: number): void {
  expect(all).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}

describe('single-threaded counter', () => {
  it('continues after --kcheckpoint and restart, for two generations (gzip)', async () => {
    s = await session();
    const prog = program('counter');
    const run1 = s.launch(prog, ['120']);
    await run1.waitFor((l) => l === '5');
    const lines = await s.command('kcheckpoint');
    expect(lines.some((m) => m.verb === 'IMAGE')).toBe(true);
    await run1.exited;
    const image = fs.readdirSync(s.dir).find((f) => /^ckpt_counter_.*\.dmtcp$/.test(f))!;
    expect(image).toBeTruthy();
    expect(fs.statSync(`${s.dir}/${image}`).mode & 0o777).toBe(0o600);
    // gzip is the default: the file starts with a gzip member
    expect(fs.readFileSync(`${s.dir}/${image}`).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));

    const run2 = s.restart([`${s.dir}/${image}`]);
    const first2 = numbers(run1.lines).at(-1)! + 3;
    await run2.waitFor((l) => l === String(first2));
    await s.command('kcheckpoint');
    await run2.exited;

    const run3 = s.restart([`${s.dir}/${image}`]);
    const end = await run3.exited;
    expect(run3.stderr).toBe('');
    expect(end.code).toBe(0);
    expect(run3.lines.at(-1)).toBe('DONE 120');
    expect([...run1.lines, ...run2.lines, ...run3.lines]).not.toContain('CORRUPT');
    expectWholeCount(numbers([...run1.lines, ...run2.lines, ...run3.lines]), 120);
  });

  it('restarts from a raw image after --bcheckpoint then --kill', async () => {
    s = await session();
    const run1 = s.launch(program('counter'), ['60'], { launchArgs: ['--no-gzip'] });
    await run1.waitFor((l) => l === '4');
    const [image] = await s.checkpoint();
    expect(fs.readFileSync(image).subarray(0, 8).toString()).toBe('DMTCPIMG');
    await s.command('kill');
    await run1.exited;
    const printedBefore = numbers(run1.lines);
    const run2 = s.restart([image]);
    const end = await run2.exited;
    expect(end.code).toBe(0);
    const after = numbers(run2.lines);
    // The image was taken at some count c; after it the first run went on to k >= c
    // before the kill. The restart resumes at c + 1: a prefix of what was printed.
    expect(after[0]).toBeGreaterThan(1);
    expect(after[0]).toBeLessThanOrEqual(printedBefore.at(-1)! + 1);
    expectWholeCount([...printedBefore.slice(0, after[0] - 1), ...after], 60);
    expect(run2.lines.at(-1)).toBe('DONE 60');
  });

  it('restarts a non-PIE program (heap near 4 MiB, below the usual mmap area)', async () => {
    s = await session();
    const run1 = s.launch(program('counter', { flags: ['-no-pie', '-fno-pie'], as: 'counter-nopie' }), ['40']);
    await run1.waitFor((l) => l === '6');
    await s.command('kcheckpoint');
    await run1.exited;
    const image = fs.readdirSync(s.dir).find((f) => f.startsWith('ckpt_counter-nopie_'))!;
    const run2 = s.restart([`${s.dir}/${image}`]);
    const end = await run2.exited;
    expect(run2.stderr).toBe('');
    expect(end.code).toBe(0);
    expectWholeCount(numbers([...run1.lines, ...run2.lines]), 40);
  });

  it('restarts a heap that ends right below the restorer\'s tables, twice', async () => {
    // 0x10035000: above the lowest address the restart's own tables may take
    // (0x10000000); they must leave free the page brk() needs after the heap
    s = await session();
    const prog = program('heapedge', { flags: ['-no-pie', '-fno-pie'] });
    const c = await twoRestarts(s, prog, ['10035000', '40'], { ready: (l) => counted(l, 'H').length >= 5, processes: 1 });
    expect(c.lines.filter((l) => l.includes('CORRUPT')), c.runs.map((r) => r.stderr).join('\n')).toEqual([]);
    expect(counted(c.lines, 'H')).toEqual(oneTo(40));
    expect(c.end).toEqual({ code: 0, signal: null });
  });

  it('--interval checkpoints on its own, and the image restarts', async () => {
    s = await session();
    const run1 = s.launch(program('counter'), ['80'], { launchArgs: ['--interval', '1'] });
    const dir = s.dir;
    const imageName = () => fs.readdirSync(dir).find((f) => /^ckpt_counter_.*\.dmtcp$/.test(f));
    await run1.waitFor(() => imageName() !== undefined && fs.existsSync(`${dir}/dmtcp_restart_script.sh`), 20_000);
    await s.command('kill');
    await run1.exited;
    const run2 = s.restart([`${dir}/${imageName()}`]);
    await run2.waitFor((l) => l === 'DONE 80', 30_000);
    expect(numbers(run2.lines)[0]).toBeGreaterThan(1);
  });
});
