/**
 * Is the image set one whole checkpoint? Every image records the checkpoint
 * it belongs to (`computation`: id, generation, and `<prog>/<id>` of every
 * process, told by the coordinator at the CHECKPOINT barrier). A restart of
 * part of a computation would leave its processes waiting on peers that never
 * come back, so it is refused with one line naming the images that are
 * missing. Images older than this record are taken as they are.
 */
import * as path from 'path';
import type { TreeEntry } from './tree';

interface Membership { id: string; generation: number; members: string[] }

function membershipOf(e: TreeEntry): Membership | undefined {
  const c = e.meta.computation as Partial<Membership> | undefined;
  if (!c || typeof c.id !== 'string' || typeof c.generation !== 'number' || !Array.isArray(c.members)) return undefined;
  return { id: c.id, generation: c.generation, members: c.members.filter((m): m is string => typeof m === 'string') };
}

/** `ckpt_<prog>_<id>.dmtcp`, as the agent names a member's image. */
function imageName(member: string): string {
  const slash = member.lastIndexOf('/');
  let prog = member.slice(0, slash);
  try { prog = decodeURIComponent(prog); } catch { /* keep it encoded */ }
  return `ckpt_${prog}_${member.slice(slash + 1)}.dmtcp`;
}

/** An image set that lacks processes of its checkpoint. */
export class MissingImagesError extends Error {}

export function checkComplete(entries: TreeEntry[]): void {
  let first: { e: TreeEntry; m: Membership } | undefined;
  for (const e of entries.filter((x) => x.kind === 'process')) {
    const m = membershipOf(e);
    if (!m) continue;
    if (!first) { first = { e, m }; continue; }
    if (m.id !== first.m.id || m.generation !== first.m.generation) {
      throw new Error(`${e.image} is from checkpoint ${m.generation} of computation ${m.id}, ${path.basename(first.e.image)} from checkpoint ${first.m.generation} of ${first.m.id}: give the images of one checkpoint`);
    }
  }
  if (!first) return;
  const given = new Set(entries.map((e) => e.meta.uniqueId));
  const missing = first.m.members.filter((m) => !given.has(m.slice(m.lastIndexOf('/') + 1)));
  if (missing.length) {
    const names = missing.map(imageName);
    const shown = names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
    throw new MissingImagesError(`checkpoint ${first.m.generation} had ${first.m.members.length} processes; missing image${missing.length > 1 ? 's' : ''}: ${shown} (give every image of the checkpoint, run its dmtcp_restart_script.sh, or press f in the coordinator to restart without ${missing.length > 1 ? 'them' : 'it'})`);
  }
}
