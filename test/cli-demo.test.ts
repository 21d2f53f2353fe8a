/**
 * npm run demo (node dist/demo/demo.js): builds a counter, launches, checkpoints,
 * kills and restarts it; the count continues, and nothing is left behind.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers/e2e';
import { aliveInGroup, killGroup, portOpen } from './helpers/cli';

describe('npm run demo', () => {
  it('shows the counter continuing after checkpoint, kill and restart, and cleans up', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/demo/demo.js')], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => killGroup(child), 40_000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(timer);
    expect(code, `${out}\n${err}`).toBe(0);
    expect(err).toBe('');

    const m = /checkpointed at (\d+), killed at (\d+), restarted: (\d+) (\d+) (\d+)/.exec(out);
    expect(m, out).not.toBeNull();
    const [at, killedAt, r1, r2, r3] = m!.slice(1).map(Number);
    expect(at).toBeGreaterThanOrEqual(12);
    expect(killedAt).toBeGreaterThanOrEqual(at);
    expect([r1, r2, r3]).toEqual([at + 1, at + 2, at + 3]);
    expect(out).toContain('DONE 30');

    // its temporary directory, coordinator and processes are gone
    const dir = /dmtcp demo in (\S+)/.exec(out)![1];
    expect(fs.existsSync(dir)).toBe(false);
    const port = Number(/listening on [^:]+:(\d+)/.exec(out)![1]);
    expect(await portOpen(port)).toBe(false);
    expect(aliveInGroup(child.pid!)).toEqual([]);
  });
});
