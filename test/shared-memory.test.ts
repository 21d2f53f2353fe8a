/**
 * Memory and IPC shared by processes of the computation (issue 9): MAP_SHARED
 * anonymous memory, /dev/zero, memfd and POSIX shm mapped before fork stay
 * one memory after a restart. test/programs/shmshare.c passes turns through
 * each and prints CORRUPT when a turn never comes (the memory split in two).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { program, session, Session } from './helpers/e2e';
import { counted, MODES, oneTo, twoRestarts } from './helpers/tree';
import * as fs from 'fs';
import * as os from 'os';
import { spawnSync } from 'child_process';
import { readImageMeta } from '../dist/image/decode.js';

/** The lock files one holder of a queue takes at DRAIN (native/agent/fds/fd_kinds.c), for a name. */
const lockFiles = (part: string): string[] => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('.dmtcp-') && f.includes(part));

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });


describe('memory shared between parent and child', () => {
  for (const [mode, launchArgs] of MODES) {
    it(`anonymous, /dev/zero, memfd and shm_open memory stays shared across two restarts (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('shmshare'), ['60'], { launchArgs, ready: (l) => counted(l, 'M').length >= 8, processes: 2 });
      expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
      expect(counted(c.lines, 'M')).toEqual(oneTo(60));
      expect(c.lines.at(-1)).toBe('DONE 60');
      expect(c.end).toEqual({ code: 0, signal: null });
      // both processes name the same memory objects at both checkpoints
      for (const gen of [0, 1]) {
        const [a, b] = c.images[gen].map((i) => ((readImageMeta(i).sharedAreas ?? []) as { ino: number }[]).map((x) => x.ino).sort());
        expect(a.length).toBeGreaterThanOrEqual(3);
        expect(a).toEqual(b);
      }
    });
  }
});

describe('process_vm_readv/writev between processes of the tree', () => {
  it.each(MODES)('reach the child by the pid the program knows, after two restarts (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('vmpeek'), ['60'], { launchArgs, ready: (l) => counted(l, 'V').length >= 8, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'V')).toEqual(oneTo(60));
    expect(c.lines.at(-1)).toBe('DONE 60');
  });
});

describe('POSIX message queues between processes of the tree', () => {
  it.each(MODES)('keep their attributes and the messages waiting, in priority order, across two restarts (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('mqpair', { flags: ['-lrt'] }), ['60'], { launchArgs, ready: (l) => counted(l, 'Q').length >= 8, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'Q')).toEqual(oneTo(60));
    expect(c.lines.at(-1)).toBe('DONE 60');
    expect(c.end).toEqual({ code: 0, signal: null });
    // one holder of each queue drained it at each checkpoint, messages and all
    const queues = c.images.flat().flatMap((i) => (readImageMeta(i).fds ?? []) as { kind?: string; path?: string; state?: { drained?: boolean; messages?: number } }[])
      .filter((f) => f.kind === 'mqueue');
    expect(queues.filter((f) => f.state?.drained)).toHaveLength(4);   // two queues, two checkpoints
    expect(lockFiles('dmtcp-test-')).toEqual([]);   // each checkpoint removed its lock files
    expect(queues.some((f) => (f.state?.messages ?? 0) > 0)).toBe(true);
  });
});

describe('SEM_UNDO', () => {
  it('a child\'s adjustment comes back with it: the value is given back when it ends, after two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('semundo'), ['30'], { ready: (l) => counted(l, 'C').length >= 5, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(c.lines).toContain('UNDONE 5');
    expect(c.lines.at(-1)).toBe('DONE 30');
    expect(c.end).toEqual({ code: 0, signal: null });
  });
});

describe('mq_notify', () => {
  it('a registration for a signal with its value comes back with the process, twice', async () => {
    s = await session();
    const name = `/dmtcp-test-mqn-${process.pid}`;
    const c = await twoRestarts(s, program('mqnotify', { flags: ['-lrt'] }), [name, '30'], { ready: (l) => counted(l, 'M').length >= 5, processes: 1 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'M')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
  });
  it('a SIGEV_THREAD registration comes back too: each message runs the function in a new thread, twice', async () => {
    s = await session();
    const name = `/dmtcp-test-mqt-${process.pid}`;
    const c = await twoRestarts(s, program('mqnotify', { flags: ['-lrt', '-pthread'] }), [name, '30', 'thread'], { ready: (l) => counted(l, 'M').length >= 5, processes: 1 });
    expect(c.lines.filter((l) => l.includes('CORRUPT')), c.runs.map((r) => r.stderr).join('\n')).toEqual([]);
    expect(counted(c.lines, 'M')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
    expect(c.end).toEqual({ code: 0, signal: null });
  });
});

describe('System V IPC between processes of the tree', () => {
  for (const [mode, launchArgs] of MODES) {
    it(`a segment, semaphores and a message queue keep their ids, contents, values and messages across two restarts (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('sysvipc'), ['60'], { launchArgs, ready: (l) => counted(l, 'S').length >= 7, processes: 2 });
      expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
      expect(counted(c.lines, 'S')).toEqual(oneTo(60));
      expect(c.lines.at(-1)).toBe('DONE 60');
      expect(c.end).toEqual({ code: 0, signal: null });
      const objs = c.images[1].flatMap((i) => (readImageMeta(i).sysv ?? []) as { kind: number; id: number; real: number }[]);
      expect(new Set(objs.map((o) => `${o.kind}:${o.id}`)).size).toBe(3);
      // after the first restart the kernel's ids differ from the program's, at least for one object
      expect(objs.some((o) => o.id !== o.real)).toBe(true);
    });
  }

  // A fresh IPC namespace starts its ids at 0 (as a fresh boot does, e.g. a CI
  // machine): a segment whose kernel id, and so whose inode in
  // /proc/<pid>/maps, is 0 is still shared memory of the tree.
  const ownIpc = spawnSync('unshare', ['--ipc', 'true']).status === 0;
  it.skipIf(!ownIpc)('objects whose kernel id is 0 (the program runs in its own IPC namespace) stay shared across two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, 'unshare', ['--ipc', program('sysvipc'), '60'], { ready: (l) => counted(l, 'S').length >= 7, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'S')).toEqual(oneTo(60));
    expect(c.end).toEqual({ code: 0, signal: null });
    // the program's ids are the ones its namespace gave first: 0 for each kind
    const objs = c.images[1].flatMap((i) => (readImageMeta(i).sysv ?? []) as { kind: number; id: number }[]);
    expect(objs.map((o) => `${o.kind}:${o.id}`).sort()).toEqual(['1:0', '1:0', '2:0', '2:0', '3:0', '3:0']);
  });
});
