/**
 * The checkpoint thread starts when the coordinator first writes to a process
 * (native/agent/core/lazy_thread.c): until then a process of the computation
 * has only its own threads, so a fork, an exec and an exit cost what they cost
 * a plain program. The first checkpoint comes wherever the program is: asleep,
 * inside malloc, under a signal handler that runs every millisecond, in a
 * forked child; a program with its own malloc gets its thread at once.
 * test/programs/lazythread.c prints its thread count at every tick and checks
 * its heap blocks itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { program, session, Session } from './helpers/e2e';
import { counted, ranClean, twoRestarts } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const TICKS = 24;

/** The thread counts that lines "<tag> i threads n" report. */
const threadCounts = (lines: string[], tag: string): number[] =>
  lines.map((l) => new RegExp(`^${tag} \\d+ threads (\\d+)$`).exec(l)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));

describe('the checkpoint thread starts when first needed', () => {
  for (const [mode, tag, processes] of [['sleep', 'tick', 1], ['malloc', 'tick', 1], ['handler', 'tick', 1], ['child', 'child', 2]] as const) {
    it(`${mode}: one thread until the first checkpoint, two after it, through two kill/restart cycles`, async () => {
      s = await session();
      const prog = program('lazythread');
      const c = await twoRestarts(s, prog, [mode, String(TICKS)], { ready: (l) => counted(l, tag).length >= 5, processes });
      ranClean(c, tag, TICKS);
      const before = threadCounts(c.runs[0].lines, tag);
      expect(before.length).toBeGreaterThanOrEqual(5);
      expect(new Set(before)).toEqual(new Set([1]));
      const after = threadCounts(c.runs[2].lines, tag);
      expect(after.length).toBeGreaterThan(0);
      expect(new Set(after)).toEqual(new Set([2]));
    }, 60_000);
  }

  it('a program with its own malloc has its thread from the start', async () => {
    s = await session();
    const prog = program('lazythread', { flags: ['-DOWN_MALLOC'], as: 'lazythread-ownmalloc' });
    const c = await twoRestarts(s, prog, ['malloc', String(TICKS)], { ready: (l) => counted(l, 'tick').length >= 5, processes: 1 });
    ranClean(c, 'tick', TICKS);
    expect(new Set(threadCounts(c.lines, 'tick'))).toEqual(new Set([2]));
  }, 60_000);
});
