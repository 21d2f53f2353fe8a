/**
 * POSIX message queues (native/agent/fds/mqueue.c): a queue is named, not
 * inherited, so each one is made again once by name, by the root restorer
 * before any process runs (native/restorer/mqueue.c): its attributes, and the
 * messages the holder that drained it at the checkpoint carried in its image.
 * Every holder then opens it by name.
 */
import { OBJ, type FdRecord, type ReadSaved, type SharedObject } from './shared-fds';
import type { TreeEntry } from './tree';

interface MqState { maxmsg?: number; msgsize?: number; drained?: boolean; messagesAt?: string; messagesLen?: number }

export function planMessageQueues(entries: TreeEntry[], readSaved?: ReadSaved): SharedObject[] {
  const byName = new Map<string, { entry: number; rec: FdRecord & { state?: MqState; mode?: number } }>();
  entries.forEach((e, entry) => {
    if (e.kind !== 'process') return;
    for (const rec of (e.meta.fds ?? []) as (FdRecord & { state?: MqState })[]) {
      if (rec.kind !== 'mqueue' || !rec.path || !rec.state) continue;
      const seen = byName.get(rec.path);
      if (!seen || (rec.state.drained && !seen.rec.state?.drained)) byName.set(rec.path, { entry, rec });
    }
  });
  const objects: SharedObject[] = [];
  for (const [name, { entry, rec }] of byName) {
    const st = rec.state!;
    // [u32 maxmsg][u32 msgsize][u32 mode][u32 name length][name][u32 count][messages]
    const nameBytes = Buffer.from(name.replace(/^\//, ''), 'utf8');
    const head = Buffer.alloc(16);
    head.writeUInt32LE(st.maxmsg ?? 10, 0);
    head.writeUInt32LE(st.msgsize ?? 8192, 4);
    head.writeUInt32LE((rec as { mode?: number }).mode ?? 0o600, 8);
    head.writeUInt32LE(nameBytes.length, 12);
    const messages = st.drained && st.messagesAt && st.messagesLen && readSaved
      ? readSaved(entry, BigInt(st.messagesAt), st.messagesLen) : Buffer.alloc(4);
    objects.push({ kind: OBJ.MQUEUE, flags: 0, flags2: 0, path: name, pos: -1, pipeSize: 0, blob: Buffer.concat([head, nameBytes, messages]) });
  }
  return objects;
}
