/**
 * The thread, fork and descriptor events of DMTCP 5's plugin interface
 * (issue 10): test/programs/plugin_events.c logs each one and maps paths
 * under /virtual to a real folder; test/programs/eventuser.c makes each
 * happen and checks what it read through the mapped paths; both threads of
 * the program hear THREAD_RESUME after each of two restarts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { plugin, program, session, Session } from './helpers/e2e';
import { counted, oneTo, twoRestarts } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

describe('plugin events of threads, forks, descriptors and paths', () => {
  it('each is told once, paths are mapped both ways, THREAD_RESUME comes to both threads after each of two restarts', async () => {
    s = await session();
    const so = plugin('plugin_events');
    const real = path.join(s.dir, 'real');
    fs.mkdirSync(real);
    fs.writeFileSync(path.join(real, 'data.txt'), 'virtual data\n');
    fs.symlinkSync(path.join(real, 'data.txt'), path.join(real, 'link'));
    const log = path.join(s.dir, 'events.log');
    const c = await twoRestarts(s, program('eventuser'), ['30'], {
      launchArgs: ['--with-plugin', so], env: { ...process.env, PLUGIN_EVENTS_LOG: log, PLUGIN_REAL_DIR: real },
      ready: (l) => counted(l, 'N').length >= 5, processes: 1,
    });
    expect(c.lines.filter((l) => l.includes('CORRUPT')), c.runs[0].stderr).toEqual([]);
    expect(c.lines).toContain('SETUP ok');
    expect(counted(c.lines, 'N')).toEqual(oneTo(30));
    expect(c.end).toEqual({ code: 0, signal: null });

    const pid = String(c.runs[0].child.pid);
    const all = fs.readFileSync(log, 'utf8').trim().split('\n');
    const mine = all.filter((l) => l.startsWith(`${pid} `)).map((l) => l.slice(pid.length + 1));
    const named = (e: string): string[] => mine.filter((l) => l === e || l.startsWith(`${e} `));
    expect(named('PTHREAD_START')).toHaveLength(3);     // returns, exits, sleeper
    expect(named('PTHREAD_RETURN')).toHaveLength(1);
    expect(named('PTHREAD_EXIT')).toHaveLength(1);
    const fd = Number(c.lines.find((l) => l.startsWith('FD '))!.slice(3));
    expect(named('OPEN_FD')).toContain(`OPEN_FD fd=${fd} path=/virtual/data.txt`);
    expect(named('CLOSE_FD')).toContain(`CLOSE_FD fd=${fd}`);
    const dups = named('DUP_FD').filter((l) => l.startsWith(`DUP_FD old=${fd} `)).map((l) => Number(l.split('new=')[1]));
    expect(dups).toHaveLength(3);
    expect(dups).toContain(40);
    expect(dups.some((d) => d >= 50)).toBe(true);
    expect(named('REOPEN_FD').some((l) => l.endsWith(' path=/virtual/data.txt'))).toBe(true);
    for (const p of ['/virtual/data.txt', '/virtual', '/virtual/link']) expect(named('VIRTUAL_TO_REAL_PATH')).toContain(`VIRTUAL_TO_REAL_PATH ${p}`);
    expect(named('REAL_TO_VIRTUAL_PATH')).toContain(`REAL_TO_VIRTUAL_PATH ${path.join(real, 'data.txt')}`);
    // vfork: its own events, in the parent and in the child; no ATFORK_ ones
    expect(named('VFORK_PREPARE')).toHaveLength(1);
    expect(named('VFORK_PARENT')).toHaveLength(1);
    expect(named('ATFORK_PREPARE')).toHaveLength(0);
    expect(all.filter((l) => l.endsWith(' VFORK_CHILD') && !l.startsWith(`${pid} `))).toHaveLength(1);
    // the plugin's usleep wrapper saw the program's call although the agent wraps usleep too
    expect(named('USLEEP')).toHaveLength(1);
    // the program's two threads, after each restart, each in itself
    expect(named('THREAD_RESUME')).toEqual(Array(4).fill('THREAD_RESUME restart=1'));
  });
});
