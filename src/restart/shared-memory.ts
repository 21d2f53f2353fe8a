/**
 * Shared memory with no file to come back from: MAP_SHARED anonymous memory
 * (and /dev/zero mappings) that a parent and its children share after fork,
 * memfd and System V segments, deleted files mapped shared. Each image lists
 * such areas with the kernel's dev and inode of their memory object
 * (`sharedAreas`); areas with the same object are one memory. The root
 * restorer makes one memfd per object (TREE_OBJ_SHM, as large as the furthest
 * area reaches into it); every holder maps it at its old address and offset,
 * and the first holder fills it from its image (the others copy nothing).
 * After the restart the memory is shared again, as before the checkpoint.
 */
import { FLAG } from '../image/format';
import type { AreaOverrides } from '../image/plan';
import { OBJ, type SharedObject } from './shared-fds';
import type { TreeEntry } from './tree';

/** The plan's path for an area mapped from tree object k (native/common/tree_format.h). */
export const treeObjectPath = (k: number): string => `@tree-object:${k}`;
const PAGE = 4096;

interface SharedArea { start: string; end: string; offset: number; dev: string; ino: number; name: string }

export interface SharedMemoryPlan {
  objects: SharedObject[];
  /** Per entry: how its shared areas are mapped. */
  overrides: AreaOverrides[];
}

/**
 * `firstObject`: the index the first memory object will have in the tree's
 * object table. `segments`: System V segments made by the root (sysv.ts), by
 * their kernel id at the checkpoint, which their areas show as inode: such
 * memory is attached from the new segment (flags 1, flags2 its object).
 */
export function planSharedMemory(entries: TreeEntry[], firstObject: number, segments: Map<number, number> = new Map()): SharedMemoryPlan {
  const byObject = new Map<string, { entry: number; area: SharedArea }[]>();
  entries.forEach((e, entry) => {
    if (e.kind !== 'process') return;
    for (const area of (e.meta.sharedAreas ?? []) as SharedArea[]) {
      const key = `${area.dev}:${area.ino}`;
      const list = byObject.get(key) ?? [];
      list.push({ entry, area });
      byObject.set(key, list);
    }
  });
  const objects: SharedObject[] = [];
  const overrides: AreaOverrides[] = entries.map(() => new Map());
  for (const holders of byObject.values()) {
    const k = firstObject + objects.length;
    let size = 0;
    for (const { area } of holders) size = Math.max(size, area.offset + Number(BigInt(area.end) - BigInt(area.start)));
    const first = holders[0].area;
    const segment = first.name.startsWith('/SYSV') ? segments.get(first.ino) : undefined;
    objects.push({ kind: OBJ.SHM, flags: segment === undefined ? 0 : 1, flags2: segment ?? 0, path: '', pos: Math.ceil(size / PAGE) * PAGE, pipeSize: 0 });
    // Holders in order fill what no earlier holder covers (two views of one
    // object write the same bytes: overlaps are harmless).
    const filled: [number, number][] = [];
    const covered = (lo: number, hi: number): boolean => filled.some(([a, b]) => a <= lo && hi <= b);
    for (const { entry, area } of holders) {
      const lo = area.offset, hi = area.offset + Number(BigInt(area.end) - BigInt(area.start));
      const fill = !covered(lo, hi);
      if (fill) filled.push([lo, hi]);
      overrides[entry].set(BigInt(area.start), { path: treeObjectPath(k), flags: FLAG.SHARED, keepRuns: fill });
    }
  }
  return { objects, overrides };
}
