/**
 * The resident encoder (src/service/, docs/encoder-service.md): one per
 * computation, started by dmtcp_launch and dmtcp_restart, used by every
 * checkpoint, gone when the computation is gone; and when it is not there,
 * checkpoints still work through an encoder of their own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, numbers, program, session, Session, waitUntil } from './helpers/e2e';
import { readImageMeta } from '../dist/image/decode.js';
import { ENCODER_WAIT } from '../dist/native/index.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

/** The socket the launched program's agent was given (its environment). */
function socketOf(pid: number): string | undefined {
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  return env.find((e) => e.startsWith('DMTCP_ENCODER_SOCKET='))?.slice('DMTCP_ENCODER_SOCKET='.length);
}

/** The pid of the service listening on `socket` (its command line names the socket). */
function servicePid(socket: string): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string[];
    try { cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (cmd.some((a) => a.endsWith('service-main.js')) && cmd.includes(socket)) return Number(d);
  }
  return undefined;
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const writerOf = (image: string): unknown => readImageMeta(image).image?.writer;

async function counterSession(env: NodeJS.ProcessEnv = {}): Promise<{ run: ReturnType<Session['launch']>; socket?: string }> {
  s = await session();
  const run = s.launch(program('counter'), [], { env });
  await run.waitFor((l) => l === '3');
  const socket = socketOf(run.child.pid!);
  // the service starts beside the program, not before it: its socket may come a little later
  if (socket) await waitUntil(() => fs.existsSync(socket), 10_000);
  return { run, socket };
}

/** One line from the service for a request made by hand. */
function ask(socket: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket, () => c.end(bytes));
    let reply = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { reply += d; });
    c.on('close', () => resolve(reply));
    c.on('error', reject);
  });
}

describe('resident encoder', () => {
  it('writes every checkpoint of a launched program, and quits with it (folder removed)', async () => {
    const { run, socket } = await counterSession();
    expect(socket).toBeTruthy();
    expect(fs.existsSync(socket!)).toBe(true);
    const pid = servicePid(socket!);
    expect(pid).toBeGreaterThan(0);
    // Not a child of the program: a program's wait() must never meet it.
    const ppid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    expect(ppid).not.toBe(run.child.pid);

    for (let i = 0; i < 2; i++) {
      const [image] = await s!.checkpoint();
      expect(writerOf(image)).toBe('resident');
      const table = spawnSync(process.execPath, [path.join(BIN, 'readdmtcp'), image], { encoding: 'utf8' });
      expect(table.stdout).toMatch(/^host: .* written: \S+ \(resident encoder\)$/m);
    }
    expect(servicePid(socket!)).toBe(pid); // the same process, reused

    run.kill();
    await run.exited;
    await waitUntil(() => !alive(pid!), 10_000);
    expect(fs.existsSync(path.dirname(socket!))).toBe(false);
  });

  it('Node starts at the first checkpoint: until then only dmtcp_encoder_wait listens; a program that ends before one never starts it', async () => {
    const program0 = (pid: number): string => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    const { run, socket } = await counterSession();
    const pid = servicePid(socket!)!;
    expect(program0(pid)).toBe(ENCODER_WAIT);
    const [image] = await s!.checkpoint();
    expect(writerOf(image)).toBe('resident');
    expect(program0(pid)).toBe(process.execPath);   // the same process, exec'd
    run.kill();
    await run.exited;
    await s!.close();

    const second = await counterSession();
    const waiter = servicePid(second.socket!)!;
    expect(program0(waiter)).toBe(ENCODER_WAIT);
    second.run.kill();
    await second.run.exited;
    await waitUntil(() => !alive(waiter), 10_000);
    expect(fs.existsSync(path.dirname(second.socket!))).toBe(false);
  });

  it('DMTCP_ENCODER_SERVICE=0: no service; each checkpoint starts its own encoder', async () => {
    const { socket } = await counterSession({ DMTCP_ENCODER_SERVICE: '0' });
    expect(socket).toBeUndefined();
    const [image] = await s!.checkpoint();
    expect(writerOf(image)).toBe('per-checkpoint');
  });

  it('a service that was killed: the next checkpoint starts its own encoder and the program goes on', async () => {
    const { run, socket } = await counterSession();
    const pid = servicePid(socket!)!;
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !alive(pid), 10_000);
    expect(fs.existsSync(socket!)).toBe(true); // a dead socket: connect is refused
    const [image] = await s!.checkpoint();
    expect(writerOf(image)).toBe('per-checkpoint');
    // A killed service cannot remove its folder: we do, as we killed it.
    fs.rmSync(path.dirname(socket!), { recursive: true, force: true });
    const before = Math.max(...numbers(run.lines));
    await run.waitFor((l) => /^\d+$/.test(l) && Number(l) > before + 2);
  });

  it('a service that dies while the agent waits for its answer (raw, direct): the agent starts its own encoder', async () => {
    const { run, socket } = await counterSession({ DMTCP_GZIP: '0' });
    const pid = servicePid(socket!)!;
    // Stopped, it still has its socket: the agent connects, sends its request
    // and the stream's metadata, then waits for "direct" that never comes.
    process.kill(pid, 'SIGSTOP');
    const checkpoint = s!.checkpoint();
    await new Promise((res) => setTimeout(res, 300));
    process.kill(pid, 'SIGKILL');
    const [image] = await checkpoint;
    expect(writerOf(image)).toBe('per-checkpoint');
    expect(readImageMeta(image).image?.compression).toBe('none'); // a raw image: the direct path was the one asked
    expect(readImageMeta(image).image?.pageData).toBeUndefined();
    fs.rmSync(path.dirname(socket!), { recursive: true, force: true }); // we killed it: its folder is ours to remove
    const before = Math.max(...numbers(run.lines));
    await run.waitFor((l) => /^\d+$/.test(l) && Number(l) > before + 2);
  });

  it('after a restart, checkpoints go to the restart\'s own service', async () => {
    const { run, socket } = await counterSession();
    const [image] = await s!.checkpoint();
    run.kill();
    await run.exited;
    await waitUntil(() => !fs.existsSync(socket!), 10_000); // the launch's service is gone
    const again = s!.restart([image]);
    const resumedAt = Math.max(...numbers(run.lines));
    await again.waitFor((l) => /^\d+$/.test(l) && Number(l) > resumedAt + 1);
    const [next] = await s!.checkpoint();
    expect(writerOf(next)).toBe('resident');
    // the restarted counter checks itself and keeps counting after this checkpoint too
    const at = Math.max(...numbers(again.lines));
    await again.waitFor((l) => /^\d+$/.test(l) && Number(l) > at + 1);
  });

  it('answers bad requests with one line and keeps serving', async () => {
    const { socket } = await counterSession();
    expect(await ask(socket!, Buffer.from('GET / HTTP/1.0\r\n\r\n'))).toBe('error: not an encoder request\n');
    expect(await ask(socket!, Buffer.from('DMTCPENC--out\0/tmp/x\0\0'))).toBe('error: request came without its pipe\n');
    const [image] = await s!.checkpoint();
    expect(writerOf(image)).toBe('resident');
  });

  it.each([['gzip', []], ['raw, direct', ['--no-gzip']]] as const)('a checkpoint folder that vanished (%s): one-line reason, the barrier fails, the program goes on', async (_kind, flags) => {
    s = await session();
    const dir = path.join(s.dir, 'gone');
    fs.mkdirSync(dir);
    const run = s.launch(program('counter'), [], { launchArgs: ['--ckptdir', dir, ...flags] });
    await run.waitFor((l) => l === '3');
    const socket = socketOf(run.child.pid!);
    if (socket) await waitUntil(() => fs.existsSync(socket), 10_000);   // the resident encoder's answer is the one checked
    fs.rmSync(dir, { recursive: true });
    await expect(s.checkpoint()).rejects.toThrow(/encoder failed: .*(ENOENT|no such file)/i);
    expect(run.stderr).toMatch(/^dmtcp: the image encoder failed: .*$/m);
    const before = Math.max(...numbers(run.lines));
    await run.waitFor((l) => /^\d+$/.test(l) && Number(l) > before + 2);
  });
});

describe('stale service folders', () => {
  it('the waiter a launch starts removes our old folders whose service is gone, and keeps live, young and foreign ones', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-sweep-'));
    const made = (name: string, pid?: number): string => {
      const dir = path.join(base, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'encoder.sock'), '');
      if (pid !== undefined) fs.writeFileSync(path.join(dir, 'service.pid'), String(pid));
      return dir;
    };
    const age = (dirs: string[], seconds: number): void => {
      const t = new Date(Date.now() - seconds * 1000);
      for (const d of dirs) fs.utimesSync(d, t, t);
    };
    /** dmtcp_encoder_wait for a folder of its own in `base`, its presence pipe at an end at once (/dev/null). */
    const waiter = (): void => {
      const mine = fs.mkdtempSync(path.join(base, 'dmtcp-enc-'));
      const presence = fs.openSync('/dev/null', 'r');
      try {
        const r = spawnSync(ENCODER_WAIT, [path.join(mine, 'encoder.sock'), '/bin/false', 'unused'], { stdio: ['ignore', 'ignore', 'pipe', presence], encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
      } finally { fs.closeSync(presence); }
      expect(fs.existsSync(mine)).toBe(false);   // its own folder goes with it: the computation ended without a checkpoint
    };
    // a pid that is certainly gone: a child that has exited and been reaped
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const dead = made('dmtcp-enc-dead00', gone);
    const nopid = made('dmtcp-enc-nopid0');
    const liveDir = path.join(base, 'dmtcp-enc-live00');
    // a live process whose command line names the socket, as the service's (and its waiter's) does
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', path.join(liveDir, 'encoder.sock')], { stdio: 'ignore' });
    try {
      made('dmtcp-enc-live00', live.pid);
      const other = made('not-ours-dmtcp', gone);
      waiter();                                       // all of them young: nothing goes
      expect(fs.existsSync(dead) && fs.existsSync(nopid)).toBe(true);
      age([dead, nopid, liveDir, other], 120);        // two minutes old
      waiter();
      expect(fs.existsSync(dead)).toBe(false);
      expect(fs.existsSync(nopid)).toBe(false);
      expect(fs.existsSync(liveDir)).toBe(true);
      expect(fs.existsSync(other)).toBe(true);
    } finally {
      live.kill('SIGKILL');
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
