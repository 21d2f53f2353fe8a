/**
 * --daemon: the coordinator re-spawns itself detached, stdio on /dev/null, and the
 * parent exits 0 once the child listens. The child reports over an IPC channel
 * (its stderr goes nowhere, so a failure must travel that way too).
 */
import { spawn } from 'child_process';
import * as path from 'path';

/** Set in the child's environment: "you are the daemon, do not fork again". */
export const DAEMON_CHILD_ENV = 'DMTCP_COORD_DAEMON_CHILD';

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
