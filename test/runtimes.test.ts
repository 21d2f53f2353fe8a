/**
 * Runtimes built on event fds and sockets (issue 9): Node.js, CPython asyncio,
 * Perl and a JVM, each checkpointed, killed and restarted twice. The programs
 * under test/runtimes check their own state (counters that must continue,
 * echoes that must match) and print CORRUPT otherwise.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { session, Session } from './helpers/e2e';
import { counted, MODES, oneTo, twoRestarts } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const here = path.join(__dirname, 'runtimes');
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const N = 60;

/** args: given the session's folder (the checkpoint folder, removed at the end). */
async function survives(prog: string, args: (dir: string) => string[], tag: string, o: { atLeast?: number; launchArgs?: string[]; budgetMs?: number } = {}): Promise<void> {
  s = await session();
  const c = await twoRestarts(s, prog, args(s.dir), { launchArgs: o.launchArgs, budgetMs: o.budgetMs, ready: (l) => counted(l, tag).length >= (o.atLeast ?? 8) });
  expect(c.lines.filter((l) => l.includes('CORRUPT')), c.runs.map((r) => r.stderr).join('\n')).toEqual([]);
  expect(counted(c.lines, tag)).toEqual(oneTo(N));
  expect(c.lines.at(-1)).toBe(`DONE ${N}`);
  expect(c.end).toEqual({ code: 0, signal: null });
}

describe('runtimes survive two restarts with their state', () => {
  it.each(MODES)('node: an HTTP server answering a client loop in the same process, no request lost (%s)', async (_mode, launchArgs) => {
    await survives(process.execPath, () => [path.join(here, 'http-loop.js'), String(N)], 'C', { launchArgs });
  });

  it.each(MODES)('node: timers, fs on the libuv thread pool, a net server and client (%s)', async (_mode, launchArgs) => {
    await survives(process.execPath, (dir) => [path.join(here, 'net-fs.js'), String(N), path.join(dir, 'counter.txt')], 'N', { launchArgs });
  });

  describe.skipIf(!has('python3'))('python3', () => {
    it.each(MODES)('asyncio server and client, and a socket pair (%s)', async (_mode, launchArgs) => {
      await survives('python3', () => [path.join(here, 'asyncio_echo.py'), String(N)], 'A', { launchArgs });
    });
  });

  describe.skipIf(!has('perl'))('perl', () => {
    it.each(MODES)('IO::Socket server and client with select(), and a pipe (%s)', async (_mode, launchArgs) => {
      await survives('perl', () => [path.join(here, 'echo.pl'), String(N)], 'P', { launchArgs });
    });
  });

  describe.skipIf(!has('javac'))('java', () => {
    it.each(MODES)('a ServerSocket, a server thread, a ticking thread and a client (%s)', async (_mode, launchArgs) => {
      await survives('java', (dir) => {
        const built = spawnSync('javac', ['-d', dir, path.join(here, 'Echo.java')], { encoding: 'utf8' });
        expect(built.status, built.stderr).toBe(0);
        return ['-Xmx64m', '-XX:+UseSerialGC', '-cp', dir, 'Echo', String(N)];
      }, 'J', { atLeast: 5, launchArgs, budgetMs: 115_000 });
    }, 120_000);
  });
});
