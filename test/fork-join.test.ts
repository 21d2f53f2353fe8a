/**
 * Fork returns before the child has connected (native/agent/wrappers/fork.c,
 * native/agent/core/lazy_join.c): the parent tells the coordinator of the
 * child (FORKED) and the coordinator holds SUSPEND until the child is here or
 * gone (src/coordinator/expected.ts). A checkpoint asked for right after a
 * fork still counts the child; the children that ended before they ever
 * connected hold no checkpoint up; restart brings every process back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as path from 'path';
import { program, session, Session, waitUntil } from './helpers/e2e';
import { counted, kcheckpoint, oneTo, restartedPeers } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const INCLUDE = path.join(__dirname, '..', 'include');
const ROUNDS = 8;
/** The coordinator gives up on a child that does not come after 2 s (expected.ts): far below that. */
const CHECKPOINT_MS_MAX = 1500;

describe('fork without waiting for the child to connect', () => {
  it('every checkpoint taken right after a fork counts the new child, short-lived children hold none up, and a restart brings all back', async () => {
    s = await session();
    const run = s.launch(program('forkstorm', { flags: ['-I', INCLUDE] }), [String(ROUNDS), '30']);
    await waitUntil(() => run.lines.includes('READY'), 60_000).catch(() => {
      throw new Error(`not ready; stdout:\n${run.lines.join('\n')}\nstderr:\n${run.stderr}`);
    });
    const rounds = run.lines.filter((l) => l.startsWith('ROUND '));
    expect(rounds).toHaveLength(ROUNDS);
    for (const r of rounds) {
      const m = /^ROUND (\d+) ms=(\d+) child=(\w+)$/.exec(r)!;
      expect(m[3], r).toBe('ok');
      expect(Number(m[2]), r).toBeLessThan(CHECKPOINT_MS_MAX);
    }
    // the storm's children are gone: the parent and one child a round
    const status = (await s.command('status')).find((m) => m.verb === 'STATUS')!;
    expect(status.fields.num_peers).toBe(String(ROUNDS + 1));
    expect(await s.checkpoint()).toHaveLength(ROUNDS + 1);

    const images = await kcheckpoint(s, ROUNDS + 1);
    await run.exited;
    const back = s.restart(images);
    await restartedPeers(s, ROUNDS + 1, back);
    const end = await back.exited;
    expect(back.lines.filter((l) => l.includes('CORRUPT')), back.stderr).toEqual([]);
    expect(back.lines.at(-1)).toBe(`DONE ${ROUNDS}`);
    expect(end).toEqual({ code: 0, signal: null });
  });

  it('a child whose parent exited before telling of it: a checkpoint right after counts it (the coordinator waits after a disconnect)', async () => {
    s = await session();
    const run = s.launch(program('orphan'), ['orphan', '30']);
    await run.waitFor((l) => l === 'ORPHANED');
    // at once: the child joins on its own within 10 ms of its fork
    const images = await kcheckpoint(s, 2);
    await run.exited;
    const back = s.restart(images);
    const end = await back.exited;
    const lines = [...run.lines, ...back.lines];
    expect(end).toEqual({ code: 0, signal: null });
    expect(counted(lines, 'C')).toEqual(oneTo(30));
    expect(counted(lines, 'M')).toEqual(oneTo(30));
    expect(lines).toContain('C-DONE');
  });

  it('a kill right after a fork ends the child too, though its parent had not told of it yet', async () => {
    s = await session();
    const run = s.launch(program('orphan'), ['kill', '400']);
    const child = Number((await run.waitFor((l) => l.startsWith('FORKED '))).split(' ')[1]);
    await s.command('kill');
    await run.exited;
    const gone = (): boolean => { try { process.kill(child, 0); return false; } catch { return true; } };
    await waitUntil(gone, 5000).catch(() => { throw new Error(`the child ${child} outlived the kill; stdout:\n${run.lines.join('\n')}`); });
    expect(counted(run.lines, 'C').length).toBeLessThan(20);
  });
});
