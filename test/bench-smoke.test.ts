/**
 * bench/vs-dmtcp.sh (issue 12's side-by-side bench) runs at a small size without
 * DMTCP: every row of its table is printed with our figure and the plain-run
 * baseline, and it leaves no process or work folder behind. A benchmark, not a
 * timed test: no figure is judged, only that each was measured.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, killGroup } from './helpers/e2e';
import { tempDir } from './helpers/cli';

const BENCH = path.join(ROOT, 'bench/vs-dmtcp.sh');
const NUMBER = /^\d+\.\d+$/;

/** Every row of the table, with the baseline it is shown against ('' for none). */
const ROWS: [string, string][] = [
  ['checkpoint, gzip, random, 16 MiB', 'gzip -1'],
  ['checkpoint, gzip, text, 16 MiB', 'gzip -1'],
  ['checkpoint, gzip, half, 16 MiB', 'gzip -1'],
  ['checkpoint, raw, random, 16 MiB', 'dd'],
  ['program frozen during a raw checkpoint, 16 MiB', ''],
  ['program frozen during a gzip checkpoint, 16 MiB', ''],
  ['restart to running, raw, random, 16 MiB', 'memcpy'],
  ['restart to running, raw, text, 16 MiB', 'memcpy'],
  ['restart to running, gzip, random, 16 MiB', 'memcpy'],
  ['`dmtcp_launch --new-coordinator` of /bin/true', 'plain /bin/true'],
];

/** Pids whose command line names `dir` (the bench's programs all live under it). */
function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) found.push(Number(p));
    } catch { /* gone meanwhile */ }
  }
  return found;
}

describe('bench/vs-dmtcp.sh --quick', () => {
  it('prints every row with our figure and its baseline, and cleans up', async () => {
    const tmp = tempDir('bench-smoke');
    const child = spawn(BENCH, ['--quick'], {
      cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => killGroup(child), 55_000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(timer);
    try {
      expect(code, `${out}\n${err}`).toBe(0);
      expect(out).toContain('command: bench/vs-dmtcp.sh --quick');
      const cells = new Map(out.split('\n').filter((l) => l.startsWith('| '))
        .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()))
        .map((c) => [c[0], c] as [string, string[]]));
      for (const [label, baseline] of ROWS) {
        const c = cells.get(label);
        expect(c, `row "${label}" in\n${out}\n${err}`).toBeDefined();
        const [, dmtcp, ours, vsDmtcp, base, baseSecs, vsBase] = c!;
        expect(dmtcp).toBe('—');   // no DMTCP given
        expect(vsDmtcp).toBe('');
        expect(ours, label).toMatch(NUMBER);
        expect(base).toBe(baseline);
        if (baseline) {
          expect(baseSecs, label).toMatch(NUMBER);
          expect(vsBase, label).toMatch(NUMBER);
        }
      }
      // its work folder, programs and coordinators are gone
      expect(fs.readdirSync(tmp).filter((f) => f.startsWith('vs-dmtcp.'))).toEqual([]);
      expect(processesUnder(tmp)).toEqual([]);
    } finally {
      killGroup(child);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a bad size with one line and exit code 99', () => {
    const r = spawnSync(BENCH, ['--size', 'lots'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(99);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });
});
