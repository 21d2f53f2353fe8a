/**
 * IP sockets (TCP, UDP, v4 and v6) and Unix sockets with a name, as the root
 * restorer makes them again (native/restorer/sockets.c; one TREE_OBJ_SOCKET
 * object each, native/common/tree_format.h):
 *
 *  - a listening socket: bound to its old name, listening;
 *  - a connection whose two ends are both in the computation: the ends found
 *    each other by their names (IP: one end's own address is the other's
 *    peer) or by peer inodes (Unix); made again between the same names, with
 *    the bytes that waited at each end;
 *  - a connection a listener of the computation had not accepted yet: made
 *    again into that listener's queue, after the listeners; then each
 *    listener gets the backlog its program gave listen();
 *  - a connection to a peer outside the computation: comes back reset, the
 *    program reads ECONNRESET (EOF for Unix), as after a dropped network;
 *  - anything else (UDP, unconnected, a Unix socket never connected): bound
 *    again to its name, a datagram socket connected again to its peer.
 */
import type { FdRecord, Holder, SharedObject } from './shared-fds';

export const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
const SOCK_STREAM = 1, SOCK_SEQPACKET = 5;
export const SOCKET_MODE = { LISTEN: 1, PAIR: 2, DROPPED: 3, PLAIN: 4, PENDING: 5 } as const;
const SOCKADDR_MAX = 112;
const END_SIZE = 248;
const HEAD_SIZE = 16;
export const TREE_SOCKET_SIZE = HEAD_SIZE + 2 * END_SIZE;
const OBJ_SOCKET = 7;

export interface SocketPlanning {
  byKey: Map<string, Holder[]>;
  done: Set<string>;
  objects: SharedObject[];
  place(key: string, object: number, end: number): void;
  /** u32 length and the bytes that waited at this end (empty length when none). */
  waiting(h?: Holder): Buffer;
  readSaved?: (entry: number, addr: bigint, len: number) => Buffer;
}

const connectionOriented = (type: number): boolean => type === SOCK_STREAM || type === SOCK_SEQPACKET;
/** A name longer than the bare address family. */
const named = (hex?: string): boolean => typeof hex === 'string' && hex.length > 4;

/** The sockets this file handles; Unix sockets without a name on either side are socketpairs (shared-fds.ts). */
export function restoredHere(rec: FdRecord, namedUnix: Set<number>): boolean {
  const so = rec.socket;
  if (rec.kind !== 'socket' || !so) return false;
  if (so.domain === AF_INET || so.domain === AF_INET6) return true;
  if (so.domain !== AF_UNIX) return false;
  // a client of a named socket; or one never connected (getpeername had no answer:
  // a socketpair's end always has one, even once its peer closed)
  return named(so.local) || named(so.remote) || (!!so.peer && namedUnix.has(so.peer)) || (so.remote === '' && !so.listening);
}

/** A Unix client whose connection a listener still held, not accepted: the peer, a
 * socket in the listener's queue, has no inode yet; a peer that closed has none
 * either, but then the kernel shut the client's receiving side. */
const RCV_SHUTDOWN = 1;
const unixUnaccepted = (so: NonNullable<FdRecord['socket']>): boolean =>
  so.domain === AF_UNIX && !so.peer && named(so.remote) && !((so.shutdown ?? RCV_SHUTDOWN) & RCV_SHUTDOWN);

/** Inodes of the Unix sockets that have a name. */
export function namedUnixInodes(records: FdRecord[]): Set<number> {
  return new Set(records.filter((r) => r.socket?.domain === AF_UNIX && named(r.socket.local) && typeof r.ino === 'number').map((r) => r.ino!));
}

function writeEnd(b: Buffer, at: number, rec?: FdRecord, peer = false): void {
  const so = rec?.socket;
  if (!so) return;
  const local = Buffer.from(so.local ?? '', 'hex').subarray(0, SOCKADDR_MAX);
  b.writeUInt32LE(local.length, at);
  local.copy(b, at + 4);
  if (peer) {
    const remote = Buffer.from(so.remote ?? '', 'hex').subarray(0, SOCKADDR_MAX);
    b.writeUInt32LE(remote.length, at + 116);
    remote.copy(b, at + 120);
  }
  b.writeUInt32LE(so.opts ?? 0, at + 232);
  // getsockopt reports twice what setsockopt asked for
  b.writeInt32LE(Math.floor((so.rcvbuf ?? 0) / 2), at + 236);
  b.writeInt32LE(Math.floor((so.sndbuf ?? 0) / 2), at + 240);
  b.writeInt32LE(so.listening ? so.backlog ?? -1 : -1, at + 244);
}

function describe(mode: number, end0: FdRecord, end1?: FdRecord, withPeer = false): Buffer {
  const b = Buffer.alloc(TREE_SOCKET_SIZE);
  const so = end0.socket!;
  b.writeUInt32LE(mode, 0);
  b.writeInt32LE(so.domain ?? 0, 4);
  b.writeInt32LE(so.type ?? 0, 8);
  b.writeInt32LE(so.protocol ?? 0, 12);
  writeEnd(b, HEAD_SIZE, end0, mode === SOCKET_MODE.PLAIN || withPeer);
  writeEnd(b, HEAD_SIZE + END_SIZE, end1);
  return b;
}

/** u32 length, then the bytes waiting at `at`'s receive queue and those `from` had not sent yet. */
function inFlight(p: SocketPlanning, at: Holder, from: Holder): Buffer {
  const waiting = p.waiting(at);
  const so = from.rec.socket;
  if (!so?.unsent || !so.unsentAt || !p.readSaved) return waiting;
  const held = p.readSaved(from.entry, BigInt(so.unsentAt), so.unsent);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(waiting.readUInt32LE(0) + held.length, 0);
  return Buffer.concat([len, waiting.subarray(4), held]);
}

/** The holder that copied the description's queue at DRAIN (its owner), else the first. */
export const queueHolder = (hs: Holder[]): Holder => hs.find((h) => (h.rec.socket?.queued ?? -1) >= 0) ?? hs[0];

export function planSockets(p: SocketPlanning): void {
  const all = [...p.byKey.values()].map((hs) => hs[0].rec);
  const namedUnix = namedUnixInodes(all);
  const mine: { key: string; h: Holder }[] = [];
  for (const [key, hs] of p.byKey) if (!p.done.has(key) && restoredHere(hs[0].rec, namedUnix)) mine.push({ key, h: queueHolder(hs) });

  const push = (mode: number, end0: { key: string; h: Holder }, end1?: { key: string; h: Holder }, extra?: Buffer, withPeer = false): void => {
    const head = describe(mode, end0.h.rec, end1?.h.rec, withPeer);
    const blob = extra ? Buffer.concat([head, extra]) : head;
    p.objects.push({ kind: OBJ_SOCKET, flags: end0.h.rec.flags ?? 0, flags2: end1?.h.rec.flags ?? 0, path: '', pos: -1, pipeSize: 0, blob });
    const k = p.objects.length - 1;
    p.place(end0.key, k, 0);
    if (end1) p.place(end1.key, k, 1);
  };

  // Connections first: each is made through a listener of its own at the
  // accepting end's name, which must be free (the program's listeners come after).
  const byNames = new Map<string, { key: string; h: Holder }>();
  const byIno = new Map<number, { key: string; h: Holder }>();
  for (const m of mine) {
    const so = m.h.rec.socket!;
    if (so.domain === AF_UNIX && typeof m.h.rec.ino === 'number') byIno.set(m.h.rec.ino, m);
    else if (named(so.remote)) byNames.set(`${so.local}>${so.remote}`, m);
  }
  const listening = new Set(mine.filter((m) => m.h.rec.socket!.listening).map((m) => m.h.rec.socket!.local));
  const paired = new Set<string>();
  const pending: { key: string; h: Holder }[] = [];
  for (const m of mine) {
    const so = m.h.rec.socket!;
    if (paired.has(m.key) || so.listening || !connectionOriented(so.type ?? 0)) continue;
    const connected = so.domain === AF_UNIX ? !!so.peer || named(so.remote) : named(so.remote);
    if (!connected) continue;
    const other = so.domain === AF_UNIX ? byIno.get(so.peer || -1) : byNames.get(`${so.remote}>${so.local}`);
    paired.add(m.key);
    const waitsInQueue = so.domain === AF_UNIX ? unixUnaccepted(so) : true;
    if (!other && listening.has(so.remote) && waitsInQueue) { pending.push(m); continue; }
    if (!other || other.key === m.key) { push(SOCKET_MODE.DROPPED, m); continue; }
    paired.add(other.key);
    // end 1 accepts: the end at a listener's name (a server's side), or the one with a name (Unix)
    const accepts = (x: { h: Holder }): boolean => {
      const s = x.h.rec.socket!;
      return s.domain === AF_UNIX ? named(s.local) : listening.has(s.local);
    };
    const [end0, end1] = accepts(m) && !accepts(other) ? [other, m] : [m, other];
    // what waits at each end, then what the other end's full window held back (when it could be read)
    push(SOCKET_MODE.PAIR, end0, end1, Buffer.concat([inFlight(p, end0.h, end1.h), inFlight(p, end1.h, end0.h)]));
  }
  // Listeners and bound sockets, then the datagram sockets connected to them.
  const rest = mine.filter((m) => !paired.has(m.key));
  const connectsTo = (m: { h: Holder }): boolean => named(m.h.rec.socket!.remote);
  for (const m of [...rest.filter((x) => !connectsTo(x)), ...rest.filter(connectsTo)]) {
    // a datagram socket's queue: its records, each sent again from its sender (restorer's last pass)
    const queue = m.h.rec.socket!.records ? p.waiting(m.h) : undefined;
    push(m.h.rec.socket!.listening ? SOCKET_MODE.LISTEN : SOCKET_MODE.PLAIN, m, undefined, queue);
  }
  // after the listeners they connect to
  for (const m of pending) push(SOCKET_MODE.PENDING, m, undefined, undefined, true);
}

/** One line per TCP end whose bytes a full peer window still held back at the checkpoint: a restart loses them. */
export function heldBackWarnings(entries: { kind: string; image: string; meta: { fds?: unknown[]; pid?: number } }[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.kind !== 'process') continue;
    for (const f of (e.meta.fds ?? []) as FdRecord[]) {
      const n = f.socket?.unsent ?? 0;
      if (n > 0 && !f.socket?.unsentAt) out.push(`fd ${f.fd} (socket) of process ${e.meta.pid ?? '?'}: ${n} bytes written were held back by the peer's full window at the checkpoint and are lost`);
    }
  }
  return out;
}
