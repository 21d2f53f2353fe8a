/**
 * Children that a parent told us of (`FORKED`, docs/protocol.md) and that have
 * not said HELLO yet. A child of the agent's fork wrapper connects only when it
 * first matters (native/agent/core/lazy_join.c: at most 10 ms after its fork,
 * or before it execs or forks), so its parent's fork returns at once; until the
 * child is here or gone, a checkpoint's SUSPEND is not complete, so that a
 * checkpoint that starts right after a fork counts the child.
 *
 * A child that ends before it connects never says anything: the coordinator
 * looks for it in /proc (the child's link would have been the abstract socket,
 * so it runs on this host), and forgets it when it is gone, a zombie, or its
 * pid now names a process whose parent is not the one that told us (a reused
 * pid). Where /proc cannot tell (another host, another pid namespace), a child
 * is forgotten EXPECT_TTL_MS after its fork was told: it then joins as a new
 * process, as one forked by a program we do not watch would.
 */
import * as fs from 'fs';
import * as os from 'os';

/** How long a told child may take to connect before we stop waiting for it. */
export const EXPECT_TTL_MS = 2000;
/** Prune when the list has grown this much (a fork + wait loop tells thousands a
 * second, nearly all gone when we look: a few microseconds each). */
const PRUNE_FIRST = 4096;

export interface ExpectedChild {
  pid: number;
  host: string;
  parentId: string;
  parentRpid: number;
  since: number;
  /** A kill command was given meanwhile: the child gets KILL when it says HELLO. */
  doomed: boolean;
}

export type ProcState = 'alive' | 'gone' | 'unknown';

const STAT_BYTES = 512;   // "pid (comm) state ppid": comm is 16 bytes at most
const statBuf = Buffer.alloc(STAT_BYTES);

/** The beginning of /proc/<pid>/stat, or undefined when there is no such process. */
function readStat(proc: string, pid: number): string | undefined {
  // Most told children are gone for long when we look (a fork + wait loop):
  // one stat, no exception, for those (a throw costs tens of microseconds).
  if (!fs.statSync(`${proc}/${pid}`, { throwIfNoEntry: false })) return undefined;
  let fd: number | undefined;
  try {
    fd = fs.openSync(`${proc}/${pid}/stat`, 'r');
    return statBuf.toString('latin1', 0, fs.readSync(fd, statBuf, 0, STAT_BYTES, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What /proc says of `pid` told by the parent `parentRpid` (connected or not). */
export function procState(
  pid: number, parentRpid: number, parentConnected: boolean, proc = '/proc',
  parentSeen = (): boolean => !!fs.statSync(`${proc}/${parentRpid}`, { throwIfNoEntry: false }),
): ProcState {
  const stat = readStat(proc, pid);
  // no such pid here; unless we cannot see the parent either (another pid namespace)
  if (stat === undefined) return parentConnected && !parentSeen() ? 'unknown' : 'gone';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return 'gone';
  // The parent is alive and has not reaped it: the pid is still its child's.
  // An orphan's parent is init or a subreaper: nothing to compare with.
  if (parentConnected && Number(rest[1]) !== parentRpid) return 'gone';
  return 'alive';
}

export class ExpectedChildren {
  private byKey = new Map<string, ExpectedChild>();
  private pruneAt = PRUNE_FIRST;

  constructor(private isConnected: (id: string) => boolean, private proc = '/proc') {}

  get size(): number {
    return this.byKey.size;
  }

  add(child: Omit<ExpectedChild, 'since' | 'doomed'>, doomed = false): void {
    this.byKey.set(`${child.host}/${child.pid}`, { ...child, since: Date.now(), doomed });
    if (this.byKey.size >= this.pruneAt) {
      this.prune();
      this.pruneAt = Math.max(PRUNE_FIRST, 2 * this.byKey.size);
    }
  }

  /** The child said HELLO: returns its record, if it was expected. */
  arrived(host: string, pid: number): ExpectedChild | undefined {
    const key = `${host}/${pid}`;
    const e = this.byKey.get(key);
    if (e) this.byKey.delete(key);
    return e;
  }

  /** Forgets the children that are gone (or too late); returns how many are left. */
  prune(now = Date.now()): number {
    const here = os.hostname();
    const seen = new Map<number, boolean>();   // parents in our /proc, looked up once a prune
    for (const [key, e] of this.byKey) {
      const parentSeen = (): boolean => {
        if (!seen.has(e.parentRpid)) seen.set(e.parentRpid, !!fs.statSync(`${this.proc}/${e.parentRpid}`, { throwIfNoEntry: false }));
        return seen.get(e.parentRpid)!;
      };
      const state = e.host === here ? procState(e.pid, e.parentRpid, this.isConnected(e.parentId), this.proc, parentSeen) : 'unknown';
      // Too late: where /proc cannot tell, or a stopped child (it cannot run its
      // join timer; it joins when it goes on, as a newcomer).
      if (state === 'gone' || now - e.since > EXPECT_TTL_MS) this.byKey.delete(key);
    }
    return this.byKey.size;
  }

  /** Children still expected, oldest first (for a log line). */
  all(): ExpectedChild[] {
    return [...this.byKey.values()];
  }

  /** Stop waiting for these (a checkpoint gave up on them). */
  forget(children: ExpectedChild[]): void {
    for (const c of children) this.byKey.delete(`${c.host}/${c.pid}`);
  }

  /** kill: each child still to come is told KILL when it says HELLO. */
  doomAll(): number {
    for (const e of this.byKey.values()) e.doomed = true;
    return this.byKey.size;
  }

  anyDoomed(): boolean {
    return [...this.byKey.values()].some((e) => e.doomed);
  }
}
