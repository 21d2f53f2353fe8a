/** dmtcp_command [OPTIONS] COMMAND: talk to a running coordinator. */
import { commandHelp, CommandOptions, errorLine, failRc, parseCommandArgs } from '../options';
import { preamble } from './preamble';
import { CommandReply, sendCommand } from '../coordinator/client';
import { formatCommandStatus, formatCoordinatorHeader, formatList, JSON_SCHEMA_VERSION, StatusInfo } from '../coordinator/format';
import { NoCoordinatorError } from '../coordinator/client';
import { PeerInfo } from '../coordinator/registry';
import { Message } from '../coordinator/codec';

const CMD = 'dmtcp_command';

type Json = Record<string, unknown>;

function num(v: string | undefined): number {
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : 0;
}

function statusFrom(m: Message | undefined): StatusInfo | undefined {
  if (!m) return undefined;
  const f = m.fields;
  return {
    host: f.host ?? '', bind: f.bind ?? '', port: num(f.port), numPeers: num(f.num_peers), running: f.running === 'yes',
    interval: num(f.interval), gen: num(f.gen), compId: f.comp && f.comp !== '-' ? f.comp : undefined,
    ckptDir: f.ckpt_dir ?? '', barrier: f.barrier && f.barrier !== '-' ? f.barrier : undefined, exitOnLast: f.exit_on_last === '1',
  };
}

function peersFrom(lines: Message[]): PeerInfo[] {
  return lines.filter((l) => l.verb === 'PEER').map((l) => {
    const f = l.fields;
    return {
      num: num(f.num), id: f.id ?? '', prog: f.prog ?? '', pid: num(f.pid), rpid: num(f.rpid), ppid: num(f.ppid),
      host: f.host ?? '', state: (f.state ?? 'RUNNING') as PeerInfo['state'], gen: num(f.gen),
    };
  });
}

/** DMTCP's JSON `type`: the blocking and killing checkpoints are checkpoints. */
function dmtcpType(c: CommandOptions['command']): string {
  return c === 'bcheckpoint' || c === 'kcheckpoint' ? 'checkpoint' : c ?? 'unknown';
}

/** DMTCP's `error_code` values. */
export type JsonErrorCode = 'coordinator_not_found' | 'invalid_command' | 'not_running' | 'unknown_error';

/**
 * The JSON document: DMTCP 5's field names (`command`, `command_status`, and the
 * older `type`/`ok`/`error_code`/`error_message` too), plus what this command returned.
 */
function jsonDoc(o: CommandOptions, reply: CommandReply | undefined, error?: { code: JsonErrorCode; message: string }): Json {
  const doc: Json = {
    schema_version: JSON_SCHEMA_VERSION,
    command: o.command,
    command_status: error ? 'error' : 'ok',
    type: dmtcpType(o.command),
    ok: !error,
    coordinator_host: o.host,
    coordinator_port: o.port,
  };
  if (error) {
    doc.error = error.message;
    doc.error_code = error.code;
    doc.error_message = error.message;
  }
  if (!reply) return doc;
  const s = statusFrom(reply.lines.find((l) => l.verb === 'STATUS'));
  if (s) {
    doc.num_peers = s.numPeers;
    doc.running = s.running;
    doc.checkpoint_interval = s.interval;
    doc.generation = s.gen;
    doc.computation_id = s.compId ?? null;
    doc.checkpoint_dir = s.ckptDir;
  }
  if (o.command === 'list') {
    const peers = peersFrom(reply.lines);
    doc.num_peers = peers.length;
    doc.peers = peers.map((p) => ({
      num: p.num, program: p.prog, virtual_pid: p.pid, real_pid: p.rpid, ppid: p.ppid, host: p.host, unique_id: p.id,
      state: p.state, generation: p.gen,
    }));
  }
  const images = reply.lines.filter((l) => l.verb === 'IMAGE');
  if (images.length) doc.images = images.map((l) => ({ unique_id: l.fields.id, program: l.fields.prog, host: l.fields.host, path: l.fields.path }));
  const script = reply.lines.find((l) => l.verb === 'SCRIPT');
  if (script) doc.restart_script = script.fields.path;
  const killed = reply.lines.find((l) => l.verb === 'KILLED');
  if (killed) doc.killed = num(killed.fields.count);
  const interval = reply.lines.find((l) => l.verb === 'INTERVAL');
  if (interval) doc.checkpoint_interval = num(interval.fields.value);
  if (reply.done.fields.gen !== undefined) doc.generation = num(reply.done.fields.gen);
  return doc;
}

function printText(o: CommandOptions, reply: CommandReply): void {
  if (o.command === 'status') {
    const s = statusFrom(reply.lines.find((l) => l.verb === 'STATUS'));
    if (s) process.stdout.write(formatCommandStatus(o.host, o.port, s));
  } else if (o.command === 'list') {
    process.stdout.write(formatCoordinatorHeader(o.host, o.port) + formatList(peersFrom(reply.lines)));
  } else if (o.command === 'interval') {
    process.stdout.write(`Interval changed to ${o.value}\n`);
  }
  // checkpoint, kill, quit: silent on success, as DMTCP's.
}

export async function main(argv: string[]): Promise<number> {
  const env = process.env;
  if (argv.length === 0) {
    // The seeds: dmtcp_command prints its options when run with no arguments.
    process.stderr.write(commandHelp(CMD));
    return failRc(env);
  }
  const pre = preamble(CMD, () => parseCommandArgs(argv, env, CMD), commandHelp);
  if ('exit' in pre) return pre.exit;
  const o: CommandOptions = pre.opts;

  let reply: CommandReply;
  try {
    reply = await sendCommand(o.host, o.port, o.command!, o.value);
  } catch (e) {
    const msg = errorLine(e);
    const code: JsonErrorCode = e instanceof NoCoordinatorError ? 'coordinator_not_found' : 'unknown_error';
    if (o.json) process.stdout.write(JSON.stringify(jsonDoc(o, undefined, { code, message: msg })) + '\n');
    else process.stderr.write(`${CMD}: ${msg}\n`);
    return failRc(env);
  }
  if (!reply.ok) {
    const msg = `${o.command} failed: ${reply.reason ?? 'no reason given'}`;
    // The coordinator refuses a checkpoint when nothing runs or one is under way.
    const code: JsonErrorCode = /unknown command/.test(reply.reason ?? '') ? 'invalid_command'
      : /no processes|already in progress/.test(reply.reason ?? '') ? 'not_running' : 'unknown_error';
    if (o.json) process.stdout.write(JSON.stringify(jsonDoc(o, reply, { code, message: msg })) + '\n');
    else process.stderr.write(`${CMD}: ${msg}\n`);
    return failRc(env);
  }
  if (o.json) process.stdout.write(JSON.stringify(jsonDoc(o, reply)) + '\n');
  else printText(o, reply);
  return 0;
}
