/**
 * What must survive a checkpoint and restart, one small self-checking C program
 * per kind of state (test/programs). Each program prints "DONE ok" only if every
 * check it made before and after the restart passed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { BIN, program, session, Session, Run } from './helpers/e2e';
import { readImageMeta } from '../dist/image/decode.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

/** Launch, wait for `tick <at>`, --kcheckpoint, restart; returns both runs. */
async function checkpointKillRestart(
  name: string, args: string[], at: number, opts: { launchArgs?: string[]; generations?: number } = {},
): Promise<{ runs: Run[]; image: string }> {
  s = await session();
  const runs: Run[] = [s.launch(program(name), args, { launchArgs: opts.launchArgs })];
  let image = '';
  for (let g = 0; g < (opts.generations ?? 1); g++) {
    const run = runs[runs.length - 1];
    const target = at * (g + 1);
    await run.waitFor((l) => l.startsWith(`tick ${target}`) || l.startsWith('tick ' + String(target) + ' '));
    const reply = await s.command('kcheckpoint');
    const img = reply.find((m) => m.verb === 'IMAGE');
    expect(img, `no image in ${JSON.stringify(reply)}`).toBeTruthy();
    image = img!.fields.path;
    await run.exited;
    runs.push(s.restart([image]));
  }
  await runs[runs.length - 1].exited;
  return { runs, image };
}

function lastLine(r: Run): string { return r.lines[r.lines.length - 1] ?? ''; }

describe('state that survives a restart', () => {
  it('8 threads: counters, buffers, TLS, errno, mutex/condvar, detached, join, pthread_kill (two generations)', async () => {
    const { runs } = await checkpointKillRestart('threads', ['30'], 8, { generations: 2 });
    const last = runs[runs.length - 1];
    expect(last.stderr).toBe('');
    expect(lastLine(last)).toMatch(/^DONE ok/);
    // ticks continue without a gap or repeat across both restarts
    const ticks = runs.flatMap((r) => r.lines).filter((l) => l.startsWith('tick ')).map((l) => Number(l.split(' ')[1]));
    expect(ticks).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('signal handlers, altstack, blocked mask and a pending signal', async () => {
    const { runs } = await checkpointKillRestart('signals', ['30'], 10);
    expect(lastLine(runs[1])).toMatch(/^DONE ok/);
    expect(runs[1].lines[0]).toBe('tick 11 usr1 11'); // each tick raises one SIGUSR1 first
  });

  it('pid, ppid, tid, kill/tgkill on them, cwd, umask, env, rlimits, clocks, rseq', async () => {
    s = await session();
    const sub = path.join(s.dir, 'work dir');
    fs.mkdirSync(sub);
    const run1 = s.launch(program('process'), ['30', sub]);
    const pidLine = await run1.waitFor((l) => l.startsWith('pid '));
    expect(Number(pidLine.split(' ')[1])).toBe(run1.child.pid); // dmtcp_launch execs: same pid
    await run1.waitFor((l) => l === 'tick 10');
    await s.command('kcheckpoint');
    await run1.exited;
    const image = fs.readdirSync(s.dir).find((f) => f.startsWith('ckpt_process_'))!;
    const run2 = s.restart([path.join(s.dir, image)]);
    await run2.exited;
    expect(run2.stderr).toBe('');
    expect(lastLine(run2)).toBe('DONE ok');
    expect(run2.child.pid).not.toBe(run1.child.pid); // and yet the program saw its old pid
  });

  it('open files: offsets, O_APPEND, FD_CLOEXEC, read-only reopen, a deleted file (two generations)', async () => {
    const { runs } = await checkpointKillRestart('files', ['30'], 8, { generations: 2 });
    const last = runs[runs.length - 1];
    expect(last.stderr).toBe('');
    expect(lastLine(last)).toBe('DONE ok');
    // the deleted scratch file stays deleted: nothing left under its name
    expect(fs.readdirSync(s!.dir).filter((f) => f.startsWith('scratch'))).toEqual([]);
  });

  it('256 MiB of heap and mmap, a guard page, a 64 GiB sparse reservation, file mappings (raw image)', async () => {
    const { runs, image } = await checkpointKillRestart('memory', ['12'], 6, { launchArgs: ['--no-gzip'] });
    expect(runs[1].stderr).toBe('');
    expect(lastLine(runs[1])).toBe('DONE ok');
    // zero pages are not stored: the image holds the 256 MiB of data, not the 64 GiB reservation
    const size = fs.statSync(image).size;
    expect(size).toBeGreaterThan(256 * 2 ** 20);
    expect(size).toBeLessThan(320 * 2 ** 20);
    // written the direct way: the agent put its pages into the file itself (docs/encoder-service.md)
    expect(readImageMeta(image).image?.pageData).toBe('direct');
  });

  it('touched zero pages ahead of dense data (raw image: direct, then inline)', async () => {
    const { runs, image } = await checkpointKillRestart('zeropages', ['16'], 6, { launchArgs: ['--no-gzip'] });
    expect(runs[1].stderr).toBe('');
    expect(lastLine(runs[1])).toBe('DONE ok');
    expect(readImageMeta(image).image?.pageData).toBe('direct');
    const table = spawnSync(process.execPath, [path.join(BIN, 'readdmtcp'), image], { encoding: 'utf8' });
    expect(table.stdout).toMatch(/^host: .* written: \S+ \(resident encoder, pages written by the process\)$/m);
  });

  it('keeps the program\'s SIGUSR2 working with --mtcp-checkpoint-signal', async () => {
    const { runs } = await checkpointKillRestart('usr2', ['30'], 10, { launchArgs: ['--mtcp-checkpoint-signal', '10'] });
    expect(runs[1].stderr).toBe('');
    expect(lastLine(runs[1])).toMatch(/^DONE ok/);
  });

  it('children forked after a restart see the pid their parent believes it has', async () => {
    const { runs } = await checkpointKillRestart('forker', ['25'], 8);
    expect(runs[1].stderr).toBe('');
    expect(lastLine(runs[1])).toBe('DONE ok');
  });
});
