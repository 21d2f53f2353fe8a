/**
 * Find the coordinator a command should talk to, or start one, following the
 * coordinator mode: any (join one if it answers, else start one), join (fail if
 * none answers), new (fail if one answers; start one, port 0 = any free port).
 */
import * as path from 'path';
import * as dns from 'dns';
import * as net from 'net';
import { probeCoordinator, sendCommand } from '../coordinator/client';
import { spawnDaemon, spawnDaemonOnListener } from '../coordinator/daemon';
import { writeFileAtomic } from '../coordinator/atomic-file';
import { DEFAULT_BIND } from '../options/coordinator';
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
  /** Start it without waiting for it: its listening socket made here (dmtcp_launch). */
  early?: boolean;
}

export interface CoordinatorFound {
  host: string;
  port: number;
  /** A numeric address for the agent (which may not resolve names after a restart). */
  address: string;
  started: boolean;
  /** Started on a socket made here, not waited for: the agent need not wait for its answer either. */
  early?: boolean;
}

const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0']);

export class CoordinatorError extends Error {
  /** failRcFor: a coordinator that answers where none should exits rc+1. */
  constructor(message: string, readonly rcOffset = 0) { super(message); }
}

/** The coordinator binds IPv4 loopback by default; `localhost` may resolve to ::1 first. */
async function numericAddress(host: string): Promise<string> {
  // no resolver round (a few ms on the launch path) for what needs none
  if (net.isIP(host)) return host;
  if (host === 'localhost') return '127.0.0.1';
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
    if (wish.early) {
      const found = await startEarly(args, wish);
      if (found) return found;
    }
    const d = await spawnDaemon(args);
    return { host: wish.host, port: d.port, address: await numericAddress(wish.host), started: true };
  } catch (e) {
    throw new CoordinatorError(`${cmd}: cannot start a coordinator on port ${wish.port}: ${(e as Error).message}`);
  }
}

/** The fd under a listening net.Server (libuv's handle keeps it). */
function serverFd(server: net.Server): number | undefined {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The coordinator's listening socket made here, where it would bind it, and
 * the daemon started on it without waiting for its Node start-up: the port
 * is known at once, and whoever connects waits in the socket's queue until
 * the coordinator accepts. undefined: the port is taken (the daemon's own
 * bind says why) or the socket cannot be handed over.
 */
async function startEarly(args: string[], wish: CoordinatorWish): Promise<CoordinatorFound | undefined> {
  const server = net.createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(wish.port, DEFAULT_BIND, () => resolve(true));
  });
  const fd = bound ? serverFd(server) : undefined;
  if (fd === undefined) {
    if (bound) server.close();
    return undefined;
  }
  const port = (server.address() as net.AddressInfo).port;
  try {
    // before the daemon: a port file that cannot be written leaves nothing running
    if (wish.portFile) await writeFileAtomic(path.resolve(wish.portFile), `${port}\n`);
    spawnDaemonOnListener(args, fd);
  } finally {
    server.close();   // the daemon holds the socket now
  }
  return { host: wish.host, port, address: await numericAddress(wish.host), started: true, early: true };
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
