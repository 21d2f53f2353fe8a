/**
 * Helpers for the command-line tests: run a bin/ command as a user would (its
 * own process group, so it and anything it leaves behind can be ended by group),
 * find free ports, poll ports, and list what is still alive in a process group.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { BIN, commandLine, killGroup, Run } from './e2e';

export { killGroup };

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The pid of the command's process (for dmtcp_launch: the program's pid too). */
  pid: number;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** The absolute path of bin/<cmd>. */
export function bin(cmd: string): string {
  return path.join(BIN, cmd);
}

/**
 * Run bin/<cmd> to its end and collect its output. On timeout the whole process
 * group is killed and the promise rejects.
 */
export function runCli(cmd: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawn(...commandLine(cmd, args), {
    cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`${cmd} ${args.join(' ')} timed out; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, pid: child.pid! });
    });
  });
}

/** Start bin/<cmd> in its own process group; the caller ends it with run.kill(). */
export function startCli(cmd: string, args: string[], opts: CliOptions = {}): Run {
  const child = spawn(...commandLine(cmd, args), {
    cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  return new Run(child);
}

/** The non-empty lines of a stream's text. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}


/** Pids still alive (not zombies) in process group `pgid`. */
export function aliveInGroup(pgid: number): number[] {
  const r = spawnSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return r.stdout.split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number(f[1]) === pgid && !f[2].startsWith('Z'))
    .map((f) => Number(f[0]));
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function portOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (v: boolean) => { sock.destroy(); resolve(v); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls until nothing listens on the port any more; false on timeout. */
export async function waitPortClosed(port: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await portOpen(port))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A fresh temporary directory; remove it with fs.rmSync(dir, {recursive, force}). */
export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dmtcp-${tag}-`));
}

/**
 * Best effort: ask a coordinator (one a test may have left behind on `port`)
 * to kill its processes and quit. Resolves whatever happens.
 */
export async function quitCoordinator(port: number): Promise<void> {
  if (!(await portOpen(port))) return;
  await runCli('dmtcp_command', ['-p', String(port), '-q'], { timeoutMs: 10_000 }).catch(() => undefined);
  await waitPortClosed(port, 5000);
}
