/**
 * The restart tree file (native/common/tree_format.h, docs/restart-tree.md):
 * a header, one 32-byte entry per process, the shared descriptions (objects)
 * and where each process puts them (placements), then their paths. Every
 * restorer of the tree maps it shared at `mapAddr`.
 */
import type { TreeEntry } from './tree';
import type { Placement, SharedObject } from './shared-fds';

export const TREE_MAGIC = 'DMTCPTRE';
export const TREE_VERSION = 1;
export const TREE_HEADER_SIZE = 128;
export const TREE_ENTRY_SIZE = 32;
export const TREE_OBJECT_SIZE = 32;
export const TREE_PLACEMENT_SIZE = 16;
export const TREE_MAX_PROCS = 4096;
/** The resident encoder's presence pipe (native/common/encoder_service.h): slots stay off it. */
const PRESENCE_FD = 819;
const PAGE = 4096;

export interface SharedFds { objects: SharedObject[]; placements: Placement[] }

export interface TreeFds {
  treeFd: number;
  planFds: number[];
  restorerFds: number[];
}

interface Layout { objectsOffset: number; placementsOffset: number; stringsOffset: number; length: number; strings: Buffer; pathOffsets: number[] }

function layout(nprocs: number, shared: SharedFds): Layout {
  const objectsOffset = TREE_HEADER_SIZE + nprocs * TREE_ENTRY_SIZE;
  const placementsOffset = objectsOffset + shared.objects.length * TREE_OBJECT_SIZE;
  const stringsOffset = placementsOffset + shared.placements.length * TREE_PLACEMENT_SIZE;
  const pathOffsets: number[] = [];
  const parts: Buffer[] = [Buffer.from([0])];   // offset 0: the empty path
  let at = 1;
  for (const o of shared.objects) {
    if (!o.path && !o.blob) { pathOffsets.push(0); continue; }
    const b = o.blob ?? Buffer.from(o.path + '\0', 'utf8');
    pathOffsets.push(at);
    parts.push(b);
    at += b.length;
  }
  const strings = Buffer.concat(parts);
  const length = Math.ceil((stringsOffset + strings.length) / PAGE) * PAGE;
  return { objectsOffset, placementsOffset, stringsOffset, length, strings, pathOffsets };
}

/** Page-aligned size of the tree file. */
export function treeFileLength(nprocs: number, shared: SharedFds): number {
  return layout(nprocs, shared).length;
}

/** The first slot fd: above every fd a restorer holds or a process gets, and off the presence fd. */
export function slotBase(shared: SharedFds, fds: TreeFds): number {
  const used = [fds.treeFd, ...fds.planFds, ...fds.restorerFds, ...shared.placements.map((p) => p.fd), 2];
  let base = Math.max(...used) + 1;
  const end = base + 2 * shared.objects.length;
  if (base <= PRESENCE_FD && end > PRESENCE_FD) base = PRESENCE_FD + 1;
  return base;
}

export function encodeTreeFile(entries: TreeEntry[], mapAddr: bigint, fds: TreeFds, shared: SharedFds): Buffer {
  if (entries.length > TREE_MAX_PROCS) throw new Error(`${entries.length} processes: more than ${TREE_MAX_PROCS} cannot be restarted together`);
  const l = layout(entries.length, shared);
  const b = Buffer.alloc(l.length);
  b.write(TREE_MAGIC, 0, 8, 'latin1');
  b.writeUInt32LE(TREE_VERSION, 8);
  b.writeUInt32LE(entries.length, 12);
  b.writeBigUInt64LE(mapAddr, 16);
  b.writeBigUInt64LE(BigInt(b.length), 24);
  b.writeUInt32LE(fds.treeFd, 32);
  // 36 forked, 40 planned, 44 failed, 48 root_pgid, 52 root_sid, 56 refilled, 96 restart_foreground: written at restart
  b.writeUInt32LE(shared.objects.length, 60);
  b.writeUInt32LE(shared.placements.length, 64);
  b.writeInt32LE(slotBase(shared, fds), 68);
  b.writeBigUInt64LE(BigInt(l.objectsOffset), 72);
  b.writeBigUInt64LE(BigInt(l.placementsOffset), 80);
  b.writeBigUInt64LE(BigInt(l.stringsOffset), 88);
  entries.forEach((e, i) => {
    const o = TREE_HEADER_SIZE + i * TREE_ENTRY_SIZE;
    b.writeInt32LE(e.pid, o);
    b.writeInt32LE(e.parent, o + 4);
    b.writeUInt32LE(e.flags, o + 8);
    b.writeInt32LE(e.group, o + 12);
    b.writeInt32LE(e.kind === 'process' ? fds.planFds[i] : -1, o + 16);
    b.writeInt32LE(e.kind === 'process' ? fds.restorerFds[i] : -1, o + 20);
  });
  shared.objects.forEach((ob, k) => {
    const o = l.objectsOffset + k * TREE_OBJECT_SIZE;
    b.writeUInt32LE(ob.kind, o);
    b.writeInt32LE(ob.flags, o + 4);
    b.writeInt32LE(ob.flags2, o + 8);
    b.writeUInt32LE(l.pathOffsets[k], o + 12);
    b.writeBigInt64LE(BigInt(ob.pos), o + 16);
    b.writeInt32LE(ob.pipeSize, o + 24);
    b.writeUInt32LE(ob.sockOpts ?? 0, o + 28);
  });
  shared.placements.forEach((p, i) => {
    const o = l.placementsOffset + i * TREE_PLACEMENT_SIZE;
    b.writeInt32LE(p.entry, o);
    b.writeInt32LE(p.fd, o + 4);
    b.writeInt32LE(p.object, o + 8);
    b.writeUInt8(p.end, o + 12);
    b.writeUInt8(p.cloexec ? 1 : 0, o + 13);
  });
  l.strings.copy(b, l.stringsOffset);
  return b;
}
