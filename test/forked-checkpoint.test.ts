/**
 * Forked checkpointing (docs/forked-checkpoint.md): the program is frozen only
 * while a copy-on-write child of it is made, and runs on while that child
 * writes the image. test/programs/frozengap.c rewrites its memory in a tight
 * loop, prints "tick <n> gap_us <g> ok|BAD" every 100 ms (its own check of its
 * state) and "frozen_us <g>" for the iteration a checkpoint froze.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, program, Run, session, Session } from './helpers/e2e';
import type { Message } from '../src/coordinator/codec';
import { parseLaunchArgs, UsageError } from '../src/options';
import { agentEnvironment } from '../src/cli/dmtcp_launch';
import { startCoordinator, sendCommand, CoordinatorHandle } from '../src/coordinator';
import { FakeAgent } from './helpers/fake-agent';
import * as os from 'os';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const AUTO = { DMTCP_FORKED_CHECKPOINT: '' };   // unset: the default rule
const MIB = '96';
const BIG_MIB = '256';

const ticks = (r: Run) => r.lines.filter((l) => l.startsWith('tick '));
const tickCount = (line: string) => Number(line.split(' ')[1]);

function verify(image: string): void {
  const r = spawnSync(process.execPath, [path.join(BIN, 'readdmtcp'), '--verify', image], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toContain(': ok');
  expect(r.status).toBe(0);
}

/** -bc; returns its IMAGE lines, and the ticks the program printed meanwhile. */
async function blockingCheckpoint(r: Run): Promise<{ images: Message[]; during: string[]; ms: number }> {
  const before = r.lines.length;
  const t0 = Date.now();
  const lines = await s!.command('bcheckpoint');
  const ms = Date.now() - t0;
  const images = lines.filter((m) => m.verb === 'IMAGE');
  expect(images).toHaveLength(1);
  return { images, during: r.lines.slice(before).filter((l) => l.startsWith('tick ')), ms };
}

/** Ends `r`, restarts from `image`, and checks that the program's state is whole and its count went on from `from`. */
async function killAndRestart(r: Run, image: string, from: number): Promise<Run> {
  await s!.command('kill');
  await r.exited;
  const again = s!.restart([image]);
  await again.waitFor((l) => l.startsWith('tick '), 30_000);
  const first = ticks(again)[0];
  expect(first.endsWith(' ok')).toBe(true);
  expect(tickCount(first)).toBeGreaterThan(from);
  return again;
}

describe('--forked-checkpointing and DMTCP_FORKED_CHECKPOINT', () => {
  const forked = (argv: string[], env: Record<string, string> = {}) => parseLaunchArgs([...argv, 'prog'], env).forked;
  const passed = (argv: string[], env: Record<string, string> = {}) => {
    const list = agentEnvironment(env, parseLaunchArgs([...argv, 'prog'], env), undefined, { agent: '/a.so', encoder: '/e.js' });
    return list.find((e) => e.startsWith('DMTCP_FORKED_CHECKPOINT='));
  };

  it('the flags win over the variable; unset or empty leaves it to the agent (when safe)', () => {
    expect(forked([])).toBeUndefined();
    expect(forked([], { DMTCP_FORKED_CHECKPOINT: '' })).toBeUndefined();
    expect(forked([], { DMTCP_FORKED_CHECKPOINT: '1' })).toBe(true);
    expect(forked([], { DMTCP_FORKED_CHECKPOINT: '0' })).toBe(false);
    expect(forked(['--forked-checkpointing'], { DMTCP_FORKED_CHECKPOINT: '0' })).toBe(true);
    expect(forked(['--no-forked-checkpointing'], { DMTCP_FORKED_CHECKPOINT: '1' })).toBe(false);
    expect(() => forked([], { DMTCP_FORKED_CHECKPOINT: 'yes' })).toThrow(UsageError);
  });

  it('the program gets DMTCP_FORKED_CHECKPOINT=1|0 when asked, none otherwise', () => {
    expect(passed(['--forked-checkpointing'])).toBe('DMTCP_FORKED_CHECKPOINT=1');
    expect(passed([], { DMTCP_FORKED_CHECKPOINT: '0' })).toBe('DMTCP_FORKED_CHECKPOINT=0');
    expect(passed([], { DMTCP_FORKED_CHECKPOINT: '' })).toBeUndefined();
  });
});

describe('the coordinator and forked writers', () => {
  let coord: CoordinatorHandle | undefined;
  let dir = '';
  const fakes: FakeAgent[] = [];
  afterEach(async () => {
    fakes.splice(0).forEach((a) => a.close());
    await coord?.close();
    coord = undefined;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const setup = async (...forked: ({ writeMs: number; fail?: string } | undefined)[]) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-forked-'));
    coord = await startCoordinator({ port: 0, ckptDir: dir, log: () => {} });
    for (const f of forked) fakes.push(await FakeAgent.connect({ port: coord.port, imageDir: dir, writeImage: true, forked: f }));
    return coord;
  };
  const scriptThere = () => fs.existsSync(path.join(dir, 'dmtcp_restart_script.sh'));

  it('sends RESUME before the images are written; -bc and the restart script wait for every WRITTEN', async () => {
    const c = await setup({ writeMs: 600 }, undefined);
    const [writer, plain] = fakes;
    const t0 = Date.now();
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    // the writer's process was resumed before its image was written
    expect(writer.written[0]).toContain('RESUME');
    // the restart script came after the last image
    const script = fs.realpathSync(path.join(dir, 'dmtcp_restart_script.sh'));
    expect(fs.statSync(script).mtimeMs).toBeGreaterThanOrEqual(fs.statSync(writer.images[0]).mtimeMs);
    const images = r.lines.filter((m) => m.verb === 'IMAGE');
    expect(images.find((m) => m.fields.id === writer.id)?.fields.forked).toBe('1');
    expect(images.find((m) => m.fields.id === plain.id)?.fields.forked).toBe('0');
  });

  it('a checkpoint asked for while the images are written starts after them (one at a time)', async () => {
    const c = await setup({ writeMs: 500 });
    const first = sendCommand(c.host, c.port, 'bcheckpoint');
    await fakes[0].waitFor(() => fakes[0].barriers.includes('RESUME'), 5000);
    const second = sendCommand(c.host, c.port, 'bcheckpoint');
    await new Promise((r) => setTimeout(r, 50));
    const third = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(third.ok).toBe(false);
    expect(third.reason).toContain('already in progress');
    const [a, b] = await Promise.all([first, second]);
    expect(a.ok && b.ok).toBe(true);
    expect(fakes[0].written.map((seen) => seen.filter((n) => n === 'SUSPEND').length)).toEqual([1, 2]);
  });

  it('a writer that failed fails the checkpoint with its reason; no restart script', async () => {
    const c = await setup({ writeMs: 100, fail: 'disk full' });
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('disk full');
    expect(scriptThere()).toBe(false);
    expect(fakes[0].barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
  });

  it('kcheckpoint keeps the processes suspended until every image is written, then kills', async () => {
    const c = await setup({ writeMs: 300 });
    const r = await sendCommand(c.host, c.port, 'kcheckpoint');
    expect(r.ok).toBe(true);
    expect(fakes[0].written[0]).not.toContain('RESUME');
    expect(fakes[0].barriers).not.toContain('RESUME');
    expect(fakes[0].killed).toBe(true);
  });
});

describe('forked checkpointing', () => {
  it('-bc returns once the image is whole; the program ran during the write; restart twice', async () => {
    s = await session();
    // Large enough that writing the image outlasts a tick (100 ms) with the fast gzip engine.
    let run = s.launch(program('frozengap'), [BIG_MIB], { launchArgs: ['--forked-checkpointing', '--gzip'] });
    await run.waitFor((l) => l.startsWith('tick '), 30_000);
    for (let cycle = 0; cycle < 2; cycle++) {
      const before = tickCount(ticks(run).at(-1)!);
      const { images, during, ms } = await blockingCheckpoint(run);
      expect(images[0].fields.forked).toBe('1');
      const image = images[0].fields.path;
      // every image on disk, whole, before -bc answered; the restart script after it
      verify(image);
      const script = path.join(s.dir, 'dmtcp_restart_script.sh');
      expect(fs.statSync(script).mtimeMs).toBeGreaterThanOrEqual(fs.statSync(image).mtimeMs);
      // the program went on while its copy wrote: it printed ticks (every 100 ms)
      // during -bc, and the iteration the checkpoint froze was short of the write
      expect(during.length).toBeGreaterThanOrEqual(1);
      // (a restarted program prints one for gen 1 too: the time it did not run)
      const frozen = await run.waitFor((l) => l.startsWith('frozen_us ') && l.endsWith(` gen ${cycle + 1}`));
      expect(Number(frozen.split(' ')[1]) / 1000).toBeLessThan(ms / 2);
      expect(run.lines.filter((l) => l.endsWith(' BAD'))).toEqual([]);
      run = await killAndRestart(run, image, before);
    }
  }, 120_000);

  it('DMTCP_FORKED_CHECKPOINT=0: the program stays frozen until the image is written, and restarts', async () => {
    s = await session();
    const run = s.launch(program('frozengap'), ['16'], { env: { DMTCP_FORKED_CHECKPOINT: '0' } });
    await run.waitFor((l) => l.startsWith('tick '), 30_000);
    const before = tickCount(ticks(run).at(-1)!);
    const { images } = await blockingCheckpoint(run);
    expect(images[0].fields.forked).toBe('0');
    verify(images[0].fields.path);
    await killAndRestart(run, images[0].fields.path, before);
  }, 60_000);

  it('by default it forks when safe, not with writable shared memory, unless asked to', async () => {
    s = await session();
    const plain = s.launch(program('frozengap'), ['8'], { env: AUTO });
    const shared = s.launch(program('frozengap'), ['8', 'shared'], { env: AUTO });
    for (const r of [plain, shared]) await r.waitFor((l) => l.startsWith('tick '), 30_000);
    const peers = (await s.command('list')).filter((m) => m.verb === 'PEER');
    const lines = await s.command('bcheckpoint');
    const forked = (r: Run) => {
      const id = peers.find((m) => Number(m.fields.pid) === r.child.pid)?.fields.id;
      return lines.find((m) => m.verb === 'IMAGE' && m.fields.id === id)?.fields.forked;
    };
    expect(forked(plain)).toBe('1');
    expect(forked(shared)).toBe('0');
    await s.command('kill');
    await Promise.all([plain.exited, shared.exited]);

    const asked = s.launch(program('frozengap'), ['8', 'shared'], { launchArgs: ['--forked-checkpointing'] });
    await asked.waitFor((l) => l.startsWith('tick '), 30_000);
    const { images } = await blockingCheckpoint(asked);
    expect(images[0].fields.forked).toBe('1');
    verify(images[0].fields.path);
  }, 90_000);

  it('-k while the copy writes drops that image and keeps the previous one', async () => {
    s = await session();
    const run = s.launch(program('frozengap'), [MIB], { launchArgs: ['--forked-checkpointing', '--gzip'] });
    await run.waitFor((l) => l.startsWith('tick '), 30_000);
    const { images } = await blockingCheckpoint(run);
    const image = images[0].fields.path;
    const first = fs.readFileSync(image);
    await s.command('checkpoint');   // not blocking: the copy starts writing
    await run.waitFor((l) => l.startsWith('frozen_us ') && l.endsWith(' gen 2'));
    await s.command('kill');
    await run.exited;
    expect(fs.readFileSync(image).equals(first)).toBe(true);
    verify(image);
    // nothing half-written left under another name either
    expect(fs.readdirSync(s.dir).filter((f) => f.startsWith('ckpt_') && f !== path.basename(image))).toEqual([]);
  }, 90_000);
});

describe('MADV_DONTFORK: an area a fork does not copy', () => {
  // By default the agent forks its image writer when safe; a process with such
  // an area (V8 marks many) must still have every checkpoint succeed, whole:
  // through libc's madvise the agent knows beforehand; through the raw system
  // call the writer finds the area missing before the program runs on, and the
  // process writes that image itself.
  it.each(['libc', 'raw'])('%s madvise: every checkpoint succeeds, written by the process, and restarts whole', async (how) => {
    s = await session();
    let run = s.launch(program('dontfork'), [how]);
    await run.waitFor((l) => l.startsWith('tick '), 30_000);
    for (let cycle = 0; cycle < 2; cycle++) {
      const { images } = await blockingCheckpoint(run);
      expect(images[0].fields.forked).toBe('0');
      verify(images[0].fields.path);
      const { images: again } = await blockingCheckpoint(run);
      expect(again[0].fields.forked).toBe('0');
      await s.command('kill');
      await run.exited;
      run = s.restart([again[0].fields.path]);
      const seen = run.lines.length;
      await run.waitFor((l) => l.startsWith('tick ') && run.lines.indexOf(l) >= seen, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(run.lines.filter((l) => l.endsWith(' BAD'))).toEqual([]);
    }
  }, 90_000);
});
