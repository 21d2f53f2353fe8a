/**
 * Find the coordinator a command should talk to, or start one, following the
 * coordinator mode: any (join one if it answers, else start one), join (fail if
 * none answers), new (fail if one answers; start one, port 0 = any free port).
 */
import * as path from 'path';
import * as dns from 'dns';
import { probeCoordinator, sendCommand } from '../coordinator/client';
import { spawnDaemon } from '../coordinator/daemon';
import type { CoordMode } from '../options/common';
import { RC_COORDINATOR_ALREADY_RUNS } from '../options/errors';

export interface CoordinatorWish {
  host: string;
  port: number;
  coordMode: CoordMode;
  portFile?: string;
  interval?: number;
  /** Where a coordinator we start writes dmtcp_restart_script.sh. */
  ckptDir?: string;
}

export interface CoordinatorFound {
  host: string;
  port: number;
  /** A numeric address for the agent (which may not resolve names after a restart). */
  address: string;
  started: boolean;
}

const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0']);

export class CoordinatorError extends Error {
  /** failRcFor: a coordinator that answers where none should exits rc+1. */
  constructor(message: string, readonly rcOffset = 0) { super(message); }
}

/** The coordinator binds IPv4 loopback by default; `localhost` may resolve to ::1 first. */
async function numericAddress(host: string): Promise<string> {
  try {
    return (await dns.promises.lookup(host, { family: 4 })).address;
  } catch {
    return (await dns.promises.lookup(host)).address;
  }
}

export async function findOrStartCoordinator(cmd: string, wish: CoordinatorWish): Promise<CoordinatorFound> {
  const where = `${wish.host}:${wish.port}`;
  if (wish.port !== 0 && (await probeCoordinator(wish.host, wish.port))) {
    if (wish.coordMode === 'new') {
      throw new CoordinatorError(`${cmd}: a coordinator is already running at ${where} (--new-coordinator)`, RC_COORDINATOR_ALREADY_RUNS);
    }
    return { host: wish.host, port: wish.port, address: await numericAddress(wish.host), started: false };
  }
  if (wish.coordMode === 'join') {
    throw new CoordinatorError(`${cmd}: no coordinator answers at ${where} (--join-coordinator)`);
  }
  if (!LOCAL_NAMES.has(wish.host)) {
    throw new CoordinatorError(`${cmd}: no coordinator answers at ${where}, and one can only be started on this host`);
  }
  const args = ['--daemon', '--exit-on-last', '--port', String(wish.port)];
  if (wish.portFile) args.push('--port-file', wish.portFile);
  if (wish.interval !== undefined) args.push('--interval', String(wish.interval));
  if (wish.ckptDir) args.push('--ckptdir', path.resolve(wish.ckptDir));
  try {
    const d = await spawnDaemon(args);
    return { host: wish.host, port: d.port, address: await numericAddress(wish.host), started: true };
  } catch (e) {
    throw new CoordinatorError(`${cmd}: cannot start a coordinator on port ${wish.port}: ${(e as Error).message}`);
  }
}

/**
 * A command that started a coordinator and then failed before its program ran
 * must not leave that coordinator behind: with --exit-on-last and no client it
 * would wait forever. Best effort; errors are swallowed.
 */
export async function quitStartedCoordinator(found: CoordinatorFound | undefined): Promise<void> {
  if (!found || !found.started) return;
  try {
    await sendCommand(found.address, found.port, 'quit');
  } catch { /* already gone */ }
}
