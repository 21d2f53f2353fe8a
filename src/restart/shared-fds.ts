/**
 * Which open file descriptions the restart makes once for several holders
 * (docs/restart-tree.md, "shared fds"). Each image names every description it
 * holds the way the checkpoint's election found it (native/agent/fds/fd_share.c):
 * a file by the process and fd that won its offset tag, a pipe end by its
 * inode, anything else by the process that won F_SETOWN. Holders with the
 * same name held one description; the restorers make it once and fork hands
 * it to all of them.
 *
 *  - the root's stdin, stdout and stderr are the restart's own: every holder
 *    of those descriptions gets the restart's (the tree writes where
 *    dmtcp_restart writes, as it wrote where dmtcp_launch did);
 *  - pipes and FIFOs inside the tree are made again, both ends, whichever
 *    processes hold them (an end nobody holds is closed: as if its holders
 *    outside the computation had gone);
 *  - files, terminals and devices held more than once are reopened once;
 *  - an eventfd held more than once (dup'd, or across fork) is made once;
 *  - so is an epoll set, signalfd or timerfd (named by its owner's fd for it).
 * Everything else each process reopens alone (native/agent/fds/fds.c).
 */
import type { TreeEntry } from './tree';
import { AF_UNIX, namedUnixInodes, planSockets, queueHolder, restoredHere } from './sockets';
import { planMessageQueues } from './mqueue';

export const OBJ = { PIPE: 1, FIFO: 2, FILE: 3, STDIO: 4, PTY: 5, SOCKETPAIR: 6, SOCKET: 7, SHM: 8, MQUEUE: 9, SYSV: 10, EVENTFD: 11, ANON: 12 } as const;
/** TREE_ANON_*: which kind of description an OBJ.ANON is (tree_format.h). */
const ANON_KINDS: Record<string, number> = { epoll: 1, signalfd: 2, timerfd: 3 };
const EFD_SEMAPHORE = 1;
/** Placement fd meaning "this session's controlling terminal" (tree_format.h). */
export const FD_CTTY = -1;
const TERMIOS_SIZE = 36;

export interface SharedObject {
  kind: number;
  /** Open flags (file), or F_SETFL flags of the read end (pipe). */
  flags: number;
  /** F_SETFL flags of the write end (pipe), or the restart's fd (stdio). */
  flags2: number;
  path: string;
  pos: number;
  pipeSize: number;
  /** PTY: the termios bytes and the window size, stored where a path would be. */
  blob?: Buffer;
  /** SOCKETPAIR: SO_PASSCRED per end (bit 0: end 0, bit 1: end 1). */
  sockOpts?: number;
}

export interface Placement {
  entry: number;
  fd: number;
  object: number;
  /** 0: the object's first slot (read end, file), 1: its write end. */
  end: number;
  cloexec: boolean;
}

export interface FdRecord {
  fd: number; kind?: string; path?: string; flags?: number; cloexec?: boolean; offset?: number; deleted?: boolean;
  dev?: number; ino?: number; rdev?: number; share?: string; owner?: number; ownerFd?: number; pipeSize?: number;
  pty?: number; termios?: string; winsize?: number[]; ptyQueued?: number; ptyQueuedAt?: string;
  /** A descriptor kind's own state (readdmtcp --fds): an eventfd's count, mode and kernel id. */
  state?: { count?: number; semaphore?: boolean; id?: number; clock?: number };
  socket?: {
    domain?: number; type?: number; protocol?: number; unnamed?: boolean; passcred?: boolean; peer?: number; queued?: number; queuedAt?: string;
    listening?: boolean; backlog?: number; shutdown?: number; records?: boolean; tcpState?: number; opts?: number; rcvbuf?: number; sndbuf?: number; unsent?: number; unsentAt?: string;
    /** getsockname and getpeername, raw sockaddr bytes in hex */
    local?: string; remote?: string;
  };
}


/** Reads `len` bytes of a process's saved memory (its image): a socket's waiting bytes. */
export type ReadSaved = (entry: number, addr: bigint, len: number) => Buffer;

/** termios bytes then winsize as 4 u16, as the restorer applies them. */
function ptySettings(r: FdRecord): Buffer | undefined {
  if (typeof r.termios !== 'string' || r.termios.length !== 2 * TERMIOS_SIZE) return undefined;
  const b = Buffer.alloc(TERMIOS_SIZE + 8);
  Buffer.from(r.termios, 'hex').copy(b, 0);
  (r.winsize ?? [0, 0, 0, 0]).slice(0, 4).forEach((v, i) => b.writeUInt16LE(v & 0xffff, TERMIOS_SIZE + 2 * i));
  return b;
}

const O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_APPEND = 0o2000, O_NONBLOCK = 0o4000;
const KEY_FLAGS = O_ACCMODE | O_APPEND | O_NONBLOCK;

/** The description's name across the computation, or undefined: not shareable. */
function keyOf(r: FdRecord): string | undefined {
  // every eventfd has the same anonymous inode: the kernel's id for it names it
  if (r.kind === 'eventfd') return typeof r.state?.id === 'number' && r.state.id > 0 ? `eventfd:${r.state.id}` : undefined;
  switch (r.share) {
    case 'tag': return `tag:${r.owner}:${r.ownerFd}`;
    case 'owner': return `own:${r.owner}:${r.dev}:${r.ino}:${(r.flags ?? 0) & KEY_FLAGS}`;
    case 'pipe': return `pipe:${r.dev}:${r.ino}:${(r.flags ?? 0) & O_ACCMODE}`;
    case 'anon': return r.kind && ANON_KINDS[r.kind] ? `anon:${r.kind}:${r.owner}:${r.ownerFd}` : undefined;
    default: return undefined;
  }
}

const isPipe = (r: FdRecord): boolean => r.share === 'pipe';
/** A file the restorer can reopen by name for all its holders. */
const reopenable = (r: FdRecord): boolean =>
  !r.deleted && typeof r.path === 'string' && r.path.startsWith('/') && r.kind !== 'socket' && r.kind !== 'pipe';

export interface Holder { entry: number; rec: FdRecord }

export function planSharedFds(entries: TreeEntry[], readSaved?: ReadSaved): { objects: SharedObject[]; placements: Placement[] } {
  const byKey = new Map<string, Holder[]>();
  entries.forEach((e, entry) => {
    if (e.kind !== 'process') return;
    for (const rec of (e.meta.fds ?? []) as FdRecord[]) {
      const key = keyOf(rec);
      if (!key) continue;
      const list = byKey.get(key) ?? [];
      list.push({ entry, rec });
      byKey.set(key, list);
    }
  });
  const objects: SharedObject[] = [];
  const placements: Placement[] = [];
  const done = new Set<string>();
  const place = (key: string, object: number, end: number): void => {
    for (const h of byKey.get(key) ?? []) placements.push({ entry: h.entry, fd: h.rec.fd, object, end, cloexec: !!h.rec.cloexec });
    done.add(key);
  };

  // The root's stdio first: whatever it is, it becomes the restart's.
  for (const rec of (entries[0]?.meta.fds ?? []) as FdRecord[]) {
    if (rec.fd > 2) continue;
    const key = keyOf(rec) ?? `root-stdio:${rec.fd}`;
    if (!byKey.has(key)) byKey.set(key, [{ entry: 0, rec }]);
    if (done.has(key)) continue;
    objects.push({ kind: OBJ.STDIO, flags: 0, flags2: rec.fd, path: '', pos: -1, pipeSize: 0 });
    place(key, objects.length - 1, 0);
  }

  // Ptys made inside the tree: one pair per master, every slave description of
  // it placed from the pair's second slot, and its session's controlling terminal.
  const masters = new Map<number, Holder>();
  for (const [key, holders] of byKey) {
    const rec = holders[0].rec;
    if (done.has(key) || rec.kind !== 'ptymaster' || typeof rec.pty !== 'number') continue;
    if (!masters.has(rec.pty)) masters.set(rec.pty, holders[0]);
  }
  for (const [n, master] of masters) {
    const slaveKeys = [...byKey.entries()].filter(([k, hs]) => !done.has(k) && hs[0].rec.kind === 'tty' && hs[0].rec.pty === n);
    const slave = slaveKeys[0]?.[1][0].rec;
    // The bytes in flight the master's owner took at DRAIN: after the settings.
    const drainer = [...byKey.values()].map((hs) => hs[0]).find((h) => h.rec.kind === 'ptymaster' && h.rec.pty === n && (h.rec.ptyQueued ?? 0) > 0);
    const inFlight = drainer && readSaved && drainer.rec.ptyQueuedAt
      ? readSaved(drainer.entry, BigInt(drainer.rec.ptyQueuedAt), drainer.rec.ptyQueued!) : undefined;
    const settings = ptySettings(slave ?? master.rec) ?? ptySettings(master.rec);
    objects.push({
      kind: OBJ.PTY, flags: master.rec.flags ?? 0, flags2: slave?.flags ?? 0, path: '', pos: settings && inFlight ? inFlight.length : -1, pipeSize: 0,
      blob: settings && inFlight ? Buffer.concat([settings, inFlight]) : settings,
    });
    const k = objects.length - 1;
    for (const [key, hs] of byKey) if (!done.has(key) && hs[0].rec.kind === 'ptymaster' && hs[0].rec.pty === n) place(key, k, 0);
    for (const [key] of slaveKeys) place(key, k, 1);
    const slaveRdev = slave?.rdev;
    entries.forEach((e, entry) => {
      if (entry > 0 && e.kind === 'process' && slaveRdev !== undefined && e.meta.ctty === slaveRdev && (e.flags & 0x1 /* SETSID */)) {
        placements.push({ entry, fd: FD_CTTY, object: k, end: 1, cloexec: false });
      }
    });
  }

  // Unix socketpairs: the two ends found each other by their peer inodes. The
  // bytes that waited at an end (copied by its owner) are sent again from the
  // other end by the root restorer.
  const sockets = new Map<number, { key: string; h: Holder }>();
  const namedUnix = namedUnixInodes([...byKey.values()].map((hs) => hs[0].rec));
  for (const [key, holders] of byKey) {
    const so = holders[0].rec.socket;
    if (done.has(key) || !so || so.domain !== AF_UNIX || !so.unnamed || typeof holders[0].rec.ino !== 'number') continue;
    if (restoredHere(holders[0].rec, namedUnix)) continue;   // a client of a named socket: sockets.ts
    sockets.set(holders[0].rec.ino, { key, h: queueHolder(holders) });
  }
  const waiting = (h?: Holder): Buffer => {
    const so = h?.rec.socket;
    if (!h || !so?.queued || so.queued <= 0 || !so.queuedAt || !readSaved) return Buffer.alloc(4);
    const data = readSaved(h.entry, BigInt(so.queuedAt), so.queued);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(data.length, 0);
    return Buffer.concat([len, data]);
  };
  for (const [ino, end0] of sockets) {
    if (done.has(end0.key)) continue;
    const peerIno = end0.h.rec.socket?.peer ?? 0;
    const end1 = peerIno && peerIno !== ino ? sockets.get(peerIno) : undefined;
    const blob = Buffer.concat([waiting(end0.h), waiting(end1?.h)]);
    objects.push({
      kind: OBJ.SOCKETPAIR, flags: end0.h.rec.flags ?? 0, flags2: end1?.h.rec.flags ?? 0, path: '', pos: -1,
      pipeSize: end0.h.rec.socket?.type ?? 1, blob: blob.length > 8 ? blob : undefined,
      sockOpts: (end0.h.rec.socket?.passcred ? 1 : 0) | (end1?.h.rec.socket?.passcred ? 2 : 0),
    });
    const k = objects.length - 1;
    place(end0.key, k, 0);
    if (end1) place(end1.key, k, 1);   // an end held outside the computation stays closed
  }

  // IP sockets and named Unix sockets: listeners, connections, the rest.
  planSockets({ byKey, done, objects, place, waiting, readSaved });
  // Message queues: made again by name, with their messages.
  objects.push(...planMessageQueues(entries, readSaved));

  // Pipes: one object per inode, its ends placed from the two slots.
  const pipes = new Map<string, { read?: string; write?: string; rec: FdRecord }>();
  for (const [key, holders] of byKey) {
    const rec = holders[0].rec;
    if (done.has(key) || !isPipe(rec)) continue;
    const inode = `${rec.dev}:${rec.ino}`;
    const p = pipes.get(inode) ?? { rec };
    const acc = (rec.flags ?? 0) & O_ACCMODE;
    if (acc === O_RDONLY) p.read = key;
    else if (acc === O_WRONLY) p.write = key;
    else continue;   // a FIFO opened for both: reopened by path below
    pipes.set(inode, p);
  }
  for (const p of pipes.values()) {
    const named = typeof p.rec.path === 'string' && p.rec.path.startsWith('/');
    const flagsOf = (key?: string): number => (key ? byKey.get(key)![0].rec.flags ?? 0 : 0);
    objects.push({
      kind: named ? OBJ.FIFO : OBJ.PIPE, flags: flagsOf(p.read), flags2: flagsOf(p.write),
      path: named ? p.rec.path! : '', pos: -1, pipeSize: p.rec.pipeSize ?? 0,
    });
    const k = objects.length - 1;
    if (p.read) place(p.read, k, 0);
    if (p.write) place(p.write, k, 1);
  }

  // Eventfds held at more than one place: made once, with their counter.
  for (const [key, holders] of byKey) {
    if (done.has(key) || holders.length < 2 || !key.startsWith('eventfd:')) continue;
    const rec = holders[0].rec;
    objects.push({
      kind: OBJ.EVENTFD, flags: rec.flags ?? 0, flags2: rec.state?.semaphore ? EFD_SEMAPHORE : 0, path: '',
      pos: typeof rec.state?.count === 'number' ? rec.state.count : 0, pipeSize: 0,
    });
    place(key, objects.length - 1, 0);
  }

  // Epoll sets, signalfds and timerfds held at more than one place: made
  // once, empty; each holder's agent gives it its watches, mask or time.
  for (const [key, holders] of byKey) {
    if (done.has(key) || holders.length < 2 || !key.startsWith('anon:')) continue;
    const rec = holders[0].rec;
    objects.push({
      kind: OBJ.ANON, flags: rec.flags ?? 0, flags2: ANON_KINDS[rec.kind!], path: '',
      pos: rec.kind === 'timerfd' && typeof rec.state?.clock === 'number' ? rec.state.clock : 0, pipeSize: 0,
    });
    place(key, objects.length - 1, 0);
  }

  // Files, terminals, devices: held at more than one place, reopened once.
  for (const [key, holders] of byKey) {
    if (done.has(key) || holders.length < 2) continue;
    const rec = holders[0].rec;
    if (!reopenable(rec)) continue;
    objects.push({
      kind: OBJ.FILE, flags: rec.flags ?? 0, flags2: 0, path: rec.path!,
      pos: rec.share === 'tag' && typeof rec.offset === 'number' ? rec.offset : -1, pipeSize: 0,
    });
    place(key, objects.length - 1, 0);
  }
  return { objects, placements };
}
