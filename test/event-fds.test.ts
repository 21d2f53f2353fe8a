/**
 * Event descriptors (issue 9): eventfd, timerfd, signalfd and epoll come back
 * from the image with their state, and the program that uses them checks it
 * (test/programs/{eventcount,timerticks,sigfd,epollmix}.c print CORRUPT when
 * a counter, a timer, a pending signal or a watch came back wrong). Each runs
 * through two checkpoint/kill/restart cycles, gzip and raw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { program, session, Session, waitUntil } from './helpers/e2e';
import { counted, Cycle, MODES, oneTo, ranClean, twoRestarts } from './helpers/tree';
import { readImageMeta } from '../dist/image/decode.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });


type Fd = { fd: number; kind?: string; share?: string; owner?: number; ownerFd?: number; state?: Record<string, unknown> };
const fdsOf = (c: Cycle, gen: number): Fd[] => c.images[gen].flatMap((i) => (readImageMeta(i).fds ?? []) as Fd[]);



describe('timers survive two restarts', () => {
  it.each(MODES)('setitimer, POSIX timers with a signal, a thread and none: ids, values and time left kept (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('timers', { flags: ['-lrt'] }), ['60'], { launchArgs, ready: (l) => counted(l, 'T').length >= 10 });
    ranClean(c, 'T', 60);
  });

  it('glibc\'s SIGEV_THREAD timers tick on, and new ones are made, armed and deleted after each restart', async () => {
    s = await session();
    const c = await twoRestarts(s, program('sigevthread', { flags: ['-lrt'] }), ['24'], { ready: (l) => counted(l, 'T').length >= 4, processes: 1 });
    ranClean(c, 'T', 24);
  });
});

describe('event descriptors survive two restarts', () => {
  for (const [mode, launchArgs] of MODES) {
    it(`eventfd: a counter and a semaphore keep their values (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('eventcount'), ['60'], { launchArgs, ready: (l) => counted(l, 'E').length % 10 >= 3 });
      ranClean(c, 'E', 60);
      const efds = fdsOf(c, 1).filter((f) => f.kind === 'eventfd');
      expect(efds.map((f) => f.state?.semaphore).sort()).toEqual([false, true]);
      expect(efds.find((f) => !f.state?.semaphore)!.state!.count).toBeGreaterThan(0);
    });

    it(`timerfd: the period, an absolute wall-clock deadline, a relative timer and an unread expiry are kept (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('timerticks'), ['60'], { launchArgs, ready: (l) => counted(l, 'T').length >= 8 });
      ranClean(c, 'T', 60);
      const timers = fdsOf(c, 0).filter((f) => f.kind === 'timerfd');
      expect(timers).toHaveLength(4);
      expect(timers.some((t) => t.state?.absolute === true && t.state?.clock === 0)).toBe(true);
      expect(timers.some((t) => t.state?.ticks === 1 && t.state?.valueNs === 0)).toBe(true);
    });

    it(`signalfd: its mask is kept and the signal pending at each checkpoint is read after it (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('sigfd'), ['60'], { launchArgs, ready: (l) => counted(l, 'S').length >= 8 });
      ranClean(c, 'S', 60);
      const sfd = fdsOf(c, 1).find((f) => f.kind === 'signalfd');
      expect(sfd?.state?.mask).toBe('0x' + ((1 << 9) | (1 << 13)).toString(16));   // SIGUSR1 (10) and SIGALRM (14), bit n-1
    });

    it(`epoll: level and edge triggered watches and a nested set keep reporting, with their data words (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('epollmix'), ['60'], { launchArgs, ready: (l) => counted(l, 'P').length >= 8 });
      ranClean(c, 'P', 60);
      const sets = fdsOf(c, 1).filter((f) => f.kind === 'epoll');
      expect(sets.map((f) => (f.state?.watches as unknown[]).length).sort()).toEqual([1, 4]);
    });
  }
});

describe('an eventfd shared across fork (and dup)', () => {
  it.each(MODES)('is one eventfd again after each of two restarts: what the child adds, the parent reads (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('eventshare'), ['30'], { launchArgs, ready: (l) => counted(l, 'W').length >= 5, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'W')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
    expect(c.end).toEqual({ code: 0, signal: null });
    // the images name it by the kernel's id, the same in both processes
    const ids = c.images[0].flatMap((i) => fdsOf({ ...c, images: [[i]] }, 0).filter((f) => f.kind === 'eventfd').map((f) => f.state?.id));
    expect(new Set(ids).size).toBe(1);
    expect(ids.length).toBeGreaterThanOrEqual(2);
  });
});

describe('inotify', () => {
  it.each(MODES)('watches come back by path with their wd numbers (a removed one left out), two restarts (%s)', async (_mode, launchArgs) => {
    s = await session();
    const dir = path.join(s.dir, 'watched');
    fs.mkdirSync(dir);
    const c = await twoRestarts(s, program('inotifyw'), ['60', dir], { launchArgs, ready: (l) => counted(l, 'N').length >= 8 });
    ranClean(c, 'N', 60);
    // events queued when an image was taken are lost, at most in the step each restart came in
    expect(c.lines.filter((l) => l.startsWith('LOST')).length).toBeLessThanOrEqual(2);
    const w = fdsOf(c, 1).find((f) => f.kind === 'inotify')?.state?.watches as { wd: number; path: string }[];
    expect(w.map((x) => x.path).sort()).toEqual([dir, path.join(dir, 'log')]);
  });
});

describe('a descriptor no checkpoint carries', () => {
  it('is named in one line (fd, kind, process) and the program goes on; stdout and stderr in one file stay whole', async () => {
    s = await session();
    const out = path.join(s.dir, 'out.txt');
    const run = s.launch('/bin/sh', ['-c', `exec ${program('uncarried')} 100 > ${out} 2>&1`]);
    await waitUntil(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('P 10'));
    await s.checkpoint();
    await s.checkpoint();
    const end = await run.exited;
    expect(end).toEqual({ code: 0, signal: null });
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    const said = lines.filter((l) => l.startsWith('dmtcp: '));
    expect(said).toHaveLength(2);
    for (const l of said) expect(l).toMatch(/^dmtcp: fd \d+ \(other\) of process \d+: anon_inode:\[pidfd\] cannot be carried; it comes back as \/dev\/null at a restart$/);
    expect(counted(lines, 'P')).toEqual(oneTo(100));
    expect(lines.filter((l) => !l.startsWith('dmtcp: ') && !/^P \d+$/.test(l))).toEqual(['DONE 100']);
  });
});

describe('an epoll set, a signalfd and a timerfd shared across fork', () => {
  it.each(MODES)('are one each again after each of two restarts: what the child changes in them, the parent sees (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('anonshare'), ['40'], { launchArgs, ready: (l) => counted(l, 'T').length >= 5, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT')), c.runs.map((r) => r.stderr).join('\n')).toEqual([]);
    expect(counted(c.lines, 'T')).toEqual(oneTo(40));
    expect(c.lines.at(-1)).toBe('DONE 40');
    expect(c.end).toEqual({ code: 0, signal: null });
    // both holders name each one the same: its owner and the owner's fd for it
    for (const kind of ['epoll', 'signalfd', 'timerfd']) {
      const held = fdsOf(c, 0).filter((f) => f.kind === kind);
      expect(held, kind).toHaveLength(2);
      expect(held.every((f) => f.share === 'anon'), kind).toBe(true);
      expect(new Set(held.map((f) => `${f.owner}:${f.ownerFd}`)).size, kind).toBe(1);
    }
  });
});
