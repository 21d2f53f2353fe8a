import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { startCoordinator, CoordinatorHandle, sendCommand, probeCoordinator, StartOptions, barrierTimeoutFromEnv } from '../src/coordinator';
import { decodeMessage, encodeMessage } from '../src/coordinator/codec';
import { FakeAgent, FakeAgentOptions } from './helpers/fake-agent';

let tmp: string;
let coord: CoordinatorHandle | undefined;
const agents: FakeAgent[] = [];

async function start(opts: StartOptions = {}): Promise<CoordinatorHandle> {
  coord = await startCoordinator({ port: 0, ckptDir: tmp, ...opts });
  return coord;
}

async function agent(opts: Partial<FakeAgentOptions> = {}): Promise<FakeAgent> {
  const a = await FakeAgent.connect({ port: coord!.port, imageDir: tmp, writeImage: true, ...opts });
  agents.push(a);
  return a;
}

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-coord-'));
});

afterEach(async () => {
  agents.splice(0).forEach((a) => a.close());
  if (coord) await coord.close();
  coord = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('codec', () => {
  it('round-trips percent-encoded values', () => {
    const line = encodeMessage('REACHED', { name: 'CHECKPOINT', image: '/tmp/a b=c%\nd\r' });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    const m = decodeMessage(line.slice(0, -1))!;
    expect(m).toEqual({ verb: 'REACHED', fields: { name: 'CHECKPOINT', image: '/tmp/a b=c%\nd\r' } });
  });
});

describe('coordinator', () => {
  it('listens on a free port, writes the port file, answers status', async () => {
    const portFile = path.join(tmp, 'port');
    const c = await start({ portFile });
    expect(c.port).toBeGreaterThan(0);
    expect(fs.readFileSync(portFile, 'utf8')).toBe(`${c.port}\n`);
    expect(await probeCoordinator(c.host, c.port)).toBe(true);
    const r = await sendCommand(c.host, c.port, 'status');
    expect(r.ok).toBe(true);
    expect(r.lines[0].verb).toBe('STATUS');
    expect(r.lines[0].fields).toMatchObject({ num_peers: '0', running: 'no', interval: '0', port: String(c.port) });
  });

  it('says no coordinator on a closed port', async () => {
    const c = await start();
    const port = c.port;
    await c.close();
    coord = undefined;
    expect(await probeCoordinator('127.0.0.1', port, 500)).toBe(false);
    await expect(sendCommand('127.0.0.1', port, 'status')).rejects.toThrow(`no coordinator at 127.0.0.1:${port}`);
  });

  it('welcomes agents with unique ids and keeps a restarted one', async () => {
    await start({ interval: 9 });
    const a = await agent({ pid: 1234, hostname: 'h1' });
    const b = await agent({ pid: 1234, hostname: 'h1' });
    expect(a.id).toMatch(/^[0-9a-f]{8}-1234-[0-9a-f]+$/);
    expect(b.id).not.toBe(a.id);
    expect(a.interval).toBe(9);
    const r = await agent({ id: 'abc-77-1', restart: true, gen: 3 });
    expect(r.id).toBe('abc-77-1');
    expect(r.gen).toBe(3);
    await expect(agent({ id: 'abc-77-1', restart: true })).rejects.toThrow(/duplicate-id/);
    const list = await sendCommand(coord!.host, coord!.port, 'list');
    expect(list.lines.map((l) => l.fields.id)).toEqual([a.id, b.id, 'abc-77-1']);
    expect(list.lines[0].fields).toMatchObject({ prog: 'a.out', pid: '1234', host: 'h1', state: 'RUNNING' });
  });

  it('refuses a wrong version and answers unknown verbs', async () => {
    const c = await start();
    const net = await import('net');
    const talk = (lines: string) => new Promise<string>((resolve) => {
      const s = net.createConnection({ host: c.host, port: c.port }, () => s.write(lines));
      let out = '';
      s.on('data', (d) => { out += d; if (out.includes('\n')) { s.destroy(); resolve(out); } });
    });
    expect(await talk('HELLO v=2 role=agent\n')).toMatch(/^ERROR reason=version/);
    expect(await talk('HELLO v=1 role=command\nFROB x=1\n')).toMatch(/^ERROR reason=unknown-verb/);
  });

  it('checkpoints two agents and writes the restart script (versioned + symlink, 0755)', async () => {
    const c = await start();
    const a = await agent({ prog: 'prog one' });
    const b = await agent({ prog: 'b.out' });
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(true);
    for (const x of [a, b]) expect(x.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
    const images = r.lines.filter((l) => l.verb === 'IMAGE').map((l) => l.fields.path);
    expect(images.sort()).toEqual([...a.images, ...b.images].sort());
    for (const img of images) expect(fs.existsSync(img)).toBe(true);

    const stable = path.join(tmp, 'dmtcp_restart_script.sh');
    const link = fs.readlinkSync(stable);
    expect(link).toBe(`dmtcp_restart_script_${a.id}.sh`);
    const versioned = path.join(tmp, link);
    expect(r.lines.find((l) => l.verb === 'SCRIPT')!.fields.path).toBe(versioned);
    expect(fs.statSync(versioned).mode & 0o777).toBe(0o755);
    const text = fs.readFileSync(stable, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain(path.resolve(__dirname, '../bin/dmtcp_restart'));
    expect(text).toContain(`'${a.images[0]}'`);
    expect(text).toContain(`'${b.images[0]}'`);
    expect(text).toContain(`coord_port=\${DMTCP_COORD_PORT:-\${DMTCP_PORT:-${c.port}}}`);
    expect(text).toContain(`coord_host=\${DMTCP_COORD_HOST:-\${DMTCP_HOST:-'127.0.0.1'}}`);
    // The computation generation went up and everyone runs again.
    const s = await sendCommand(c.host, c.port, 'status');
    expect(s.lines[0].fields).toMatchObject({ gen: '1', running: 'yes', num_peers: '2' });
  });

  it('the restart script runs dmtcp_restart with the recorded address, env and options overriding', async () => {
    const c = await start();
    await agent({ prog: 'x' });
    const fakeRestart = path.join(tmp, 'fake_restart.sh');
    fs.writeFileSync(fakeRestart, '#!/bin/sh\nfor a do echo "[$a]"; done\n', { mode: 0o755 });
    const { renderRestartScript } = await import('../src/coordinator/restart-script');
    const script = path.join(tmp, 's.sh');
    fs.writeFileSync(script, renderRestartScript({
      dir: tmp, compId: 'c', gen: 1, host: 'localhost', port: 7001, restartBin: fakeRestart,
      images: [{ id: 'i', prog: 'p', host: os.hostname(), path: '/imgs/ckpt p.dmtcp' }],
    }), { mode: 0o755 });
    const { execFileSync } = await import('child_process');
    const run = (args: string[], env: Record<string, string> = {}) =>
      execFileSync('/bin/sh', [script, ...args], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    expect(run([])).toBe('[--coord-host]\n[localhost]\n[--coord-port]\n[7001]\n[/imgs/ckpt p.dmtcp]\n');
    expect(run([], { DMTCP_PORT: '8000', DMTCP_HOST: 'nodeA' })).toContain('[nodeA]\n[--coord-port]\n[8000]');
    expect(run(['-p', '9', '--restartdir', '/new dir', '-i', '5'])).toBe(
      '[--coord-host]\n[localhost]\n[--coord-port]\n[9]\n[--interval]\n[5]\n[/new dir/ckpt p.dmtcp]\n');
    expect(run(['--help'])).toMatch(/--restartdir DIR/);
    // the computation's interval comes back with it, unless told otherwise (as DMTCP's script)
    fs.writeFileSync(script, renderRestartScript({
      dir: tmp, compId: 'c', gen: 1, host: 'localhost', port: 7001, restartBin: fakeRestart, interval: 7,
      images: [{ id: 'i', prog: 'p', host: os.hostname(), path: '/imgs/a.dmtcp' }],
    }), { mode: 0o755 });
    expect(run([])).toBe('[--coord-host]\n[localhost]\n[--coord-port]\n[7001]\n[--interval]\n[7]\n[/imgs/a.dmtcp]\n');
    expect(run([], { DMTCP_CHECKPOINT_INTERVAL: '3' })).toContain('[--interval]\n[3]\n');
    expect(run(['-i', '0'])).toContain('[--interval]\n[0]\n');
  });

  it('bcheckpoint waits for every image; checkpoint returns once started', async () => {
    const c = await start();
    const slow = await agent({ delayMs: { CHECKPOINT: 400 } });
    const t0 = Date.now();
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(r.ok).toBe(true);
    expect(slow.images).toHaveLength(1);

    const t1 = Date.now();
    const r2 = await sendCommand(c.host, c.port, 'checkpoint');
    expect(r2.ok).toBe(true);
    expect(Date.now() - t1).toBeLessThan(350);
    const busy = await sendCommand(c.host, c.port, 'checkpoint');
    expect(busy.ok).toBe(false);
    expect(busy.reason).toMatch(/already in progress/);
    await slow.waitFor(() => slow.barriers.length === 10, 5000, 'second checkpoint');
  });

  it('a connection that has not said HELLO yet holds SUSPEND, and joins the checkpoint when it does', async () => {
    const c = await start();
    const a = await agent();
    const child = agent({ helloDelayMs: 400 });   // a forked child, its HELLO not read yet
    await new Promise((r) => setTimeout(r, 100));
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    const b = await child;
    expect(r.ok).toBe(true);
    expect(r.lines.filter((l) => l.verb === 'IMAGE')).toHaveLength(2);
    expect(b.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
    expect(a.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
  });

  it('an EXEC keeps the peer, renames it, and sends the barrier it waits for again, and its id when asked', async () => {
    const c = await start();
    const a = await agent({ behavior: { SUSPEND: 'hang' } });
    const pending = sendCommand(c.host, c.port, 'checkpoint');
    await a.waitFor(() => a.barriers.includes('SUSPEND'));
    a.send('EXEC', { prog: 'sort', pid: 1, rpid: 2 });
    await a.waitFor(() => a.barriers.filter((x) => x === 'SUSPEND').length === 2);
    // an agent that knows its id is told nothing more: one that exits at once leaves nothing unread
    expect(a.received.filter((m) => m.verb === 'WELCOME').map((m) => m.fields.id)).toEqual([a.id]);
    a.send('EXEC', { prog: 'uniq', pid: 1, rpid: 2, welcome: 1 });
    await a.waitFor(() => a.received.filter((m) => m.verb === 'WELCOME').length === 2);
    expect(a.received.filter((m) => m.verb === 'WELCOME').map((m) => m.fields.id)).toEqual([a.id, a.id]);
    await a.waitFor(() => a.barriers.filter((x) => x === 'SUSPEND').length === 3);
    const list = await sendCommand(c.host, c.port, 'list');
    expect(list.lines.find((l) => l.verb === 'PEER')!.fields.prog).toBe('uniq');
    expect((await pending).ok).toBe(true);
  });

  it('an agent connecting mid-checkpoint is not part of it', async () => {
    const c = await start();
    const slow = await agent({ delayMs: { CHECKPOINT: 300 } });
    const pending = sendCommand(c.host, c.port, 'bcheckpoint');
    await slow.waitFor(() => slow.barriers.includes('CHECKPOINT'));
    const late = await agent();
    const r = await pending;
    expect(r.ok).toBe(true);
    expect(r.lines.filter((l) => l.verb === 'IMAGE')).toHaveLength(1);
    expect(late.barriers).toEqual([]);
    expect(slow.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
  });

  it('checkpoint with no processes is an error', async () => {
    const c = await start();
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r).toMatchObject({ ok: false, reason: 'no processes connected to the coordinator' });
  });

  it('kill sends KILL to every agent; kcheckpoint checkpoints then kills', async () => {
    const c = await start();
    const a = await agent();
    const b = await agent();
    const r = await sendCommand(c.host, c.port, 'kill');
    expect(r.lines[0]).toMatchObject({ verb: 'KILLED', fields: { count: '2' } });
    await a.waitFor(() => a.killed);
    await b.waitFor(() => b.killed);

    const d = await agent();
    const k = await sendCommand(c.host, c.port, 'kcheckpoint');
    expect(k.ok).toBe(true);
    expect(k.lines.some((l) => l.verb === 'IMAGE')).toBe(true);
    await d.waitFor(() => d.killed);
    expect(d.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT']);
  });

  it('kill and kcheckpoint answer once the processes are gone, so a restart right after finds none', async () => {
    const c = await start();
    await agent({ killDelayMs: 300 });
    await agent({ killDelayMs: 150 });
    const r = await sendCommand(c.host, c.port, 'kill');
    expect(r.lines[0]).toMatchObject({ verb: 'KILLED', fields: { count: '2' } });
    expect((await sendCommand(c.host, c.port, 'list')).lines.filter((l) => l.verb === 'PEER')).toEqual([]);

    await agent({ killDelayMs: 300 });
    const k = await sendCommand(c.host, c.port, 'kcheckpoint');
    expect(k.ok).toBe(true);
    expect((await sendCommand(c.host, c.port, 'list')).lines.filter((l) => l.verb === 'PEER')).toEqual([]);
  });

  it('an agent disconnecting mid-checkpoint is dropped and the rest finish', async () => {
    const c = await start();
    const a = await agent();
    const gone = await agent({ behavior: { CHECKPOINT: 'disconnect' } });
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(true);
    expect(r.lines.filter((l) => l.verb === 'IMAGE').map((l) => l.fields.path)).toEqual(a.images);
    expect(r.lines.find((l) => l.verb === 'DROPPED')!.fields.id).toBe(gone.id);
    expect(a.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
    const text = fs.readFileSync(path.join(tmp, 'dmtcp_restart_script.sh'), 'utf8');
    expect(text).not.toContain(gone.id + '.dmtcp');
  });

  it('a FAILED barrier fails the checkpoint and resumes the others', async () => {
    const c = await start();
    const a = await agent();
    await agent({ behavior: { CHECKPOINT: 'fail' } });
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/barrier CHECKPOINT failed: .*fake failure at CHECKPOINT/);
    expect(a.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
    expect(fs.existsSync(path.join(tmp, 'dmtcp_restart_script.sh'))).toBe(false);
    const s = await sendCommand(c.host, c.port, 'status');
    expect(s.lines[0].fields.gen).toBe('0');
  });

  it('a hung agent times the barrier out, the others resume', async () => {
    const c = await start({ barrierTimeoutMs: 300 });
    const a = await agent();
    const h = await agent({ behavior: { SUSPEND: 'hang' } });
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(new RegExp(`barrier SUSPEND timed out after 0.3 s waiting for a.out\\[\\d+\\] \\(${h.id}\\)`));
    expect(a.barriers).toEqual(['SUSPEND', 'RESUME']);
    expect(h.barriers).toEqual(['SUSPEND', 'RESUME']);
  });

  it('REACHED CHECKPOINT without an image fails the checkpoint', async () => {
    const c = await start();
    const a = await agent({ behavior: { CHECKPOINT: 'hang' } });
    const pending = sendCommand(c.host, c.port, 'bcheckpoint');
    await a.waitFor(() => a.barriers.includes('CHECKPOINT'));
    a.send('REACHED', { name: 'CHECKPOINT' });
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/reported no image/);
    expect(a.barriers).toEqual(['SUSPEND', 'ELECT', 'DRAIN', 'CHECKPOINT', 'RESUME']);
  });

  it('DMTCP_BARRIER_TIMEOUT sets the barrier timeout', () => {
    expect(barrierTimeoutFromEnv({})).toBe(120_000);
    expect(barrierTimeoutFromEnv({ DMTCP_BARRIER_TIMEOUT: '5' })).toBe(5000);
    expect(barrierTimeoutFromEnv({ DMTCP_BARRIER_TIMEOUT: 'junk' })).toBe(120_000);
  });

  it('interval command and automatic checkpoints', async () => {
    const c = await start();
    const a = await agent();
    const r = await sendCommand(c.host, c.port, 'interval', 1);
    expect(r.lines[0]).toMatchObject({ verb: 'INTERVAL', fields: { value: '1' } });
    await a.waitFor(() => a.barriers.includes('RESUME'), 5000, 'an automatic checkpoint');
    await sendCommand(c.host, c.port, 'interval', 0);
    const s = await sendCommand(c.host, c.port, 'status');
    expect(s.lines[0].fields.interval).toBe('0');
    expect((await sendCommand(c.host, c.port, 'interval')).ok).toBe(false);
  });

  it('--exit-on-last stops when the last agent leaves; quit kills and stops', async () => {
    const c = await start({ exitOnLast: true });
    const a = await agent();
    a.close();
    expect(await c.closed).toMatch(/exit-on-last/);
    coord = undefined;

    const c2 = await start();
    const b = await agent();
    const q = await sendCommand(c2.host, c2.port, 'quit');
    expect(q.ok).toBe(true);
    await b.waitFor(() => b.killed);
    expect(await c2.closed).toBe('quit');
    coord = undefined;
  });

  for (const name of ['kill', 'kcheckpoint'] as const) {
    it(`--exit-on-last: ${name} is answered before the coordinator stops`, async () => {
      const c = await start({ exitOnLast: true });
      await agent();
      const r = await sendCommand(c.host, c.port, name);
      expect(r.ok, r.reason).toBe(true);
      expect(r.lines.find((l) => l.verb === 'KILLED')?.fields.count).toBe('1');
      expect(await c.closed).toMatch(/exit-on-last/);
      coord = undefined;
    });
  }

  it('unknown commands get DONE status=error', async () => {
    const c = await start();
    const r = await sendCommand(c.host, c.port, 'frob');
    expect(r).toMatchObject({ ok: false, reason: "unknown command 'frob'" });
  });
});

describe('children told of by FORKED (src/coordinator/expected.ts)', () => {
  // A real process stands for the child: /proc must show it under its parent (us).
  const child = () => spawn('sleep', ['30'], { stdio: 'ignore' });
  const here = os.hostname();

  it('a checkpoint waits for a told child to connect, and counts it', async () => {
    const c = await start();
    const p = await agent({ prog: 'parent', rpid: process.pid, hostname: here });
    const kid = child();
    try {
      p.send('FORKED', { pid: kid.pid! });
      await new Promise((r) => setTimeout(r, 50));
      const done = sendCommand(c.host, c.port, 'bcheckpoint');
      await new Promise((r) => setTimeout(r, 300));   // SUSPEND answered by the parent, still held
      expect(c.coordinator.status().barrier).toBe('SUSPEND');
      await agent({ prog: 'child', pid: kid.pid!, rpid: kid.pid!, ppid: process.pid, hostname: here });
      const r = await done;
      expect(r.ok).toBe(true);
      expect(r.lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.prog).sort()).toEqual(['child', 'parent']);
    } finally {
      kid.kill('SIGKILL');
    }
  });

  it('a told child that ends before it connects holds no checkpoint up', async () => {
    const c = await start();
    const p = await agent({ prog: 'parent', rpid: process.pid, hostname: here });
    const kid = child();
    p.send('FORKED', { pid: kid.pid! });
    kid.kill('SIGKILL');
    await new Promise((r) => kid.once('exit', r));   // reaped: gone from /proc
    const t0 = Date.now();
    const r = await sendCommand(c.host, c.port, 'bcheckpoint');
    expect(r.ok).toBe(true);
    expect(r.lines.filter((m) => m.verb === 'IMAGE')).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(1000);   // the give-up time is 2 s
  });

  it('kill ends a told child too, when it connects', async () => {
    const c = await start();
    const p = await agent({ prog: 'parent', rpid: process.pid, hostname: here, killDelayMs: 0 });
    const kid = child();
    try {
      p.send('FORKED', { pid: kid.pid! });
      await new Promise((r) => setTimeout(r, 50));
      const killing = sendCommand(c.host, c.port, 'kill');
      await p.waitFor(() => p.killed, 2000, 'KILL to the parent');
      const k = await agent({ prog: 'child', pid: kid.pid!, rpid: kid.pid!, ppid: process.pid, hostname: here });
      await k.waitFor(() => k.killed, 2000, 'KILL to the child');
      const r = await killing;
      expect(r.lines.find((m) => m.verb === 'KILLED')?.fields.count).toBe('2');
    } finally {
      kid.kill('SIGKILL');
    }
  });
});
