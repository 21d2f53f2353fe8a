/**
 * dmtcp_launch --no-coordinator (issue 10): no coordinator process; the
 * process checkpoints itself when sent the checkpoint signal (kill -USR2), at
 * its own --interval, or when it calls dmtcp_checkpoint(); its images go to
 * the checkpoint folder, and dmtcp_restart brings it back without a
 * coordinator too. The programs check their own state (test/programs).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { program, Run, session, waitUntil } from './helpers/e2e';
import { startCli, tempDir } from './helpers/cli';
import { oneTo } from './helpers/tree';
import { readImageMeta } from '../dist/image/decode.js';

const INCLUDE = path.join(__dirname, '..', 'include');
const runs: Run[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function start(cmd: string, args: string[], dir: string, env: NodeJS.ProcessEnv = {}): Run {
  const r = startCli(cmd, args, { cwd: dir, env });
  runs.push(r);
  return r;
}

function images(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /^ckpt_.*\.dmtcp$/.test(f)).map((f) => path.join(dir, f));
}

/** The image of generation `gen` (written whole: the encoder renames it into place). */
async function imageOf(dir: string, gen: number): Promise<string> {
  let found = '';
  await waitUntil(() => {
    found = images(dir).find((f) => { try { return readImageMeta(f).generation === gen; } catch { return false; } }) ?? '';
    return found !== '';
  });
  return found;
}

const numbers = (r: Run): number[] => r.lines.filter((l) => /^\d+$/.test(l)).map(Number);

/** Whether the process's environment names a coordinator. */
function environ(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

/** Two cycles of: (once the run printed `more` numbers since) SIGUSR2, its image,
 * kill, dmtcp_restart of that image with no coordinator option; the last run. */
async function twoSignalRestarts(dir: string, run: Run, more = 0): Promise<Run> {
  for (let gen = 1; gen <= 2; gen++) {
    const seen = numbers(run).length;
    await waitUntil(() => numbers(run).length >= seen + more);
    process.kill(run.child.pid!, 'SIGUSR2');
    const image = await imageOf(dir, gen);
    run.kill();
    await run.exited;
    run = start('dmtcp_restart', [image], dir);
    await waitUntil(() => numbers(run).length >= 1);
  }
  return run;
}

describe('--no-coordinator', () => {
  it('kill -USR2 checkpoints the process; it restarts without a coordinator and counts on, twice', async () => {
    const dir = tempDir('solo'); dirs.push(dir);
    const counter = program('counter');
    let run = start('dmtcp_launch', ['--no-coordinator', counter, '120'], dir);
    await waitUntil(() => numbers(run).length >= 5);
    const env = environ(run.child.pid!);
    expect(env).toContain('DMTCP_NO_COORDINATOR=1');
    expect(env.some((v) => v.startsWith('DMTCP_COORD_PORT='))).toBe(false);
    for (let gen = 1; gen <= 2; gen++) {
      process.kill(run.child.pid!, 'SIGUSR2');
      const image = await imageOf(dir, gen);
      expect(readImageMeta(image).noCoordinator).toBe(true);
      const seen = numbers(run).length;
      await waitUntil(() => numbers(run).length > seen + 3);   // the program goes on after its checkpoint
      run.kill();
      await run.exited;
      expect(run.stderr).not.toMatch(/coordinator/);
      // no coordinator option: the image says it had none, so none is started or asked for
      run = start('dmtcp_restart', [image], dir);
      await waitUntil(() => numbers(run).length >= 3);
    }
    const end = await run.exited;
    expect(run.stderr).toBe('');
    expect(run.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(end).toEqual({ code: 0, signal: null });
    const last = numbers(run);
    // the second restart went on from its checkpoint to the end, without a gap
    expect(last).toEqual(oneTo(120).slice(last[0] - 1));
  });

  it('python3 counts on after two checkpoint/kill/restart cycles', async () => {
    const dir = tempDir('solo-py'); dirs.push(dir);
    // its state: the count and a running sum that must agree
    const script = 'import time\ntotal = 0\nfor i in range(1, 61):\n    total += i\n    assert total == i * (i + 1) // 2\n    print(i, flush=True)\n    time.sleep(0.05)\nprint("SUM", total, flush=True)\n';
    const first = start('dmtcp_launch', ['--no-coordinator', '/usr/bin/python3', '-c', script], dir);
    await waitUntil(() => numbers(first).length >= 5);
    const run = await twoSignalRestarts(dir, first);
    const end = await run.exited;
    expect(run.stderr).toBe('');
    expect(end).toEqual({ code: 0, signal: null });
    expect(run.lines[run.lines.length - 1]).toBe('SUM 1830');
    const last = numbers(run);
    expect(last).toEqual(oneTo(60).slice(last[0] - 1));
  });

  it('a restarted shell that execs keeps its pid in the new program (its identity crosses the exec), twice', async () => {
    const dir = tempDir('solo-exec'); dirs.push(dir);
    const script = 'echo PID $$; i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i; sleep 0.1; done; ' +
      'exec /usr/bin/python3 -c "import os; print(\'NOW\', os.getpid(), flush=True)"';
    const first = start('dmtcp_launch', ['--no-coordinator', '/bin/bash', '-c', script], dir);
    await waitUntil(() => numbers(first).length >= 5);
    const pid = first.lines.find((l) => l.startsWith('PID '))!.slice(4);
    const run = await twoSignalRestarts(dir, first, 2);
    const end = await run.exited;
    expect(run.stderr).toBe('');
    expect(end).toEqual({ code: 0, signal: null });
    expect(run.lines.at(-1)).toBe(`NOW ${pid}`);
  });

  it('dmtcp_checkpoint() and a critical section work without a coordinator; the restarted process sees DMTCP_AFTER_RESTART', async () => {
    const dir = tempDir('solo-api'); dirs.push(dir);
    const apiuser = program('apiuser', { flags: ['-I', INCLUDE] });
    const run = start('dmtcp_launch', ['--no-coordinator', apiuser], dir);
    await run.waitFor((l) => l === 'CRIT start');
    // asked for inside the critical section: it must come only after it
    process.kill(run.child.pid!, 'SIGUSR2');
    const file = (await run.waitFor((l) => l.startsWith('FILE ') || l.startsWith('CORRUPT'))).slice(5);
    expect(run.lines.filter((l) => l.startsWith('CORRUPT')), run.stderr).toEqual([]);
    expect(run.lines).toContain('ENABLED-CKPT');
    expect(run.lines).toContain('STATUS peers 1');
    run.kill();
    await run.exited;
    const back = start('dmtcp_restart', [file], dir);
    const end = await back.exited;
    expect(back.lines, back.stderr).toEqual(['RESTARTED']);
    expect(end).toEqual({ code: 0, signal: null });
  });

  it('dmtcp_global_barrier returns at once, with nothing said: the computation is this process', async () => {
    const dir = tempDir('solo-barrier'); dirs.push(dir);
    const src = path.join(dir, 'b.c');
    fs.writeFileSync(src, '#include <stdio.h>\n#include <dmtcp.h>\nint main(void) { dmtcp_global_barrier("x"); printf("PAST %d\\n", dmtcp_is_enabled()); return 0; }\n');
    const bin = path.join(dir, 'b');
    const cc = spawnSync('gcc', ['-I', INCLUDE, '-o', bin, src], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const run = start('dmtcp_launch', ['--no-coordinator', bin], dir);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.lines).toEqual(['PAST 1']);
    expect(run.stderr).toBe('');
  });

  it('--interval checkpoints on the process\'s own timer (DMTCP_NO_COORDINATOR=1 is the same switch)', async () => {
    const dir = tempDir('solo-interval'); dirs.push(dir);
    const run = start('dmtcp_launch', ['-i', '1', program('counter'), '400'], dir, { DMTCP_NO_COORDINATOR: '1' });
    const image = await imageOf(dir, 2);
    expect(readImageMeta(image).noCoordinator).toBe(true);
    expect(run.stderr).toBe('');
    run.kill();
  });

  it('refuses to restart several processes without a coordinator: one line, exit 99', async () => {
    const s = await session();
    try {
      const run = s.launch(program('forkcount'), ['200']);
      await waitUntil(() => run.lines.filter((l) => l.startsWith('C ')).length >= 3);
      const made = await s.checkpoint();
      expect(made).toHaveLength(2);
      const again = start('dmtcp_restart', ['--no-coordinator', ...made], s.dir);
      const end = await again.exited;
      expect(end.code).toBe(99);
      expect(again.stderr.trim().split('\n')).toHaveLength(1);
      expect(again.stderr).toMatch(/2 processes cannot restart without a coordinator/);
    } finally {
      await s.close();
    }
  });
});
