/**
 * Sockets inside the computation (issue 9): TCP connections and listeners
 * come back with their names, options and the bytes that waited; the C
 * programs under test/programs check their own state and print CORRUPT
 * otherwise. Two checkpoint/kill/restart cycles each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'net';
import { program, session, Session } from './helpers/e2e';
import { counted, Cycle, MODES, oneTo, ranClean, twoRestarts } from './helpers/tree';
import { readImageMeta } from '../dist/image/decode.js';
import { sockaddrText } from '../dist/cli/readdmtcp.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });


type Sock = { fd: number; kind?: string; socket?: { domain?: number; listening?: boolean; queued?: number; local?: string; remote?: string } };
const socketsOf = (c: Cycle, gen: number): Sock[] =>
  c.images[gen].flatMap((i) => (readImageMeta(i).fds ?? []) as Sock[]).filter((f) => f.kind === 'socket' && f.fd > 2);


describe('TCP inside the computation', () => {
  for (const [mode, launchArgs] of MODES) {
    it(`a listener keeps its port and a connection its bytes waiting both ways, across two restarts (${mode})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('tcpecho'), ['60'], { launchArgs, ready: (l) => counted(l, 'R').length >= 8, processes: 2 });
      ranClean(c, 'R', 60);
      const socks = socketsOf(c, 1);
      // one listener (the child inherited it too), one connection: two ends
      expect(new Set(socks.filter((f) => f.socket?.listening).map((f) => f.socket!.local)).size).toBe(1);
      expect(socks.filter((f) => f.socket?.domain === 2 && f.socket?.remote).length).toBeGreaterThanOrEqual(2);
    });
  }
  it('a listener without SO_REUSEADDR keeps its port though a connection it accepted holds it too, twice', async () => {
    s = await session();
    const c = await twoRestarts(s, program('tcpecho'), ['40', 'noreuse'], { ready: (l) => counted(l, 'R').length >= 8, processes: 2 });
    expect(c.runs.map((r) => r.stderr).join('')).not.toMatch(/cannot have its old name/);
    ranClean(c, 'R', 40);
  });
  it('a server without SO_REUSEADDR that closed connections first (TIME_WAIT at its port) listens at its port again, twice; it still reads SO_REUSEADDR 0', async () => {
    s = await session();
    const c = await twoRestarts(s, program('tcpreuse'), ['30'], { ready: (l) => counted(l, 'tick').length >= 5, processes: 1 });
    expect(c.runs.map((r) => r.stderr).join('')).not.toMatch(/cannot have its old name/);
    ranClean(c, 'tick', 30);
  });
  it('...and a program it execs with that listener reads SO_REUSEADDR 0 too, twice', async () => {
    s = await session();
    const c = await twoRestarts(s, program('tcpreuse'), ['30', 'exec'], { ready: (l) => counted(l, 'tick').length >= 5, processes: 1 });
    expect(c.lines).toContain('EXECED');
    ranClean(c, 'tick', 30);
  });
});

// A full window holds bytes back in the sender's send queue, which only TCP_REPAIR
// (CAP_NET_ADMIN) can read: the receivers open their windows at ELECT instead, and the
// bytes come over into the receive queues, where DRAIN copies them (docs/sockets.md).
describe('TCP with full windows both ways', () => {
  it.each(MODES)('bytes held back in the send queues and waiting in the receive queues lose and repeat nothing, two restarts, no privilege (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('sockpair'), ['60', 'tcp'], { launchArgs, ready: (l) => counted(l, 'R').length >= 8, processes: 2 });
    const stderr = c.runs.map((r) => r.stderr).join('');
    expect(stderr).not.toMatch(/lost/);
    ranClean(c, 'R', 60);
    const ends = c.images.flat().flatMap((i) => (readImageMeta(i).fds ?? []) as { socket?: { domain?: number; remote?: string; queued?: number; unsent?: number } }[])
      .filter((f) => f.socket?.domain === 2 && f.socket.remote);
    // the queues were full: every byte the senders held back came over to the receivers, where it was copied
    expect(ends.some((f) => (f.socket!.queued ?? 0) > 0)).toBe(true);
    expect(ends.filter((f) => (f.socket!.unsent ?? 0) > 0)).toEqual([]);
  });
  it('...and a program that goes on from four checkpoints in a row loses and repeats nothing either', async () => {
    s = await session();
    const run = s.launch(program('sockpair'), ['60', 'tcp']);
    await run.waitFor((l) => (counted([l], 'R')[0] ?? 0) >= 5, 30_000);
    for (let i = 0; i < 4; i++) { await s.checkpoint(); await new Promise((r) => setTimeout(r, 200)); }
    const end = await run.exited;
    ranClean({ runs: [run], images: [], lines: run.lines, end }, 'R', 60);
  });
});

describe('an epoll server with 32 clients', () => {
  it.each(MODES)('answers every request once across two restarts; clients blocked in poll() and select() go on (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('epollserver'), ['60'], { launchArgs, ready: (l) => counted(l, 'E').length >= 8, processes: 5 });
    ranClean(c, 'E', 60);
    // the server's 32 connections and each client's 8, all made again end to end
    const tcp = socketsOf(c, 1).filter((f) => f.socket?.domain === 2 && f.socket.remote);
    expect(tcp).toHaveLength(64);
  });
});

describe('a connection not accepted yet', () => {
  it.each(MODES)('waits in the listener\'s queue again after each restart, and is accepted there (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('pending'), ['40'], { launchArgs, ready: (l) => counted(l, 'W').length >= 8, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'W')).toEqual(oneTo(40));
    expect(c.lines).toContain('GOT hello 40');
    expect(c.lines.at(-1)).toBe('DONE 40');
    expect(c.end).toEqual({ code: 0, signal: null });
  });
});

describe('Unix sockets with names', () => {
  it.each(MODES)('a stream listener at a path, seqpacket at an abstract name, datagrams to a path, fds passed with SCM_RIGHTS, across two restarts (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('unixnamed'), ['60', s.dir], { launchArgs, ready: (l) => counted(l, 'S').length >= 8, processes: 2 });
    ranClean(c, 'S', 60);
    const unix = socketsOf(c, 1).filter((f) => f.socket?.domain === 1);
    expect(unix.some((f) => f.socket!.listening)).toBe(true);
  });
});

describe('a Unix listener with a full queue, and the clients around it', () => {
  it('backlog 0 stays full, the client in the queue stays there, the one whose peer closed reads EOF, the unconnected one connects, twice', async () => {
    s = await session();
    const c = await twoRestarts(s, program('unixstates'), ['30'], { ready: (l) => counted(l, 'S').length >= 5, processes: 1 });
    ranClean(c, 'S', 30);
    // the image says what the kernel said: the listener's backlog, the queued client's open peer
    const socks = socketsOf(c, 1) as (Sock & { socket: { backlog?: number; shutdown?: number } })[];
    expect(socks.find((f) => f.socket.listening)?.socket.backlog).toBe(0);
    expect(socks.filter((f) => !f.socket.listening && f.socket.remote && f.socket.remote.length > 4).map((f) => f.socket.shutdown).sort()).toEqual([0, 3]);
  });
});

describe('UDP inside the computation', () => {
  it.each(MODES)('both sockets keep their ports and the child its connected peer, across two restarts (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('udpping'), ['60'], { launchArgs, ready: (l) => counted(l, 'U').length >= 8, processes: 2 });
    ranClean(c, 'U', 60);
    const udp = socketsOf(c, 1).filter((f) => f.socket?.domain === 2);
    expect(new Set(udp.map((f) => f.socket!.local)).size).toBe(2);
    expect(udp.some((f) => f.socket!.remote)).toBe(true);
  });
});

describe('datagrams and records waiting in queues', () => {
  it.each(MODES)('UDP, Unix datagram and seqpacket queues lose and repeat nothing across two restarts (%s)', async (_mode, launchArgs) => {
    s = await session();
    const c = await twoRestarts(s, program('dgramq'), ['60'], { launchArgs, ready: (l) => counted(l, 'D').length >= 8, processes: 2 });
    ranClean(c, 'D', 60);
    const queued = c.images.flat().flatMap((i) => (readImageMeta(i).fds ?? []) as Sock[]).filter((f) => (f.socket?.queued ?? 0) > 0);
    expect(queued.length).toBeGreaterThanOrEqual(3);
  });
});

describe('a socket to a peer outside the computation', () => {
  it.each(MODES)('comes back reset after each restart; the program connects again and goes on (%s)', async (_mode, launchArgs) => {
    const outside = net.createServer((sock) => { sock.on('error', () => {}); sock.pipe(sock); });
    await new Promise<void>((r) => outside.listen(0, '127.0.0.1', r));
    try {
      s = await session();
      const port = (outside.address() as net.AddressInfo).port;
      const c = await twoRestarts(s, program('extpeer'), [String(port), '60'], { launchArgs, ready: (l) => counted(l, 'X').length >= 8 });
      ranClean(c, 'X', 60);
      // each restarted run saw its old connection dropped, once
      expect(c.runs.map((r) => r.lines.filter((l) => l === 'RESET').length), c.runs.map((r) => r.lines.join(' ')).join('\n')).toEqual([0, 1, 1]);
    } finally {
      outside.close();
    }
  });
});

describe('readdmtcp --fds names socket addresses as people write them', () => {
  it('IPv4, IPv6, v4-mapped, Unix paths, abstract and unnamed', () => {
    const v4 = Buffer.alloc(16); v4.writeUInt16LE(2, 0); v4.writeUInt16BE(8080, 2); Buffer.from([127, 0, 0, 1]).copy(v4, 4);
    const v6 = Buffer.alloc(28); v6.writeUInt16LE(10, 0); v6.writeUInt16BE(443, 2); v6[23] = 1;
    const mapped = Buffer.alloc(28); mapped.writeUInt16LE(10, 0); mapped.writeUInt16BE(80, 2); mapped[18] = 0xff; mapped[19] = 0xff;
    Buffer.from([10, 1, 2, 3]).copy(mapped, 20);
    const unix = (p: Buffer): string => Buffer.concat([Buffer.from([1, 0]), p]).toString('hex');
    expect(sockaddrText(v4.toString('hex'))).toBe('127.0.0.1:8080');
    expect(sockaddrText(v6.toString('hex'))).toBe('[::1]:443');
    expect(sockaddrText(mapped.toString('hex'))).toBe('[::ffff:10.1.2.3]:80');
    expect(sockaddrText(unix(Buffer.from('/tmp/s.sock\0')))).toBe('/tmp/s.sock');
    expect(sockaddrText(unix(Buffer.from('\0name')))).toBe('@name');
    expect(sockaddrText(unix(Buffer.alloc(0)))).toBe('(unnamed)');
  });
});
