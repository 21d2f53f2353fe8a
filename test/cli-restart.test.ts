/**
 * dmtcp_restart as a user runs it: damaged, foreign and missing images and bad
 * flags give exit 99 with one line naming the file and leave nothing running;
 * the generated dmtcp_restart_script.sh restarts the program.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { numbers, program, Run, session, Session } from './helpers/e2e';
import {
  aliveInGroup, freePort, lines, portOpen, quitCoordinator, runCli, waitPortClosed,
} from './helpers/cli';
import { openImage } from '../dist/image/decode.js';

let s: Session;
/** A real gzip image and a real raw image of test/programs/counter.c. */
let gzImage: string;
let rawImage: string;
let printedBeforeCkpt: number;

beforeAll(async () => {
  s = await session();
  const run = s.launch(program('counter'), ['100000']);
  await run.waitFor((l) => l === '3');
  [gzImage] = await s.checkpoint();
  printedBeforeCkpt = numbers(run.lines).at(-1)!;
  await s.command('kill');
  await run.exited;
  // A raw one from a second run, kept under another name (same program, new id).
  const run2 = s.launch(program('counter'), ['100000'], { launchArgs: ['--no-gzip'] });
  await run2.waitFor((l) => l === '2');
  [rawImage] = await s.checkpoint();
  await s.command('kill');
  await run2.exited;
  expect(gzImage).not.toBe(rawImage);
});
afterAll(async () => { await s?.close(); });

interface Outcome { code: number | null; stdout: string; stderr: string; pid: number }

/** Exit 99, exactly one line on stderr (naming `file` when given), nothing left in its group. */
async function expectCleanFailure(r: Outcome, file?: string): Promise<string> {
  expect(r.code, r.stderr).toBe(99);
  const errs = lines(r.stderr);
  expect(errs, r.stderr).toHaveLength(1);
  expect(errs[0].startsWith('dmtcp_restart: ')).toBe(true);
  if (file) expect(errs[0]).toContain(file);
  expect(aliveInGroup(r.pid)).toEqual([]);
  // nobody joined the session's coordinator
  const st = await s.command('status');
  expect(String(st.find((m) => m.verb === 'STATUS')?.fields.num_peers)).toBe('0');
  return errs[0];
}

function copy(src: string, name: string): string {
  const dst = path.join(s.dir, name);
  fs.copyFileSync(src, dst);
  return dst;
}

/** A copy of `image` with one byte flipped in the middle of a page-data chunk. */
function flipped(image: string, name: string): string {
  const im = openImage(image);
  const c = im.chunks[Math.floor(im.chunks.length / 2)];
  im.close();
  const b = fs.readFileSync(image);
  b[c.fileOffset + Math.floor(c.storedLen / 2)] ^= 0xff;
  const dst = path.join(s.dir, name);
  fs.writeFileSync(dst, b, { mode: 0o600 });
  return dst;
}

describe('bad images and bad flags: exit 99, one line, nothing left running', () => {
  const join = () => ['-p', String(s.port), '-j'];

  it('a missing image', async () => {
    const file = path.join(s.dir, 'ckpt_nothing_here.dmtcp');
    await expectCleanFailure(await runCli('dmtcp_restart', [...join(), file]), file);
  });

  it('a truncated image', async () => {
    const file = path.join(s.dir, 'truncated.dmtcp');
    fs.writeFileSync(file, fs.readFileSync(gzImage).subarray(0, 5000));
    await expectCleanFailure(await runCli('dmtcp_restart', [...join(), file]), file);
    const rawFile = path.join(s.dir, 'truncated-raw.dmtcp');
    const raw = fs.readFileSync(rawImage);
    fs.writeFileSync(rawFile, raw.subarray(0, raw.length - 100));
    await expectCleanFailure(await runCli('dmtcp_restart', [...join(), rawFile]), rawFile);
  });

  it('a foreign file (a copy of /bin/ls)', async () => {
    const file = copy('/bin/ls', 'ls.dmtcp');
    await expectCleanFailure(await runCli('dmtcp_restart', [...join(), file]), file);
  });

  it('an empty file', async () => {
    const file = path.join(s.dir, 'empty.dmtcp');
    fs.writeFileSync(file, '');
    await expectCleanFailure(await runCli('dmtcp_restart', [...join(), file]), file);
  });

  it('an image with one flipped byte in its page data (gzip and raw)', async () => {
    for (const [img, name] of [[gzImage, 'flipped-gz.dmtcp'], [rawImage, 'flipped-raw.dmtcp']]) {
      const file = flipped(img, name);
      await expectCleanFailure(await runCli('dmtcp_restart', [...join(), file]), file);
    }
  });

  it('a flipped byte with no coordinator there: the coordinator it started is gone again', async () => {
    const port = await freePort();
    const file = flipped(gzImage, 'flipped-auto.dmtcp');
    try {
      await expectCleanFailure(await runCli('dmtcp_restart', ['-p', String(port), file]), file);
      expect(await waitPortClosed(port)).toBe(true);
    } finally {
      await quitCoordinator(port);
    }
  });

  it('a missing image with no coordinator there starts none', async () => {
    const port = await freePort();
    const file = path.join(s.dir, 'ckpt_gone.dmtcp');
    await expectCleanFailure(await runCli('dmtcp_restart', ['-p', String(port), file]), file);
    expect(await portOpen(port)).toBe(false);
  });

  it('no image at all', async () => {
    await expectCleanFailure(await runCli('dmtcp_restart', []));
    await expectCleanFailure(await runCli('dmtcp_restart', join()));
  });

  it('a bad flag', async () => {
    const msg = await expectCleanFailure(await runCli('dmtcp_restart', ['--frob', gzImage]));
    expect(msg).toContain('--frob');
    await expectCleanFailure(await runCli('dmtcp_restart', ['--port', 'abc', gzImage]));
  });

  it('--help exits 0 with the usage', async () => {
    const r = await runCli('dmtcp_restart', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dmtcp_restart /);
    expect(r.stderr).toBe('');
  });
});

describe('dmtcp_restart_script.sh', () => {
  it('is written next to the image and restarts the program with sh', async () => {
    const script = path.join(s.dir, 'dmtcp_restart_script.sh');
    expect(fs.existsSync(script)).toBe(true);
    const text = fs.readFileSync(script, 'utf8');
    expect(text.startsWith('#!/bin/sh')).toBe(true);
    // The last checkpoint was the raw image's: the script names it by absolute path.
    expect(text).toContain(rawImage);
    // Run it as written: the raw image's counter continues.
    const child = spawn('sh', [script], { cwd: s.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const run = new Run(child);
    s.runs.push(run);
    const seen = await run.waitFor((l) => /^\d+$/.test(l));
    // counter.c took the raw image at 2 or a little later: it continues from there,
    // never from 1.
    expect(Number(seen)).toBeGreaterThan(2);
    expect(Number(seen)).toBeLessThan(50);
    const first = Number(seen);
    await run.waitFor((l) => l === String(first + 3));
    expect(numbers(run.lines).slice(0, 4)).toEqual([first, first + 1, first + 2, first + 3]);
    // the script execs dmtcp_restart, which execs the restorer: the program is sh's pid
    const list = await s.command('list');
    expect(list.filter((m) => m.verb === 'PEER')).toHaveLength(1);
    await s.command('kill');
    await run.exited;
    expect(aliveInGroup(child.pid!)).toEqual([]);
  });

  it('--ckptdir that does not exist yet is made, with its parents, and the next checkpoint lands there', async () => {
    const dir = path.join(s.dir, 'not', 'yet', 'there');
    const r = s.restart([gzImage], { args: ['--ckptdir', dir] });
    await r.waitFor((l) => /^\d+$/.test(l));
    const lines = await s.command('bcheckpoint');
    const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
    expect(images).toHaveLength(1);
    expect(path.dirname(images[0])).toBe(dir);
    expect(fs.existsSync(images[0])).toBe(true);
    await s.command('kill');
    await r.exited;
  });

  it('dmtcp_launch --ckptdir that does not exist yet is made, with its parents, and the first checkpoint lands there', async () => {
    const dir = path.join(s.dir, 'launch', 'not', 'yet');
    const r = s.launch(program('counter'), ['100000'], { launchArgs: ['--ckptdir', dir] });
    await r.waitFor((l) => /^\d+$/.test(l));
    const lines = await s.command('bcheckpoint');
    const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
    expect(images).toHaveLength(1);
    expect(path.dirname(images[0])).toBe(dir);
    expect(fs.existsSync(images[0])).toBe(true);
    await s.command('kill');
    await r.exited;
  });

  it('dmtcp_restart continues the gzip image where it was checkpointed', async () => {
    const r = s.restart([gzImage]);
    const seen = Number(await r.waitFor((l) => /^\d+$/.test(l)));
    expect(seen).toBeGreaterThan(1);
    expect(seen).toBeLessThanOrEqual(printedBeforeCkpt + 1);
    await s.command('kill');
    await r.exited;
  });
});
