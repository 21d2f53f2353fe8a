/**
 * --daemon: the coordinator re-spawns itself detached, stdio on /dev/null, and the
 * parent exits 0 once the child listens. The child reports over an IPC channel
 * (its stderr goes nowhere, so a failure must travel that way too).
 */
import { spawn } from 'child_process';
import * as path from 'path';

/** Set in the child's environment: "you are the daemon, do not fork again". */
export const DAEMON_CHILD_ENV = 'DMTCP_COORD_DAEMON_CHILD';
/** Set with it when the parent made the listening socket: "listen on this fd". */
export const LISTEN_FD_ENV = 'DMTCP_COORD_LISTEN_FD';
/** Where the daemon finds that socket: the fd after stdin, stdout, stderr and the channel. */
const LISTENER_CHILD_FD = 4;

/** The listening socket the parent handed over, if any (in the daemon child). */
export function inheritedListener(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return isDaemonChild(env) && env[LISTEN_FD_ENV] === String(LISTENER_CHILD_FD) ? LISTENER_CHILD_FD : undefined;
}

export type DaemonReport = { listening: { host: string; port: number } } | { error: string };

export function isDaemonChild(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[DAEMON_CHILD_ENV] === '1' && typeof process.send === 'function';
}

/** In the child: tell the parent, then drop the channel so nothing ties us to it. */
export function reportToParent(report: DaemonReport): void {
  if (typeof process.send !== 'function') return;
  process.send(report, () => {
    if (process.connected) process.disconnect();
  });
}

/** In the parent: start the daemon and wait for its first report. */
export function spawnDaemon(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ pid: number; host: string; port: number }> {
  const bin = path.resolve(__dirname, '../../bin/dmtcp_coordinator');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...argv], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: { ...env, [DAEMON_CHILD_ENV]: '1' },
    });
    let done = false;
    child.once('message', (m: DaemonReport) => {
      done = true;
      child.unref();
      if (child.connected) child.disconnect();
      if ('listening' in m) resolve({ pid: child.pid!, ...m.listening });
      else reject(new Error(m.error));
    });
    child.once('error', (e) => { if (!done) { done = true; reject(e); } });
    child.once('exit', (code, sig) => {
      if (!done) { done = true; reject(new Error(`the daemon exited (${sig ?? `code ${code}`}) before listening`)); }
    });
  });
}

/**
 * Start the daemon on a listening socket the caller made (`listenerFd`), and
 * do not wait for it: connections wait in the socket's queue until it
 * accepts them (dmtcp_launch: the program does not wait for the
 * coordinator's start-up). Its report, if any, goes unread.
 */
export function spawnDaemonOnListener(argv: string[], listenerFd: number, env: NodeJS.ProcessEnv = process.env): number {
  const bin = path.resolve(__dirname, '../../bin/dmtcp_coordinator');
  const child = spawn(process.execPath, [bin, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc', listenerFd],
    env: { ...env, [DAEMON_CHILD_ENV]: '1', [LISTEN_FD_ENV]: String(LISTENER_CHILD_FD) },
  });
  child.unref();
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
  return child.pid ?? 0;
}
