/**
 * End-to-end helpers: build the small C programs under test/programs, run them
 * under dmtcp_launch against a coordinator on port 0, checkpoint, kill, restart.
 * Every process is started in its own process group and ended by that group.
 */
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startCoordinator, CoordinatorHandle } from '../../src/coordinator/server';
import { sendCommand } from '../../src/coordinator/client';
import type { Message } from '../../src/coordinator/codec';

export const ROOT = path.resolve(__dirname, '../..');
export const BIN = path.join(ROOT, 'bin');
const PROGRAMS = path.join(ROOT, 'test', 'programs');
const BUILT = path.join(ROOT, 'test', 'bin');

/** Compile test/programs/<name>.c once (again when the source is newer). */
export function program(name: string, build: { flags?: string[]; as?: string } = {}): string {
  const src = path.join(PROGRAMS, `${name}.c`);
  const out = path.join(BUILT, build.as ?? name);
  fs.mkdirSync(BUILT, { recursive: true });
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-O1', '-g', '-pthread', ...(build.flags ?? []), '-o', tmp, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${name}.c failed:\n${r.stderr}`);
    fs.renameSync(tmp, out);
  }
  return out;
}

/** test/programs/<name>.c built as a plugin (a shared library) against include/, into test/bin/<name>.so. */
export function plugin(name: string): string {
  const src = path.join(PROGRAMS, `${name}.c`);
  const out = path.join(BUILT, `${name}.so`);
  fs.mkdirSync(BUILT, { recursive: true });
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-shared', '-fPIC', '-O1', '-I', path.join(ROOT, 'include'), '-o', tmp, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${name}.c (plugin) failed:\n${r.stderr}`);
    fs.renameSync(tmp, out);
  }
  return out;
}

export class Run {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const parts = (this.partial + d).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.waiters.splice(0).forEach((w) => w());
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        if (this.partial) this.lines.push(this.partial);
        this.partial = '';
        this.waiters.splice(0).forEach((w) => w());
        resolve({ code, signal });
      });
    });
  }

  /** Resolves when some output line satisfies `pred`. */
  async waitFor(pred: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`process ended before the expected line; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out; stdout so far:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }

  kill(): void { killGroup(this.child); }
}

/**
 * Ends the process group of `leader`, a process we spawned with `detached`.
 * Once the leader has exited and been reaped, a live process with its pid is
 * somebody else's: pids come round within one test run here (pid_max 32768),
 * and a stale kill of the group would end another test's processes. A group
 * whose leader is gone keeps its id while any member lives (the kernel hands
 * out no pid that names a live group), so then the kill is still ours.
 */
export function killGroup(leader: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  const pgid = leader.pid;
  if (!pgid) return;
  const exited = leader.exitCode !== null || leader.signalCode !== null;
  if (exited && fs.existsSync(`/proc/${pgid}`)) return;
  try { process.kill(-pgid, signal); } catch { /* already gone */ }
}

export interface Session {
  dir: string;
  coord: CoordinatorHandle;
  port: number;
  runs: Run[];
  launch(prog: string, args?: string[], opts?: { launchArgs?: string[]; env?: NodeJS.ProcessEnv }): Run;
  restart(images: string[], opts?: { args?: string[]; env?: NodeJS.ProcessEnv }): Run;
  command(name: string, value?: number): Promise<Message[]>;
  /** --bcheckpoint; returns the image paths written. */
  checkpoint(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * How a user runs bin/<cmd>: dmtcp_launch as a program (its native fast path
 * when built; test/launch-fast.test.ts), the others under this Node.
 * DMTCP_TEST_LAUNCH_NODE=1 runs dmtcp_launch under Node too.
 */
export function commandLine(cmd: string, args: string[]): [string, string[]] {
  if (cmd === 'dmtcp_launch' && process.env.DMTCP_TEST_LAUNCH_NODE !== '1') return [path.join(BIN, cmd), args];
  return [process.execPath, [path.join(BIN, cmd), ...args]];
}

function spawnRun(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Run {
  const child = spawn(...commandLine(cmd, args), {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  return new Run(child);
}

export async function session(): Promise<Session> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-e2e-'));
  const coord = await startCoordinator({ port: 0, ckptDir: dir, log: () => {} });
  const runs: Run[] = [];
  const s: Session = {
    dir, coord, port: coord.port, runs,
    launch(prog, args = [], opts = {}) {
      const r = spawnRun('dmtcp_launch', ['-p', String(coord.port), '-j', '--ckptdir', dir, ...(opts.launchArgs ?? []), prog, ...args], dir, opts.env);
      runs.push(r);
      return r;
    },
    restart(images, opts = {}) {
      const r = spawnRun('dmtcp_restart', ['-p', String(coord.port), '-j', ...(opts.args ?? []), ...images], dir, opts.env);
      runs.push(r);
      return r;
    },
    async command(name, value) {
      const reply = await sendCommand('127.0.0.1', coord.port, name, value);
      if (!reply.ok) throw new Error(`${name} failed: ${reply.reason ?? reply.lines.join(' ')}`);
      return reply.lines;
    },
    async checkpoint() {
      const lines = await s.command('bcheckpoint');
      const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
      if (images.length === 0) throw new Error(`bcheckpoint wrote no image: ${lines.join(' | ')}`);
      return images;
    },
    async close() {
      for (const r of runs) r.kill();
      await Promise.all(runs.map((r) => Promise.race([r.exited, new Promise((res) => setTimeout(res, 2000))])));
      await coord.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return s;
}

/** Parse integers printed one per line by a counter-style program. */
export function numbers(lines: string[]): number[] {
  return lines.filter((l) => /^\d+$/.test(l)).map(Number);
}

export async function waitUntil(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
