/**
 * System V IPC objects of the computation (native/agent/kernel/sysv.c): each
 * one, by the id the program knows, made again once by the root restorer
 * (native/restorer/sysv.c) with its key, mode and size, a semaphore set with
 * its values, a message queue with the messages one holder carried; the
 * kernel's new id goes back into the tree, where every agent reads it.
 */
import { OBJ, type ReadSaved, type SharedObject } from './shared-fds';
import type { TreeEntry } from './tree';

export const SYSV_KIND = { SHM: 1, SEM: 2, MSG: 3 } as const;

export interface SysvRecord { kind: number; id: number; real: number; key: number; mode: number; size: number; drained?: boolean; dataAt?: string; dataLen?: number }

export interface SysvPlan {
  objects: SharedObject[];
  /** Tree object index of each segment by its kernel id at the checkpoint (what the areas name as their inode). */
  segmentByRealId: Map<number, number>;
}

export function planSysv(entries: TreeEntry[], firstObject: number, readSaved?: ReadSaved): SysvPlan {
  const chosen = new Map<string, { entry: number; rec: SysvRecord }>();
  entries.forEach((e, entry) => {
    if (e.kind !== 'process') return;
    for (const rec of (e.meta.sysv ?? []) as SysvRecord[]) {
      const k = `${rec.kind}:${rec.id}`;
      const seen = chosen.get(k);
      if (!seen || (rec.drained && !seen.rec.drained)) chosen.set(k, { entry, rec });
    }
  });
  const objects: SharedObject[] = [];
  const segmentByRealId = new Map<number, number>();
  for (const { entry, rec } of chosen.values()) {
    const head = Buffer.alloc(16);
    head.writeInt32LE(rec.key | 0, 0);
    head.writeUInt32LE(rec.mode >>> 0, 4);
    head.writeBigUInt64LE(BigInt(rec.size), 8);
    const data = rec.dataAt && rec.dataLen && readSaved ? readSaved(entry, BigInt(rec.dataAt), rec.dataLen) : Buffer.alloc(0);
    if (rec.kind === SYSV_KIND.SHM) segmentByRealId.set(rec.real, firstObject + objects.length);
    objects.push({ kind: OBJ.SYSV, flags: rec.kind, flags2: rec.id, path: '', pos: rec.real, pipeSize: data.length, blob: Buffer.concat([head, data]) });
  }
  return { objects, segmentByRealId };
}
