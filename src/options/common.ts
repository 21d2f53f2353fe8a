/**
 * Options shared by dmtcp_launch, dmtcp_restart, dmtcp_command and the coordinator:
 * where the coordinator is, and how to find or start one. Both the seed names
 * (--host, --port, DMTCP_HOST, DMTCP_PORT) and current DMTCP names (--coord-host,
 * --coord-port, DMTCP_COORD_HOST, DMTCP_COORD_PORT) are accepted.
 */
import * as os from 'os';
import * as path from 'path';
import { UsageError } from './errors';
import { envFirst, OptSpec, ParseResult, parseIntStrict } from './parser';

export const DEFAULT_HOST = 'localhost';
export const DEFAULT_PORT = 7779;
/** SIGUSR2 on Linux: DMTCP's default checkpoint signal. */
export const DEFAULT_CKPT_SIGNAL = 12;
export const MAX_PORT = 65535;
/** Linux real-time signals end at 64. */
export const MAX_SIGNAL = 64;

export const ENV_HOST = ['DMTCP_COORD_HOST', 'DMTCP_HOST'];
export const ENV_PORT = ['DMTCP_COORD_PORT', 'DMTCP_PORT'];
export const ENV_CKPT_DIR = ['DMTCP_CHECKPOINT_DIR'];
export const ENV_INTERVAL = ['DMTCP_CHECKPOINT_INTERVAL'];
export const ENV_GZIP = ['DMTCP_GZIP'];
export const ENV_SIGNAL = ['DMTCP_SIGCKPT'];
export const ENV_TMPDIR = ['DMTCP_TMPDIR'];

/** 'none': --no-coordinator, each process checkpoints itself on the checkpoint signal. */
export type CoordMode = 'any' | 'join' | 'new' | 'none';
export const ENV_NO_COORDINATOR = ['DMTCP_NO_COORDINATOR'];

export const HOST_SPEC: OptSpec = {
  key: 'host', names: ['-h', '--host', '--coord-host'], kind: 'string', metavar: 'HOSTNAME', env: ENV_HOST,
  helpWhenLast: true, help: `Hostname where dmtcp_coordinator runs (default: ${DEFAULT_HOST})`,
};
export const PORT_SPEC: OptSpec = {
  key: 'port', names: ['-p', '--port', '--coord-port'], kind: 'int', metavar: 'PORT', env: ENV_PORT,
  min: 0, max: MAX_PORT, help: `Port where dmtcp_coordinator listens (default: ${DEFAULT_PORT})`,
};
export const PORT_FILE_SPEC: OptSpec = {
  key: 'portFile', names: ['--port-file'], kind: 'string', metavar: 'FILE',
  help: 'File to write the listener port number to (useful with --port 0)',
};
export const MODE_SPECS: OptSpec[] = [
  { key: 'coordMode', names: ['-j', '--join-coordinator', '--join'], kind: 'flag', value: 'join',
    help: 'Join an existing coordinator; fail if none answers' },
  { key: 'coordMode', names: ['--new-coordinator', '--new'], kind: 'flag', value: 'new',
    help: 'Start a new coordinator; fail if one is already there\n(port 0, i.e. any free port, when no port is given)' },
  { key: 'coordMode', names: ['--any-coordinator'], kind: 'flag', value: 'any',
    help: 'Join a coordinator if one answers, otherwise start one (default)' },
  { key: 'coordMode', names: ['--no-coordinator'], kind: 'flag', value: 'none', env: ENV_NO_COORDINATOR,
    help: 'No coordinator: the process checkpoints itself when sent the checkpoint signal\n(kill -USR2 PID), at --interval, or at dmtcp_checkpoint(); images in --ckptdir\n(DMTCP_NO_COORDINATOR=1; see docs/api.md)' },
];
export const CKPT_DIR_SPEC: OptSpec = {
  key: 'ckptDir', names: ['--ckptdir'], kind: 'string', metavar: 'PATH', env: ENV_CKPT_DIR,
  help: 'Directory to store checkpoint images in (default: ./)',
};
export const INTERVAL_SPEC: OptSpec = {
  key: 'interval', names: ['-i', '--interval'], kind: 'int', metavar: 'SECONDS', env: ENV_INTERVAL, min: 0,
  help: 'Time in seconds between automatic checkpoints (0: disabled)',
};
export const TMPDIR_SPEC: OptSpec = {
  key: 'tmpDir', names: ['--tmpdir'], kind: 'string', metavar: 'PATH', env: ENV_TMPDIR,
  help: 'Directory for temporary files (default: $TMPDIR or /tmp)',
};
export const ENV_QUIET = ['DMTCP_QUIET'];
export const QUIET_SPEC: OptSpec = {
  key: 'quiet', names: ['-q', '--quiet'], kind: 'count', env: ENV_QUIET,
  help: 'Skip notes (a coordinator started, ...); given twice, also the checkpointer\'s\nwarnings (DMTCP_QUIET=0, 1 or 2); errors are always said',
};
export const MAX_QUIET = 2;

/** -q/--quiet given n times, else DMTCP_QUIET, else 0; at most 2. */
export function resolveQuiet(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): number {
  const given = r.values.get('quiet');
  if (typeof given === 'number') return Math.min(given, MAX_QUIET);
  const raw = env.DMTCP_QUIET;
  if (raw === undefined || raw === '') return 0;
  return parseIntStrict(cmd, 'DMTCP_QUIET', raw, 0, 9) > MAX_QUIET ? MAX_QUIET : Number(raw.trim());
}

export const HELP_SPEC: OptSpec = { key: 'help', names: ['--help'], kind: 'flag', help: 'Print this message and exit' };
export const VERSION_SPEC: OptSpec = { key: 'version', names: ['--version'], kind: 'flag', help: 'Print the version and exit' };

/** Option value if given, else the first environment twin, else undefined. */
function strFrom(r: ParseResult, key: string, env: NodeJS.ProcessEnv, names: string[]): string | undefined {
  const v = r.values.get(key);
  if (typeof v === 'string') return v;
  return envFirst(env, names)?.value;
}

function intFrom(cmd: string, r: ParseResult, key: string, env: NodeJS.ProcessEnv, names: string[], min: number, max: number): number | undefined {
  const v = r.values.get(key);
  if (typeof v === 'number') return v;
  const e = envFirst(env, names);
  if (!e) return undefined;
  return parseIntStrict(cmd, `environment variable ${e.name}`, e.value, min, max);
}

export interface CoordAddress {
  host: string;
  port: number;
  /** True when the port came from an option or the environment, not the default. */
  portGiven: boolean;
}

export function resolveAddress(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): CoordAddress {
  const host = strFrom(r, 'host', env, ENV_HOST) ?? DEFAULT_HOST;
  const port = intFrom(cmd, r, 'port', env, ENV_PORT, 0, MAX_PORT);
  return { host, port: port ?? DEFAULT_PORT, portGiven: port !== undefined };
}

export function resolveMode(r: ParseResult, env: NodeJS.ProcessEnv = {}): CoordMode {
  const v = r.values.get('coordMode');
  if (v === 'join' || v === 'new' || v === 'none' || v === 'any') return v;
  return env.DMTCP_NO_COORDINATOR === '1' ? 'none' : 'any';
}

export function resolveInterval(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): number | undefined {
  return intFrom(cmd, r, 'interval', env, ENV_INTERVAL, 0, Number.MAX_SAFE_INTEGER);
}

/** Checkpoint dir as an absolute path (relative paths are taken from the cwd now). */
export function resolveCkptDir(r: ParseResult, env: NodeJS.ProcessEnv): string | undefined {
  const d = strFrom(r, 'ckptDir', env, ENV_CKPT_DIR);
  return d === undefined ? undefined : path.resolve(d);
}

export function resolveTmpDir(r: ParseResult, env: NodeJS.ProcessEnv): string {
  const d = strFrom(r, 'tmpDir', env, ENV_TMPDIR) ?? envFirst(env, ['TMPDIR'])?.value ?? os.tmpdir();
  return path.resolve(d);
}

export function resolveSignal(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): number {
  return intFrom(cmd, r, 'ckptSignal', env, ENV_SIGNAL, 1, MAX_SIGNAL) ?? DEFAULT_CKPT_SIGNAL;
}

/**
 * An on/off setting: its --flag/--no-flag wins; otherwise its environment
 * variable, 0 or 1 (empty counts as unset); otherwise `byDefault`.
 */
export function resolveSwitch(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv, key: string, envNames: string[], byDefault: boolean): boolean {
  const v = r.values.get(key);
  if (typeof v === 'boolean') return v;
  const e = envFirst(env, envNames);
  if (!e || e.value === '') return byDefault;
  if (e.value === '0') return false;
  if (e.value === '1') return true;
  throw new UsageError(`${cmd}: environment variable ${e.name} must be 0 or 1, got '${e.value}'`);
}

/** DMTCP_GZIP=0 disables, 1 enables; the options win over the environment. */
export function resolveGzip(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): boolean {
  return resolveSwitch(cmd, r, env, 'gzip', ENV_GZIP, true);
}

export const ENV_ENCODER_SERVICE = ['DMTCP_ENCODER_SERVICE'];

/** The resident encoder (src/service/): on unless --no-encoder-service or DMTCP_ENCODER_SERVICE=0. */
export const ENCODER_SERVICE_SPECS: OptSpec[] = [
  { key: 'encoderService', names: ['--no-encoder-service'], kind: 'flag', value: false, env: ENV_ENCODER_SERVICE,
    help: 'Start an image encoder for every checkpoint instead of keeping one resident (DMTCP_ENCODER_SERVICE=0)' },
  { key: 'encoderService', names: ['--encoder-service'], kind: 'flag', value: true, env: ENV_ENCODER_SERVICE,
    help: 'Keep one image encoder resident for the computation on this host (DMTCP_ENCODER_SERVICE=1, default)' },
];

export function resolveEncoderService(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): boolean {
  return resolveSwitch(cmd, r, env, 'encoderService', ENV_ENCODER_SERVICE, true);
}

export function flag(r: ParseResult, key: string): boolean {
  return r.values.get(key) === true;
}

export function optString(r: ParseResult, key: string): string | undefined {
  const v = r.values.get(key);
  return typeof v === 'string' ? v : undefined;
}
