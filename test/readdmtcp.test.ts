// readdmtcp as users run it (bin/readdmtcp), on raw and gzip images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openImage } from '../dist/image/decode.js';
import { READDMTCP, buildRawStream, defaultMeta, expectedMemory, runEncoder, sampleAreas } from './helpers/rawstream';

let dir: string;
const areas = sampleAreas();
const p = (n: string) => path.join(dir, n);

function rd(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [READDMTCP, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-readdmtcp-'));
  const s = buildRawStream(defaultMeta(), areas);
  expect(runEncoder(s, p('raw.dmtcp'), ['--no-gzip']).status).toBe(0);
  expect(runEncoder(s, p('gz.dmtcp'), ['--gzip']).status).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.each(['raw.dmtcp', 'gz.dmtcp'])('%s', (name) => {
  it('prints header, process, threads, fds and the area table', () => {
    const r = rd(p(name));
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('program:  a.out');
    expect(r.stdout).toMatch(/pid 123 ppid 100 pgid 123 sid 100 uid 1000/);
    expect(r.stdout).toContain(`compression ${name === 'gz.dmtcp' ? 'gzip' : 'none'}`);
    expect(r.stdout).toContain('tid 124');
    expect(r.stdout).toContain('/tmp/x');
    expect(r.stdout).toMatch(/555555559000-555555685000 rw-p .*\[heap\]/);
    expect(r.stdout).toMatch(/7ffff7fc5000-7ffff7fc7000 r-xp .*\[vdso\]/);
  });
  it('--json is one document with schema_version and byte accounting', () => {
    const r = rd('--json', p(name));
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema_version).toBe(1);
    expect(doc.meta.uniqueId).toBe('7f3a9c-123-1763800000');
    expect(doc.areas).toHaveLength(areas.length);
    const heap = doc.areas[1];
    expect(heap.name).toBe('[heap]');
    expect(heap.size).toBe(300 * 4096);
    expect(heap.stored).toBe(8 * 4096);
    expect(heap.zero).toBe(292 * 4096);
  });
  it('--areas, --fds, --env, --threads print only their part', () => {
    expect(rd('--areas', p(name)).stdout).not.toContain('program:');
    expect(rd('--fds', p(name)).stdout).toMatch(/^fds \(2\):/);
    expect(rd('--env', p(name)).stdout).toBe('HOME=/root\nPATH=/usr/bin\n');
    expect(rd('--threads', p(name)).stdout).toMatch(/^threads \(2\):\n {2}tid 123/);
  });
  it('--verify passes an intact image and names a flipped byte', () => {
    const ok = rd('--verify', p(name));
    expect(ok.status).toBe(0);
    const im = openImage(p(name));
    const c = im.chunks[2];
    const a = im.areas[c.area];
    im.close();
    const bad = p('flipped-' + name);
    const b = fs.readFileSync(p(name));
    b[c.fileOffset + 50] ^= 0xff;
    fs.writeFileSync(bad, b);
    const r = rd('--verify', bad);
    expect(r.status).toBe(99);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`chunk 2 of area 0x${a.start.toString(16)}-0x${a.end.toString(16)} (file offset ${c.fileOffset})`);
  });
  it('--extract writes the memory at an address', () => {
    const h = areas[1];
    const out = p('x-' + name);
    const r = rd('--extract', '0x' + h.start.toString(16), String(2 * 4096 + 10), '-o', out, p(name));
    expect(r.status).toBe(0);
    expect(Buffer.compare(fs.readFileSync(out), expectedMemory(h).subarray(0, 2 * 4096 + 10))).toBe(0);
  });
});

describe('bad input', () => {
  it('truncated, foreign and missing files: one line naming the file, exit 99', () => {
    const whole = fs.readFileSync(p('gz.dmtcp'));
    fs.writeFileSync(p('trunc.dmtcp'), whole.subarray(0, whole.length - 10));
    fs.writeFileSync(p('foreign.dmtcp'), Buffer.from('\x7fELF' + '\0'.repeat(200), 'latin1'));
    for (const f of ['trunc.dmtcp', 'foreign.dmtcp', 'missing.dmtcp']) {
      const r = rd(p(f));
      expect(r.status).toBe(99);
      expect(r.stderr).toMatch(new RegExp(`^readdmtcp: ${p(f).replace(/[.]/g, '\\.')}: [^\\n]+\\n$`));
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    }
  });
  it('--help exits 0; unknown options exit 2', () => {
    const h = rd('--help');
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('--verify');
    expect(rd('--bogus', p('gz.dmtcp')).status).toBe(2);
    expect(rd().status).toBe(2);
  });
});
