/**
 * A process on the coordinator's host talks to it through the coordinator's
 * abstract Unix socket (named after its TCP port), not loopback TCP: cheaper
 * for every fork. Its connection is the agent's descriptor 820.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import { program, session, Session } from './helpers/e2e';
import { counted, ranClean, twoRestarts } from './helpers/tree';
import { localSocketName } from '../dist/coordinator/server.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

/** The inode of a socket descriptor, from its /proc link "socket:[N]". */
const socketInode = (pid: number, fd: number): string => /socket:\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '';

/** Inodes of connected Unix sockets, from /proc/net/unix. */
const unixInodes = (): Set<string> =>
  new Set(fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)[6]).filter(Boolean));

describe('the link to a coordinator on this host', () => {
  it('is a Unix socket named after the coordinator\'s port, at launch and after a restart', async () => {
    s = await session();
    const listening = fs.readFileSync('/proc/net/unix', 'utf8');
    expect(listening).toContain(`@${localSocketName(s.port).slice(1)}`);
    const seen: boolean[] = [];
    const check = (): boolean => {
      const peer = s!.coord.coordinator.list()[0];
      if (!peer) return false;
      seen.push(unixInodes().has(socketInode(peer.rpid, 820)));
      return true;
    };
    const c = await twoRestarts(s, program('lazythread'), ['sleep', '24'], {
      processes: 1,
      ready: (l) => counted(l, 'tick').length >= 5 && check(),
    });
    ranClean(c, 'tick', 24);
    expect(seen).toEqual([true, true]);
  }, 60_000);
});
