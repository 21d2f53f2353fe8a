/**
 * Whole process trees: every descendant joins the computation, a checkpoint
 * writes one image per process, and dmtcp_restart (or the restart script)
 * brings the whole tree back with its pids, parents, sessions and groups, two
 * generations each. The C programs under test/programs check their own state
 * and print CORRUPT when something they knew stopped holding.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, program, Run, session, Session, waitUntil } from './helpers/e2e';
import { counted, oneTo, restartedPeers, twoRestarts } from './helpers/tree';
import { readImageMeta } from '../dist/image/decode.js';
import { handleKey } from '../dist/coordinator/keys.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const noCorruption = (lines: string[]): void => expect(lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
const atLeast = (tag: string, n: number) => (lines: string[]): boolean => counted(lines, tag).length >= n;
const both = (a: (l: string[]) => boolean, b: (l: string[]) => boolean) => (l: string[]): boolean => a(l) && b(l);

describe('a parent and its child', () => {
  it('both count on across three restarts (gzip), each with its pid, ppid and heap', async () => {
    s = await session();
    const run = s.launch(program('forkcount'), ['40']);
    await waitUntil(() => atLeast('C', 2)(run.lines));
    // -s counts every live process, -l lists each
    const status = (await s.command('status')).find((m) => m.verb === 'STATUS')!;
    expect(status.fields.num_peers).toBe('2');
    const peers = (await s.command('list')).filter((m) => m.verb === 'PEER');
    expect(peers.map((p) => p.fields.prog)).toEqual(['forkcount', 'forkcount']);
    const parentPid = Number(/^PARENT (\d+)/.exec(run.lines.find((l) => l.startsWith('PARENT'))!)![1]);
    expect(peers.map((p) => Number(p.fields.ppid))).toContain(parentPid);
    run.kill();
    await run.exited;
    s.runs.length = 0;

    const c = await twoRestarts(s, program('forkcount'), ['40'], { ready: both(atLeast('P', 5), atLeast('C', 5)), processes: 2, generations: 3 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'P')).toEqual(oneTo(40));
    expect(counted(c.lines, 'C')).toEqual(oneTo(40));
    expect(c.lines.at(-1)).toBe('DONE 40');
    // the restart script names every image of the checkpoint
    const script = fs.readFileSync(path.join(s.dir, 'dmtcp_restart_script.sh'), 'utf8');
    for (const img of c.images[1]) expect(script).toContain(img);
  });

  it('a child made by clone() (no CLONE_THREAD) joins, and both count on across two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('forkcount'), ['30', 'clone'], { ready: both(atLeast('P', 5), atLeast('C', 5)), processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'P')).toEqual(oneTo(30));
    expect(counted(c.lines, 'C')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
  });

  it('restarts from raw images through the restart script, twice', async () => {
    s = await session();
    const c = await twoRestarts(s, program('forkcount'), ['30'], {
      launchArgs: ['--no-gzip'], ready: both(atLeast('P', 4), atLeast('C', 4)), processes: 2, viaScript: true,
    });
    expect(c.end).toEqual({ code: 0, signal: null });
    for (const img of c.images.flat()) expect(fs.readFileSync(img).subarray(0, 8).toString()).toBe('DMTCPIMG');
    noCorruption(c.lines);
    expect(counted(c.lines, 'P')).toEqual(oneTo(30));
    expect(counted(c.lines, 'C')).toEqual(oneTo(30));
  });
});

describe('children that exec', () => {
  for (const how of ['fork', 'vfork', 'spawn']) {
    it(`${how === 'spawn' ? 'posix_spawn' : `${how} + exec`}: the exec'd child keeps its pid, parent and place in the computation`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('execchild'), [how, '30'], { ready: both(atLeast('P', 5), atLeast('C', 4)), processes: 2 });
      expect(c.end).toEqual({ code: 0, signal: null });
      noCorruption(c.lines);
      const spawned = /^SPAWNED (\d+)/.exec(c.lines.find((l) => l.startsWith('SPAWNED'))!)![1];
      const execed = /^EXECED (\d+) (\d+)/.exec(c.lines.find((l) => l.startsWith('EXECED'))!)!;
      expect(execed[1]).toBe(spawned);
      if (how === 'fork') expect(c.lines).toContain(`FORKED ${spawned}`);
      expect(counted(c.lines, 'C')).toEqual(oneTo(30));
      expect(c.lines.at(-1)).toBe('DONE 30');
      // one identity across exec: the child's image names the exec'd program and its first pid
      const metas = c.images[1].map((i) => readImageMeta(i));
      const child = metas.find((m) => m.pid === Number(spawned))!;
      expect(child.uniqueId).toMatch(new RegExp(`-${spawned}-`));
      expect(child.argv).toEqual(['execchild', 'child', '30']);
    });
  }
});

describe('children of system() and popen()', () => {
  for (const how of ['system', 'popen']) {
    it(`${how}(): the shell's exec'd child counts on, and ${how === 'system' ? 'system' : 'pclose'} returns its status 7 after two restarts`, async () => {
      s = await session();
      const tag = how === 'popen' ? 'R C' : 'C';
      const c = await twoRestarts(s, program('execchild'), [how, '30'], { ready: both(atLeast('P', 5), atLeast(tag, 4)), processes: 2 });
      expect(c.end).toEqual({ code: 0, signal: null });
      noCorruption(c.lines);
      const relayed = how === 'popen' ? c.lines.filter((l) => l.startsWith('R ')).map((l) => l.slice(2)) : c.lines;
      expect(counted(relayed, 'C')).toEqual(oneTo(30));
      expect(c.lines).toContain(how === 'system' ? 'SYSTEM 7' : 'PCLOSE 7');
      expect(c.lines.at(-1)).toBe('DONE 30');
    });
  }
});

describe('waiting, signals, groups, sessions', () => {
  it('a parent blocked in waitpid across two restarts gets its child and status 7, and a SIGCHLD', async () => {
    s = await session();
    const c = await twoRestarts(s, program('waiter'), ['30'], { ready: atLeast('C', 5), processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    const child = /^WAITING (\d+)/.exec(c.lines.find((l) => l.startsWith('WAITING'))!)![1];
    expect(c.lines.at(-1)).toBe(`REAPED ${child} 7 sigchld=1`);
    expect(counted(c.lines, 'C')).toEqual(oneTo(30));
  });

  it('kill() of a child by the pid the parent knows keeps reaching it', async () => {
    s = await session();
    const c = await twoRestarts(s, program('killer'), ['30'], { ready: atLeast('C', 5), processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(c.lines.at(-1)).toBe('DONE 30');
    const last = c.runs[2].lines.filter((l) => l.startsWith('C ')).at(-1)!;
    expect(Number(/got=(\d+)/.exec(last)![1])).toBeGreaterThanOrEqual(25);
  });

  it('a child group with a grandchild in it: getpgid, setpgid and killpg hold after restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('groups'), ['30'], { ready: both(atLeast('G', 6), atLeast('C', 6)), processes: 3 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'G')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
    const lastG = c.runs[2].lines.filter((l) => l.startsWith('G ')).at(-1)!;
    expect(Number(/got=(\d+)/.exec(lastG)![1])).toBeGreaterThanOrEqual(5);   // killpg every fifth tick reached it
  });

  for (const mode of ['reaped', 'zombie'] as const) {
    it(`a group whose leader ended (${mode === 'reaped' ? 'and was reaped' : 'a zombie'}) keeps its members and its id: getpgid, kill(-id) and killpg hold after restarts`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('leaderless'), ['30', mode], { ready: both(atLeast('M1', 6), atLeast('M2', 6)), processes: 3 });
      expect(c.end).toEqual({ code: 0, signal: null });
      noCorruption(c.lines);
      expect(counted(c.lines, 'M1')).toEqual(oneTo(30));
      expect(counted(c.lines, 'M2')).toEqual(oneTo(30));
      expect(c.lines.at(-1)).toBe('DONE 30');
      for (const m of ['M1', 'M2']) {
        const last = c.runs[2].lines.filter((l) => l.startsWith(`${m} `)).at(-1)!;
        expect(Number(/got=(\d+)/.exec(last)![1]), m).toBeGreaterThanOrEqual(5);   // the group's signals reached it
      }
    });
  }

  it('daemon(3): the launched process leaves at once, its child leads its own session and counts on after two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('daemoncall'), ['30'], { ready: atLeast('D', 5), processes: 1 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'D')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
  });

  it('a double-forked daemon stays an orphan in the session of the process that left', async () => {
    s = await session();
    const c = await twoRestarts(s, program('daemonize'), ['30'], { ready: both(atLeast('D', 5), atLeast('P', 5)), processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'D')).toEqual(oneTo(30));
    expect(c.lines).toContain('DAEMON DONE');
    const meta = c.images[1].map((i) => readImageMeta(i));
    const daemon = meta.find((m) => !m.root)!;
    expect(daemon.sid).not.toBe(daemon.pid);
    expect(meta.map((m) => m.pid)).not.toContain(daemon.sid);   // its session leader had exited
  });

  it('/proc/<pid> paths of the pids the program knows still name those processes (open, fopen, stat, opendir)', async () => {
    s = await session();
    const c = await twoRestarts(s, program('procfs'), ['30'], { ready: atLeast('C', 5), processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'C')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 0');
  });

  it('a zombie at checkpoint time is reaped after restarts with its exit status', async () => {
    s = await session();
    const c = await twoRestarts(s, program('zombie'), ['20'], { ready: atLeast('P', 4), processes: 1 });
    expect(c.end).toEqual({ code: 0, signal: null });
    const zombie = Number(/^ZOMBIE (\d+)/.exec(c.lines[0])![1]);
    expect(readImageMeta(c.images[1][0]).zombies).toEqual([{ pid: zombie, status: 5 << 8 }]);
    expect(c.lines.at(-1)).toBe('REAPED 5');
  });
});

describe('pids the kernel hands out again', () => {
  const lastPid = '/proc/sys/kernel/ns_last_pid';
  const canSteer = (() => { try { fs.accessSync(lastPid, fs.constants.W_OK); return process.getuid?.() === 0; } catch { return false; } })();
  it.skipIf(!canSteer)('after a restart a new child never gets a pid the program knows as another process\'s (the program steers the kernel there)', async () => {
    s = await session();
    const tries = 5;
    // No resident encoder: its start-up threads take pids while the program steers them.
    const quiet = ['--no-encoder-service'];
    // Launched under a shell that waits for it: once the first run is gone its
    // pid is free again (a Node parent keeps its children's pids referenced).
    const launch = [process.execPath, path.join(BIN, 'dmtcp_launch'), '-p', String(s.port), '-j', '--ckptdir', s.dir, ...quiet,
      program('pidclash'), s.dir, String(tries), 'steer'];
    const run = new Run(spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', ...launch], { cwd: s.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
    s.runs.push(run);
    await waitUntil(() => run.lines.some((l) => l.startsWith('P ')));
    const own = Number(run.lines.find((l) => l.startsWith('P '))!.split(' ')[1]);
    const lines = await s.command('kcheckpoint');
    const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
    expect(images).toHaveLength(2);
    await run.exited;
    const again = s.restart(images, { args: quiet });
    await restartedPeers(s!, 2);
    await new Promise((r) => setTimeout(r, 300));
    // Each fork of the restarted parent is offered the parent's own virtual pid
    // (free: the first run is gone): the agent must refuse it and fork again.
    const got: number[] = [];
    for (let k = 1; k <= tries; k++) {
      fs.writeFileSync(path.join(s.dir, `go-${k}`), '');
      await waitUntil(() => again.lines.some((l) => l.startsWith(`B ${k} `) || l.includes('CORRUPT')));
      noCorruption(again.lines);
      got.push(Number(again.lines.find((l) => l.startsWith(`B ${k} `))!.split(' ')[2]));
    }
    const end = await again.exited;
    noCorruption(again.lines);
    expect(end.code).toBe(0);
    expect(got).not.toContain(own);
    // the kernel did offer that pid: the child we kept has one just after it
    // (other test files fork meanwhile and may take a few pids in between)
    expect(got.some((b) => b > own && b <= own + 20), `own=${own} b=${got.join(',')}`).toBe(true);
    expect(again.lines.at(-1)).toBe(`DONE ${tries}`);
  });
});

describe('shells that fork in a loop', () => {
  const script = 'for i in $(seq 1 30); do sleep 0.1; echo $i; done';
  for (const shell of ['bash', 'dash', 'zsh']) {
    const found = spawnSync('sh', ['-c', `command -v ${shell}`], { encoding: 'utf8' }).stdout.trim();
    it.skipIf(!found)(`${shell} -c '${script}' prints 1..30 once across two restarts`, async () => {
      s = await session();
      const c = await twoRestarts(s, found, ['-c', script], { ready: (l) => l.filter((x) => /^\d+$/.test(x)).length >= 5 });
      expect(c.end).toEqual({ code: 0, signal: null });
      expect(c.lines.filter((l) => /^\d+$/.test(l)).map(Number)).toEqual(oneTo(30));
      expect(c.runs.map((r) => r.stderr).join('')).toBe('');
    });
  }
});

describe('the whole tree or nothing', () => {
  it('refuses to restart images whose processes still run (rc+2: 101), and leaves them running', async () => {
    s = await session();
    const run = s.launch(program('forkcount'), ['200']);
    await waitUntil(() => atLeast('C', 3)(run.lines));
    const images = await s.checkpoint();
    const again = s.restart(images);
    const end = await again.exited;
    expect(end.code).toBe(101);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/still running under the coordinator/);
    const before = counted(run.lines, 'C').length;
    await waitUntil(() => counted(run.lines, 'C').length > before + 2);
    const status = (await s.command('status')).find((m) => m.verb === 'STATUS')!;
    expect(status.fields.num_peers).toBe('2');
  });

  it('names the image that is missing from the set, exit 99', async () => {
    s = await session();
    const run = s.launch(program('forkcount'), ['200']);
    await waitUntil(() => atLeast('C', 3)(run.lines));
    const lines = await s.command('kcheckpoint');
    const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
    await run.exited;
    expect(images).toHaveLength(2);
    const partial = s.restart([images[0]]);
    const end = await partial.exited;
    expect(end.code).toBe(99);
    expect(partial.stderr.trim().split('\n')).toHaveLength(1);
    expect(partial.stderr).toContain(`missing image: ${path.basename(images[1])}`);
  });

  it('after the coordinator\'s f key, a set with an image missing restarts the others', async () => {
    s = await session();
    const run = s.launch(program('forkcount'), ['40']);
    await waitUntil(() => atLeast('C', 4)(run.lines));
    const lines = await s.command('kcheckpoint');
    await run.exited;
    const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
    const child = images.find((i) => readImageMeta(i).root !== true)!;
    const keyOut: string[] = [];
    handleKey(s.coord.coordinator, 'f', (t) => keyOut.push(t));
    expect(keyOut.join('')).toMatch(/may lack processes/);
    const alone = s.restart([child]);
    const end = await alone.exited;
    expect(alone.stderr.trim().split('\n')).toHaveLength(1);
    expect(alone.stderr).toMatch(/forced at the coordinator: .*missing image: ckpt_forkcount_/);
    expect(end.code).toBe(7);   // the child counts to the end and exits with its own status
    expect(counted([...run.lines, ...alone.lines], 'C')).toEqual(oneTo(40));
    // the force is used up: the next incomplete restart is refused again
    const again = s.restart([child]);
    expect((await again.exited).code).toBe(99);
  });

  it('a statically linked program exec\'d in the tree runs unobserved, after one line', async () => {
    s = await session();
    const st = program('hello', { flags: ['-static'], as: 'hello-static' });
    const run = s.launch('/bin/bash', ['-c', `${st}; echo after $?; sleep 30`]);
    await waitUntil(() => run.lines.includes('after 0'));
    expect(run.lines).toContain('hello from a static program');
    expect(run.stderr).toBe(`dmtcp: ${st}: statically linked; it runs without checkpointing\n`);
    const status = (await s.command('status')).find((m) => m.verb === 'STATUS')!;
    expect(Number(status.fields.num_peers)).toBeGreaterThanOrEqual(1);
  });
});
