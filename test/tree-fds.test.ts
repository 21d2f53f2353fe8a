/**
 * Open file descriptions shared inside a process tree: pipes and FIFOs with
 * bytes in flight, a file offset shared across fork and dup, and shell
 * pipelines whose output after two checkpoint/kill/restart cycles is the same
 * as an undisturbed run's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { execFileSync } from 'child_process';
import { BIN, program, session, Session } from './helpers/e2e';
import { counted, oneTo, twoRestarts } from './helpers/tree';
import { readImageMeta } from '../dist/image/decode.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const noCorruption = (lines: string[]): void => expect(lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
const reports = (n: number) => (lines: string[]): boolean => counted(lines, 'R').length >= n;

describe('pipes and FIFOs with bytes in flight', () => {
  for (const [kind, launchArgs] of [['pipe', []], ['fifo', ['--no-gzip']]] as const) {
    it(`a full ${kind} between two processes loses and repeats nothing (${launchArgs.length ? 'raw' : 'gzip'})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('pipecheck'), [kind, s.dir, '60'], { launchArgs: [...launchArgs], ready: reports(8), processes: 3 });
      expect(c.end).toEqual({ code: 0, signal: null });
      noCorruption(c.lines);
      expect(counted(c.lines, 'R')).toEqual(oneTo(60));
      expect(c.lines.at(-1)).toBe('DONE 60');
      // the reader's end was drained into an image and written back
      const fds = c.images[1].flatMap((i) => (readImageMeta(i).fds ?? []) as { kind?: string; drained?: number }[]);
      expect(fds.some((f) => f.kind === 'pipe' && (f.drained ?? 0) > 0)).toBe(true);
      const shown = c.images[1].map((i) => execFileSync(process.execPath, [path.join(BIN, 'readdmtcp'), '--fds', i], { encoding: 'utf8' })).join('');
      expect(shown).toMatch(/pipe .*\[pipe owner \d+, \d+ bytes in flight\]/);
    });
  }
});

describe('a Unix socketpair between parent and child', () => {
  it('keeps the bytes waiting in both directions across two restarts: none lost, none repeated', async () => {
    s = await session();
    const c = await twoRestarts(s, program('sockpair'), ['60'], { ready: reports(8), processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'R')).toEqual(oneTo(60));
    // both ends had bytes waiting, copied by their owners, and found each other by peer inode
    // (fds 0-2 are the launcher's stdio: Node hands its children socketpairs too)
    const socks = c.images[1].flatMap((i) => (readImageMeta(i).fds ?? []) as { fd: number; socket?: { peer?: number; queued?: number } }[])
      .filter((f) => f.socket && f.fd > 2);
    expect(socks).toHaveLength(2);
    expect(socks.every((f) => (f.socket!.queued ?? 0) > 0 && (f.socket!.peer ?? 0) > 0)).toBe(true);
  });
});

describe('a Unix socketpair as full as it gets', () => {
  it('a sender blocked in a 1 MiB send(): every byte in flight comes back, twice', async () => {
    s = await session();
    // each run checkpoints while it holds more in flight than a new socket takes at once
    const full = (lines: string[]): boolean => lines.some((l) => l.startsWith('FULL'));
    const c = await twoRestarts(s, program('bigsend'), ['24'], { ready: full, processes: 1 });
    const stderr = c.runs.map((r) => r.stderr).join('');
    expect(stderr).not.toMatch(/took back less/);
    expect(c.end, stderr).toEqual({ code: 0, signal: null });
    noCorruption(c.lines);
    expect(counted(c.lines, 'R')).toEqual(oneTo(24));
    // both images hold what was in flight at the hold
    const fits = Number(c.lines.find((l) => l.startsWith('FULL'))!.split(' ')[3]);
    for (const images of c.images) {
      const queued = images.flatMap((i) => (readImageMeta(i).fds ?? []) as { socket?: { queued?: number } }[]).map((f) => f.socket?.queued ?? 0);
      expect(Math.max(...queued)).toBeGreaterThan(fits);
    }
  });
});

describe('pids in socket credentials', () => {
  for (const [how, args] of [['sendmsg/recvmsg', []], ['sendmmsg/recvmmsg', ['mmsg']]] as const) {
    it(`SCM_CREDENTIALS sent and received (${how}) and SO_PEERCRED name the pids the program knows, after two restarts`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('sockcred'), ['30', ...args], { ready: (l) => counted(l, 'M').length >= 5, processes: 2 });
      expect(c.end).toEqual({ code: 0, signal: null });
      noCorruption(c.lines);
      expect(counted(c.lines, 'M')).toEqual(oneTo(30));
      expect(c.lines.at(-1)).toBe('DONE 30');
    });
  }
});

describe('a file description shared across fork and dup', () => {
  for (const how of ['inherited', 'scm']) {
    it(`keeps one offset for parent and child after restarts (${how === 'scm' ? 'passed with SCM_RIGHTS' : 'inherited, and a dup'}): no record overwrites another`, async () => {
      s = await session();
      const file = path.join(s.dir, 'shared.dat');
      const args = how === 'scm' ? [file, '40', 'scm'] : [file, '40'];
      const c = await twoRestarts(s, program('sharedfile'), args, { ready: (l) => counted(l, 'C').length >= 6, processes: 2 });
      expect(c.end).toEqual({ code: 0, signal: null });
      noCorruption(c.lines);
      expect(c.lines.at(-1)).toBe('DONE 40');
      expect(fs.statSync(file).size).toBe(2 * 40 * 16);
    });
  }
});

describe('shell pipelines', () => {
  const slowLines = 'for i in $(seq 1 300); do echo "line $(( (i * 7919) % 1000 ))"; sleep 0.01; done';

  it('bash: ... | sort > out gives the undisturbed output after two restarts', async () => {
    s = await session();
    const out = path.join(s.dir, 'sorted.txt');
    const c = await twoRestarts(s, '/bin/bash', ['-c', `${slowLines} | sort > ${out}; echo piped`], { delayMs: 1200 });
    expect(c.end).toEqual({ code: 0, signal: null });
    expect(c.lines.at(-1)).toBe('piped');
    const plain = execFileSync('/bin/bash', ['-c', slowLines.replace('sleep 0.01', 'true') + ' | sort'], { encoding: 'utf8' });
    expect(fs.readFileSync(out, 'utf8')).toBe(plain);
  });

  it('bash: ... | gzip -c > out.gz gives the undisturbed bytes after two restarts', async () => {
    s = await session();
    const out = path.join(s.dir, 'out.gz');
    const c = await twoRestarts(s, '/bin/bash', ['-c', `${slowLines} | gzip -c > ${out}`], { delayMs: 1200 });
    expect(c.end).toEqual({ code: 0, signal: null });
    const plain = execFileSync('/bin/bash', ['-c', slowLines.replace('sleep 0.01', 'true')], { encoding: 'utf8' });
    expect(zlib.gunzipSync(fs.readFileSync(out)).toString('utf8')).toBe(plain);
  });

  it('bash: seq | awk sums the same as a plain run, checkpointed mid-stream twice', async () => {
    s = await session();
    const script = 'seq 1 20000000 | awk "{ s += \\$1 } END { printf \\"%.0f\\\\n\\", s }"';
    const plain = execFileSync('/bin/bash', ['-c', script], { encoding: 'utf8' }).trim();
    expect(plain).toBe('200000010000000');
    const c = await twoRestarts(s, '/bin/bash', ['-c', script], { delayMs: 700, processes: 3 });
    expect(c.end).toEqual({ code: 0, signal: null });
    expect(c.lines).toEqual([plain]);
  });
});
