/**
 * The coordinator's TCP server: accepts agents and commands (docs/protocol.md),
 * hands agents to the Coordinator state and commands to runCommand.
 */
import { writeFileAtomic } from './atomic-file';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { DEFAULT_BARRIER_TIMEOUT_S } from './barrier';
import { decodeMessage, encodeMessage, LineSplitter, Message, PROTOCOL_VERSION } from './codec';
import { makeReply, runCommand } from './commands';
import { Coordinator } from './core';
import { Agent } from './registry';

export const DEFAULT_BIND_ADDRESS = '127.0.0.1';

export interface StartOptions {
  /** 0 (the default here) = any free port; read it back from the handle. */
  port?: number;
  bind?: string;
  /** Where dmtcp_restart_script.sh goes (default: cwd). */
  ckptDir?: string;
  interval?: number;
  exitOnLast?: boolean;
  exitAfterCkpt?: boolean;
  /** Written (atomically) with the port once listening. */
  portFile?: string;
  /** A listening socket to take instead of binding one (made by dmtcp_launch). */
  listenFd?: number;
  /** Default: DMTCP_BARRIER_TIMEOUT seconds, else 120 s. */
  barrierTimeoutMs?: number;
  /** dmtcp_restart used by the restart script (default: our bin/dmtcp_restart). */
  restartBin?: string;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface CoordinatorHandle {
  /** Address to connect to. */
  host: string;
  port: number;
  coordinator: Coordinator;
  /** Resolves with the reason once the coordinator has stopped (quit, --exit-on-last, close()). */
  closed: Promise<string>;
  close(): Promise<void>;
}

export function barrierTimeoutFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.DMTCP_BARRIER_TIMEOUT;
  const s = raw !== undefined && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : DEFAULT_BARRIER_TIMEOUT_S;
  return Math.max(1, Math.round(s * 1000));
}

export async function startCoordinator(opts: StartOptions = {}): Promise<CoordinatorHandle> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const bind = opts.bind ?? DEFAULT_BIND_ADDRESS;
  const sockets = new Set<net.Socket>();
  let resolveClosed!: (why: string) => void;
  const closed = new Promise<string>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;

  const server = net.createServer();
  const shutdown = (why: string): Promise<void> => {
    if (closing) return closing;
    closing = new Promise<void>((resolve) => {
      coord.stop();
      // Let queued replies (DONE of quit) flush before the sockets go.
      for (const s of sockets) s.end();
      const force = setTimeout(() => { for (const s of sockets) s.destroy(); }, 500);
      force.unref();
      local.close();
      server.close(() => {
        clearTimeout(force);
        log(`exiting: ${why}`);
        resolveClosed(why);
        resolve();
      });
    });
    return closing;
  };

  const coord = new Coordinator({
    bind,
    ckptDir: path.resolve(opts.ckptDir ?? '.'),
    interval: opts.interval ?? 0,
    exitOnLast: !!opts.exitOnLast,
    exitAfterCkpt: !!opts.exitAfterCkpt,
    barrierTimeoutMs: opts.barrierTimeoutMs ?? barrierTimeoutFromEnv(env),
    restartBin: opts.restartBin,
    log,
    onShutdown: (why) => void shutdown(why),
  });

  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    handleConnection(coord, socket, () => sockets.delete(socket));
  };
  server.on('connection', onConnection);
  // Agents on this host reach us through a Unix socket too (native/agent/core/coord_link.c):
  // a connection and each message cost less than through loopback TCP.
  const local = net.createServer();
  local.on('connection', onConnection);
  local.on('error', () => {});   // without it agents use TCP, as agents on other hosts do

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(new Error(e.code === 'EADDRINUSE'
        ? `port ${opts.port ?? 0} is already in use on ${bind} (is another coordinator running?)`
        : `cannot listen on ${bind}:${opts.port ?? 0}: ${e.message}`));
    };
    server.once('error', onError);
    const listening = () => { server.off('error', onError); resolve(); };
    if (opts.listenFd !== undefined) server.listen({ fd: opts.listenFd }, listening);
    else server.listen(opts.port ?? 0, bind, listening);
  });
  const port = (server.address() as net.AddressInfo).port;
  coord.port = port;
  local.listen(localSocketName(port));
  if (opts.portFile) {
    try {
      await writeFileAtomic(path.resolve(opts.portFile), `${port}\n`);
    } catch (e) {
      await shutdown('could not write the port file');
      throw new Error(`cannot write port file ${opts.portFile}: ${(e as Error).message}`);
    }
  }
  // 0.0.0.0 / :: listen everywhere; connect through loopback.
  const host = bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;
  return { host, port, coordinator: coord, closed, close: () => shutdown('closed') };
}

/** The abstract Unix socket name (Linux: a leading NUL, no file) beside TCP port `port`. */
export function localSocketName(port: number): string {
  return `\0dmtcp-coordinator-${port}`;
}

function handleConnection(coord: Coordinator, socket: net.Socket, forget: () => void): void {
  let role: 'none' | 'agent' | 'command' = 'none';
  const identified = coord.connectionOpened();
  let agent: Agent | undefined;
  let queue: Promise<void> = Promise.resolve();
  const send = (line: string) => {
    if (!socket.destroyed && socket.writable) socket.write(line);
  };
  const refuse = (reason: string) => {
    splitter.stop();
    send(encodeMessage('ERROR', { reason }));
    socket.end();
  };

  const onMessage = (m: Message) => {
    identified();
    if (role === 'none') {
      if (m.verb !== 'HELLO') return refuse('expected-hello');
      if (m.fields.v !== String(PROTOCOL_VERSION)) return refuse('version');
      if (m.fields.role === 'agent') {
        const r = coord.hello(m, socket, send);
        if (!r.ok) return refuse(r.reason);
        role = 'agent';
        agent = r.agent;
      } else if (m.fields.role === 'command') {
        role = 'command';
      } else {
        return refuse('role');
      }
      return;
    }
    if (role === 'agent') {
      if (!coord.agentMessage(agent!, m)) send(encodeMessage('ERROR', { reason: 'unknown-verb' }));
      return;
    }
    if (m.verb !== 'CMD') {
      send(encodeMessage('ERROR', { reason: 'unknown-verb' }));
      return;
    }
    // Commands on one connection run one after the other, each ending with DONE.
    queue = queue.then(() => coord.answering(() => runCommand(coord, m, makeReply(send)))).catch((e) => {
      send(encodeMessage('DONE', { status: 'error', reason: `internal error: ${(e as Error).message}` }));
    });
  };

  const splitter = new LineSplitter(
    (line) => {
      const m = decodeMessage(line);
      if (m) onMessage(m);
    },
    () => socket.destroy(),
  );
  socket.on('data', (chunk) => splitter.push(chunk));
  socket.on('error', () => {}); // 'close' follows; a reset peer is an ordinary disconnect
  socket.on('close', () => {
    identified();
    splitter.stop();
    forget();
    if (agent) coord.agentGone(agent);
  });
}
