/**
 * The command side of the wire protocol: `CMD name=... [value=N]` answered with
 * reply lines and one `DONE status=ok|error [reason=...]` (see docs/protocol.md).
 */
import { encodeMessage, Message } from './codec';
import { CheckpointOutcome, Coordinator } from './core';

type Reply = (verb: string, fields?: Record<string, string | number | boolean | undefined>) => void;

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function replyOutcome(reply: Reply, o: CheckpointOutcome): void {
  for (const img of o.images) reply('IMAGE', { id: img.id, prog: img.prog, host: img.host, path: img.path, forked: img.forked ? 1 : 0 });
  if (o.script) reply('SCRIPT', { path: o.script });
  for (const id of o.dropped) reply('DROPPED', { id });
}

/** Run one CMD; every path ends with exactly one DONE. */
export async function runCommand(coord: Coordinator, m: Message, reply: Reply): Promise<void> {
  const name = m.fields.name ?? '';
  const done = (ok: boolean, extra: Record<string, string | number | undefined> = {}) =>
    reply('DONE', { status: ok ? 'ok' : 'error', ...extra });
  switch (name) {
    case 'status': {
      const s = coord.status();
      reply('STATUS', {
        host: s.host, bind: s.bind, port: s.port, num_peers: s.numPeers, running: yesNo(s.running),
        interval: s.interval, gen: s.gen, comp: s.compId ?? '-', ckpt_dir: s.ckptDir, barrier: s.barrier ?? '-',
        exit_on_last: s.exitOnLast ? 1 : 0,
      });
      return done(true);
    }
    case 'barrier': {
      const name = m.fields.barrier ?? '';
      if (!name) return done(false, { reason: 'barrier needs barrier=<name>' });
      const all = await coord.userBarrier(name, Number(m.fields.count ?? 0) || 0);
      return done(all, all ? {} : { reason: `not every process reached barrier ${name}` });
    }
    case 'kv': {
      // keys and values travel hex-encoded: any bytes
      const hex = (f?: string): string | undefined => (f === undefined ? undefined : Buffer.from(f, 'hex').toString('latin1'));
      const a = coord.kv.request(m.fields.op ?? '', hex(m.fields.db) ?? '', hex(m.fields.key) ?? '', hex(m.fields.val));
      reply('KV', { response: a.response, old: a.old === undefined ? undefined : Buffer.from(a.old, 'latin1').toString('hex') });
      return done(true);
    }
    case 'list': {
      for (const p of coord.list()) {
        reply('PEER', { num: p.num, id: p.id, prog: p.prog, pid: p.pid, rpid: p.rpid, ppid: p.ppid, host: p.host, state: p.state, gen: p.gen });
      }
      return done(true);
    }
    case 'checkpoint':
    case 'bcheckpoint':
    case 'kcheckpoint': {
      const started = coord.checkpoint(name === 'kcheckpoint' ? 'kill' : 'resume');
      if ('error' in started) return done(false, { reason: started.error });
      if (name === 'checkpoint') return done(true, { gen: started.gen });
      const o = await started.done;
      replyOutcome(reply, o);
      if (name === 'kcheckpoint' && o.ok) {
        await coord.gone(coord.list().map((p) => p.id));   // all were told KILL
        reply('KILLED', { count: o.images.length });
      }
      return done(o.ok, { gen: o.gen, reason: o.reason });
    }
    case 'kill': {
      const told = coord.list().map((p) => p.id);
      const count = coord.kill();
      await coord.gone(told);
      reply('KILLED', { count });
      return done(true);
    }
    case 'take-force':
      // dmtcp_restart with images missing: was `f` pressed? (answering clears it)
      return done(true, { forced: coord.takeForce() ? 1 : 0 });
    case 'quit': {
      // Reply first: the shutdown closes this connection.
      const n = coord.registry.size;
      reply('KILLED', { count: n });
      done(true);
      setImmediate(() => coord.quit());
      return;
    }
    case 'interval': {
      const v = m.fields.value ?? '';
      if (!/^\d+$/.test(v)) return done(false, { reason: 'interval needs value=<seconds>' });
      coord.setInterval(Number(v));
      reply('INTERVAL', { value: coord.interval });
      return done(true);
    }
    default:
      return done(false, { reason: `unknown command '${name}'` });
  }
}

export function makeReply(send: (line: string) => void): Reply {
  return (verb, fields) => send(encodeMessage(verb, fields ?? {}));
}
