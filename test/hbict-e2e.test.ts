/**
 * HBICT end to end: a counter launched with --hbict is checkpointed twice; the
 * second checkpoint is a small delta (its 4 MiB heap buffer did not change),
 * and a restart from ckpt_*.dmtcp follows the chain and continues the count.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { numbers, program, session, Session } from './helpers/e2e';
import { openImage } from '../dist/image/decode.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

describe('hbict', () => {
  it('writes a delta at the second checkpoint and restarts from the chain', async () => {
    s = await session();
    const run1 = s.launch(program('counter'), ['80'], { launchArgs: ['--hbict'] });
    await run1.waitFor((l) => l === '3');
    const [image] = await s.checkpoint();
    const fullSize = fs.statSync(image).size;
    await run1.waitFor((l) => l === '6');
    const [again] = await s.checkpoint();
    expect(again).toBe(image);
    await s.command('kill');
    await run1.exited;

    const links = fs.readdirSync(s.dir).filter((f) => f.includes('.hbict.')).sort();
    expect(links).toHaveLength(2);
    const delta = path.join(s.dir, links[1]);
    // The image under the final name is the delta (a second name of it).
    expect(fs.readFileSync(image)).toEqual(fs.readFileSync(delta));
    expect(fs.statSync(delta).size).toBeLessThan(fullSize / 4);
    const img = openImage(image);
    expect(img.chain?.map((l) => l.full)).toEqual([false, true]);
    expect(img.verify()).toBeNull();
    img.close();

    const printedBefore = numbers(run1.lines);
    const run2 = s.restart([image]);
    const end = await run2.exited;
    expect(run2.stderr).toBe('');
    expect(end.code).toBe(0);
    const after = numbers(run2.lines);
    expect(run2.lines.at(-1)).toBe('DONE 80');
    expect(after[0]).toBeGreaterThan(6);
    expect(after[0]).toBeLessThanOrEqual(printedBefore.at(-1)! + 1);
    expect([...run1.lines, ...run2.lines]).not.toContain('CORRUPT');
  }, 60_000);

  it('a missing link makes dmtcp_restart fail with one line naming it, exit 99', async () => {
    s = await session();
    const run1 = s.launch(program('counter'), ['200'], { launchArgs: ['--hbict', '--no-gzip'] });
    await run1.waitFor((l) => l === '2');
    const [image] = await s.checkpoint();
    await run1.waitFor((l) => l === '4');
    await s.checkpoint();
    await s.command('kill');
    await run1.exited;
    const full = fs.readdirSync(s.dir).filter((f) => f.includes('.hbict.')).sort()[0];
    fs.rmSync(path.join(s.dir, full));
    const run2 = s.restart([image]);
    const end = await run2.exited;
    expect(end.code).toBe(99);
    expect(run2.stderr.trim().split('\n')).toHaveLength(1);
    expect(run2.stderr).toContain(full);
  }, 60_000);
});
