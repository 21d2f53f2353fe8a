/**
 * Unique ids in DMTCP's shape: `<hex hostid>-<pid>-<hex time>`. They name images
 * (ckpt_<prog>_<id>.dmtcp) and computations (dmtcp_restart_script_<compid>.sh).
 */
import * as os from 'os';

/** A stable 32-bit host id: FNV-1a of the hostname (Node has no gethostid). */
export function hostId(hostname: string = os.hostname()): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < hostname.length; i++) {
    h ^= hostname.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function makeUniqueId(pid: number, host: string = os.hostname(), nowMs: number = Date.now()): string {
  return `${hostId(host)}-${pid}-${Math.floor(nowMs / 1000).toString(16)}`;
}

/**
 * A new id for an agent, different from every id in `taken`: two processes with the
 * same pid in the same second (pid reuse) get a bumped time field.
 */
export function freshUniqueId(pid: number, host: string, taken: (id: string) => boolean, nowMs: number = Date.now()): string {
  let t = nowMs;
  let id = makeUniqueId(pid, host, t);
  while (taken(id)) {
    t += 1000;
    id = makeUniqueId(pid, host, t);
  }
  return id;
}
