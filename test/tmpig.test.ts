/**
 * A checkpoint is invisible to a waiting thread (issue 11): no EINTR, no wait
 * cut short or made longer, at a checkpoint the program goes on from and
 * after a restart. test/programs/waits.c runs one thread per call (relative
 * timeouts, absolute deadlines, blocking calls woken by a partner) and checks
 * each wait's length in program time itself; here it is checkpointed several
 * times, then killed and restarted twice, a few seconds dead each time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { program, session, Session } from './helpers/e2e';
import { kcheckpoint, restartedPeers } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const N = 5;
const T_MS = 2000;   // whole seconds: sleep() is one of the calls
const CALLS = ['poll', 'ppoll', 'select', 'pselect', 'epoll_wait', 'epoll_pwait', 'nanosleep', 'clock_nanosleep', 'usleep',
  'sigtimedwait', 'semtimedop', 'clock_nanosleep_abs', 'sem_timedwait', 'mq_timedreceive', 'cond_timedwait', 'mutex_timedlock',
  'read', 'msgrcv', 'sem_wait', 'mq_receive', 'sigwaitinfo', 'pause', 'recv', 'write_full_pipe', 'accept', 'sleep', 'big_write', 'wait4', 'waitid',
  'big_send', 'connect', 'semop'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The waits each call finished, in order, from "W <call> <k> <ms>" lines. */
function waitsOf(lines: string[], call: string): number[] {
  return lines.map((l) => l.split(' ')).filter((w) => w[0] === 'W' && w[1] === call).map((w) => Number(w[2]));
}

describe('dbg', () => {
  it('signals the program ignores (SIGURG, SIGCHLD), sent while its threads are stopped or being restarted, never end a wait with EINTR', async () => {
    s = await session();
    const session_ = s;
    const prog = program('ignoredsig', { flags: ['-pthread'] });
    let run = s.launch(prog, ['12', '1000']);
    const runs = [run];
    await run.waitFor((l) => l.startsWith('W '));
    // Both signals every 2 ms to every process the coordinator knows, until stopped.
    let storm: ReturnType<typeof setInterval> | undefined;
    const startStorm = (): void => {
      storm = setInterval(() => {
        for (const p of session_.coord.coordinator.list()) {
          try { process.kill(p.rpid, 'SIGURG'); process.kill(p.rpid, 'SIGCHLD'); } catch { /* between lives */ }
        }
      }, 2);
    };
    const stopStorm = (): void => clearInterval(storm);
    try {
      startStorm();
      try { for (let i = 0; i < 3; i++) { await s.checkpoint(); await sleep(300); } } catch (e) { await sleep(500); console.log('DBG', JSON.stringify(run.lines.slice(-5)), run.stderr, JSON.stringify(await Promise.race([run.exited, sleep(100)]))); throw e; }
      const images = await kcheckpoint(s, 1);
      stopStorm();
      expect(await run.exited).toEqual({ code: 0, signal: null });
      run = s.restart(images);
      runs.push(run);
      startStorm();
      await restartedPeers(s, 1, run);
      await sleep(1500);   // the program runs on, its main thread the process's first again
      await s.checkpoint();
    } finally {
      stopStorm();
    }
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const lines = runs.flatMap((r) => r.lines);
    expect(lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    for (const call of ['poll', 'epoll']) expect(waitsOf(lines, call), call).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(lines.at(-1)).toBe('DONE');
  }, 60_000);

});
