/**
 * The shape of a restart: which process forks which, and what each does about
 * its session and process group (docs/restart-tree.md). Pure planning from
 * the images' metadata; tree-file.ts writes the result for the restorers.
 *
 * The root is the process dmtcp_launch started (the `root` fact of its image;
 * for older images, the lowest pid whose parent is not among the images): it
 * becomes dmtcp_restart's own process, in the restart's session and group, so
 * the shell, terminal and exit code behave as for the original. Every process
 * whose parent is among the images is forked by that parent; the others were
 * orphans (their parent had exited) and stay orphans.
 */
import type { ImageMeta } from '../image/decode';

/** Flags of a tree entry (native/common/tree_format.h). */
export const TREE_FLAG = {
  SETSID: 0x1,
  GROUP_LEADER: 0x2,
  JOIN_GROUP: 0x4,
  ROOT_GROUP: 0x8,
  GHOST: 0x20,
  ZOMBIE: 0x40,
  GROUP_GHOST: 0x80,
} as const;

export interface TreeInput {
  image: string;
  meta: ImageMeta;
}

/**
 * One entry of the tree: a process from an image, a ghost (a helper that
 * stands for an exited parent or session leader, forks its children and
 * exits; or, with GROUP_GHOST, for an exited group leader: a member forks it,
 * it makes the group and exits once everyone joined), or a zombie (an exited,
 * unreaped child that exits again).
 */
export interface TreeEntry {
  kind: 'process' | 'ghost' | 'zombie';
  /** The image (processes only). */
  image: string;
  meta: ImageMeta;
  /** Virtual pid; a ghost's is the session id it stands for, or 0. */
  pid: number;
  /** Index of the parent entry; -1 for the root and ghosts (a group ghost's: the member that forks it). */
  parent: number;
  flags: number;
  /** JOIN_GROUP: index of the group leader's entry; ZOMBIE: the wait status; else -1. */
  group: number;
}

export class TreeError extends Error {}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

interface Proc extends TreeInput { pid: number; ppid: number; pgid: number; sid: number }

function procOf(p: TreeInput): Proc {
  const pid = num(p.meta.pid), ppid = num(p.meta.ppid);
  if (pid === undefined || pid <= 0 || ppid === undefined) throw new TreeError(`${p.image}: image lacks its pid or ppid; it cannot be restarted`);
  return { ...p, pid, ppid, pgid: num(p.meta.pgid) ?? pid, sid: num(p.meta.sid) ?? pid };
}

function zombiesOf(p: Proc): { pid: number; status: number }[] {
  const list = Array.isArray(p.meta.zombies) ? p.meta.zombies : [];
  return list.flatMap((z: unknown) => {
    const pid = num((z as { pid?: unknown }).pid), status = num((z as { status?: unknown }).status);
    return pid && pid > 0 && status !== undefined ? [{ pid, status }] : [];
  });
}

/** Orders and annotates the processes; entry 0 is the root. */
export function planTree(inputs: TreeInput[]): TreeEntry[] {
  if (inputs.length === 0) throw new TreeError('no image to restart');
  const byPid = new Map<number, Proc>();
  for (const input of inputs) {
    const p = procOf(input);
    const other = byPid.get(p.pid);
    if (other) throw new TreeError(`${p.image} and ${other.image} are both process ${p.pid}: images of different computations?`);
    byPid.set(p.pid, p);
  }
  const procs = [...byPid.values()].sort((a, b) => a.pid - b.pid);
  const outside = procs.filter((p) => !byPid.has(p.ppid));
  if (outside.length === 0) throw new TreeError('the images form a cycle of parents; they cannot be restarted');
  const root = outside.find((p) => p.meta.root === true) ?? outside[0];

  const children = new Map<number, Proc[]>();
  for (const p of procs) {
    if (p === root || !byPid.has(p.ppid)) continue;
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }

  // Parents before children, siblings in pid order (close to creation order).
  const entries: TreeEntry[] = [];
  const indexOf = new Map<number, number>();
  const visit = (p: Proc, parent: number): void => {
    const index = entries.length;
    indexOf.set(p.pid, index);
    entries.push({ kind: 'process', image: p.image, meta: p.meta, pid: p.pid, parent, flags: 0, group: -1 });
    for (const c of children.get(p.pid) ?? []) visit(c, index);
  };
  visit(root, -1);

  // Orphans hang under ghosts: one plain ghost for those in the root's session
  // (or making their own), one session-making ghost per session whose leader
  // had exited (a daemon after double fork).
  const ghosts = new Map<number, number>();
  const ghostFor = (sid: number): number => {
    let g = ghosts.get(sid);
    if (g === undefined) {
      g = entries.length;
      ghosts.set(sid, g);
      const makesSession = sid !== 0;
      entries.push({ kind: 'ghost', image: '', meta: {}, pid: sid, parent: -1, flags: TREE_FLAG.GHOST | (makesSession ? TREE_FLAG.SETSID : 0), group: -1 });
      if (makesSession) indexOf.set(sid, g);
    }
    return g;
  };
  for (const p of outside) {
    if (p === root) continue;
    const leaderGone = p.sid !== p.pid && p.sid !== root.sid && !byPid.has(p.sid);
    visit(p, ghostFor(leaderGone ? p.sid : 0));
  }
  if (entries.filter((e) => e.kind === 'process').length !== procs.length) {
    throw new TreeError('the images form a cycle of parents; they cannot be restarted');
  }

  // Zombies: children that had exited, forked again by their parent.
  for (const [i, e] of [...entries.entries()]) {
    if (e.kind !== 'process') continue;
    for (const z of zombiesOf(byPid.get(e.pid)!)) {
      if (indexOf.has(z.pid)) continue;
      indexOf.set(z.pid, entries.length);
      entries.push({ kind: 'zombie', image: '', meta: {}, pid: z.pid, parent: i, flags: TREE_FLAG.ZOMBIE, group: z.status });
    }
  }

  // Sessions and groups: the root keeps the restart's session, and its group
  // unless it led its own. A child starts in the
  // group its parent has when it forks (its own after setsid, else the one it
  // was forked into); each process then joins the group it had, if that differs.
  // A root that led its group leads one again (the restorer does it before it
  // forks): a shell with job control names that group in tcsetpgrp and kill.
  if (root.pgid === root.pid) entries[0].flags |= TREE_FLAG.GROUP_LEADER;
  const forkGroup = (index: number): number => {
    const e = entries[index];
    if (index === 0) return root.pgid;
    if (e.kind === 'ghost') return e.flags & TREE_FLAG.SETSID ? e.pid : root.pgid;
    if (e.flags & TREE_FLAG.SETSID) return e.pid;
    return forkGroup(e.parent);
  };
  // A group whose leader had exited (`a | b` in a shell with job control,
  // once `a` ended) is made again by a stand-in: the leader's zombie when its
  // parent is in the group's session (it makes the group, then exits as it
  // did), else a group ghost forked by the group's first member. The pid
  // table names it by the old leader's pid, so the group keeps its id.
  const sidOf = (index: number): number | undefined => {
    const e = entries[index];
    return e.kind === 'process' ? byPid.get(e.pid)!.sid : undefined;
  };
  const standInFor = (pgid: number, member: number, sid: number): number => {
    const known = indexOf.get(pgid);
    if (known !== undefined) {
      const k = entries[known];
      if (k.kind !== 'zombie') return known;
      if (sidOf(k.parent) === sid) { k.flags |= TREE_FLAG.GROUP_LEADER; return known; }
    }
    const g = entries.length;
    entries.push({ kind: 'ghost', image: '', meta: {}, pid: pgid, parent: member, flags: TREE_FLAG.GROUP_GHOST, group: -1 });
    indexOf.set(pgid, g);
    return g;
  };
  for (const [i, e] of [...entries.entries()].slice(1)) {
    if (e.kind !== 'process') continue;
    const p = byPid.get(e.pid)!;
    if (p.sid === p.pid) {
      e.flags |= TREE_FLAG.SETSID;
      continue;
    }
    if (p.pgid === forkGroup(e.parent)) continue;
    if (p.pgid === p.pid) e.flags |= TREE_FLAG.GROUP_LEADER;
    else if (p.pgid === root.pgid && p.sid === root.sid) e.flags |= TREE_FLAG.ROOT_GROUP;
    else {
      e.flags |= TREE_FLAG.JOIN_GROUP;
      e.group = standInFor(p.pgid, i, p.sid);
    }
  }
  return entries;
}
