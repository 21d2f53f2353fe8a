/**
 * Client side of the command protocol, used by dmtcp_command, and by dmtcp_launch /
 * dmtcp_restart to find a coordinator.
 */
import * as net from 'net';
import { decodeMessage, encodeMessage, LineSplitter, Message, PROTOCOL_VERSION } from './codec';

/** How long to wait for a TCP connection to a coordinator. */
export const CONNECT_TIMEOUT_MS = 3000;
/** probeCoordinator's whole budget: connect, HELLO, status. */
export const PROBE_TIMEOUT_MS = 1500;

export interface CommandReply {
  ok: boolean;
  reason?: string;
  /** Reply lines before DONE (STATUS, PEER, IMAGE, ...). */
  lines: Message[];
  done: Message;
}

/** No coordinator answered at host:port (refused, unreachable, timed out, not ours). */
export class NoCoordinatorError extends Error {
  constructor(readonly host: string, readonly port: number, readonly detail: string) {
    super(`no coordinator at ${host}:${port} (${detail})`);
    this.name = 'NoCoordinatorError';
  }
}

export interface SendOptions {
  connectTimeoutMs?: number;
  /** Whole-command limit; default none (bcheckpoint may take as long as the images). */
  timeoutMs?: number;
}

export function sendCommand(host: string, port: number, name: string, value?: number, opts: SendOptions = {}): Promise<CommandReply> {
  return new Promise((resolve, reject) => {
    const lines: Message[] = [];
    let settled = false;
    let connected = false;
    const socket = net.createConnection({ host, port });
    const timers: NodeJS.Timeout[] = [];
    const finish = (err: Error | undefined, reply?: CommandReply) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      splitter.stop();
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    timers.push(setTimeout(() => {
      if (!connected) finish(new NoCoordinatorError(host, port, 'connection timed out'));
    }, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS));
    if (opts.timeoutMs !== undefined) {
      timers.push(setTimeout(() => finish(new NoCoordinatorError(host, port, `no reply to '${name}' within ${opts.timeoutMs} ms`)), opts.timeoutMs));
    }
    const splitter = new LineSplitter((line) => {
      const m = decodeMessage(line);
      if (!m) return;
      if (m.verb === 'DONE') {
        finish(undefined, { ok: m.fields.status === 'ok', reason: m.fields.reason, lines, done: m });
      } else if (m.verb === 'ERROR') {
        finish(new Error(`coordinator at ${host}:${port} refused the command (${m.fields.reason ?? 'no reason'})`));
      } else {
        lines.push(m);
      }
    }, () => finish(new NoCoordinatorError(host, port, 'reply line too long; not a dmtcp coordinator?')));
    socket.on('connect', () => {
      connected = true;
      socket.setNoDelay(true);
      socket.write(encodeMessage('HELLO', { v: PROTOCOL_VERSION, role: 'command' }));
      socket.write(encodeMessage('CMD', { name, value }));
    });
    socket.on('data', (chunk) => splitter.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      finish(connected ? new Error(`lost the coordinator at ${host}:${port} (${e.code ?? e.message})`)
        : new NoCoordinatorError(host, port, e.code ?? e.message));
    });
    socket.on('close', () => {
      finish(connected ? new Error(`the coordinator at ${host}:${port} closed the connection before answering '${name}'`)
        : new NoCoordinatorError(host, port, 'connection closed'));
    });
  });
}

/** True when a dmtcp coordinator answers `status` at host:port within timeoutMs. */
export async function probeCoordinator(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const r = await sendCommand(host, port, 'status', undefined, { connectTimeoutMs: timeoutMs, timeoutMs });
    return r.ok && r.lines.some((l) => l.verb === 'STATUS');
  } catch {
    return false;
  }
}
