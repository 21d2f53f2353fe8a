/**
 * Text and JSON shapes of status and list, shared by dmtcp_command and the
 * coordinator's keys. Job scripts written for DMTCP parse these: keep the shape.
 */
import { PeerInfo } from './registry';

/** Bumped when a field changes meaning or disappears (adding fields does not bump it). */
export const JSON_SCHEMA_VERSION = 1;

export interface StatusInfo {
  /** The coordinator's hostname. */
  host: string;
  /** Address it listens on. */
  bind: string;
  port: number;
  numPeers: number;
  running: boolean;
  interval: number;
  gen: number;
  compId?: string;
  ckptDir: string;
  /** Barrier being waited on, if a checkpoint is in progress. */
  barrier?: string;
  exitOnLast: boolean;
}

/** DMTCP's `CKPT_INTERVAL=` line value: the seconds, with a note when off. */
function intervalValue(seconds: number): string {
  return seconds > 0 ? String(seconds) : '0 (checkpoint manually)';
}

/** `dmtcp_command -s` and `-l` start with the address used. */
export function formatCoordinatorHeader(host: string, port: number): string {
  return `Coordinator:\n  Host: ${host}\n  Port: ${port}\n`;
}

/** `dmtcp_command -s`: the address used, then DMTCP's KEY=value lines. */
export function formatCommandStatus(host: string, port: number, s: StatusInfo): string {
  return formatCoordinatorHeader(host, port) + [
    'Status...',
    `  NUM_PEERS=${s.numPeers}`,
    `  RUNNING=${s.running ? 'yes' : 'no'}`,
    `  CKPT_INTERVAL=${intervalValue(s.interval)}`,
    '',
  ].join('\n');
}

/** The coordinator's `s` key: more detail, same KEY=value lines at the end. */
export function formatCoordinatorStatus(s: StatusInfo): string {
  return [
    'Status...',
    `  Host: ${s.host} (${s.bind})`,
    `  Port: ${s.port}`,
    `  Checkpoint Interval: ${s.interval > 0 ? `${s.interval} s` : 'disabled (checkpoint manually instead)'}`,
    `  Exit on last client: ${s.exitOnLast ? 1 : 0}`,
    `  Computation Id: ${s.compId ?? '-'}`,
    `  Checkpoint Generation: ${s.gen}`,
    `  Checkpoint Dir: ${s.ckptDir}`,
    `  Checkpoint in progress: ${s.barrier ?? 'no'}`,
    `  NUM_PEERS=${s.numPeers}`,
    `  RUNNING=${s.running ? 'yes' : 'no'}`,
    `  CKPT_INTERVAL=${intervalValue(s.interval)}`,
    '',
  ].join('\n');
}

/** One client a line: number, program[virtual pid:real pid]@host, unique id, state. */
export function formatList(peers: PeerInfo[]): string {
  const lines = ['Client List:', '#, PROG[virtPID:realPID]@HOST, DMTCP-UNIQUEPID, STATE'];
  for (const p of peers) lines.push(`${p.num}, ${p.prog}[${p.pid}:${p.rpid}]@${p.host}, ${p.id}, ${p.state}`);
  return lines.join('\n') + '\n';
}
