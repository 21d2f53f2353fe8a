/** dmtcp_coordinator options. */
import * as path from 'path';
import { UsageError } from './errors';
import { OptSpec, parseArgv, parseIntStrict } from './parser';
import {
  CKPT_DIR_SPEC, DEFAULT_PORT, ENV_PORT, flag, HELP_SPEC, INTERVAL_SPEC, MAX_PORT, optString, PORT_FILE_SPEC,
  resolveCkptDir, resolveInterval, resolveTmpDir, TMPDIR_SPEC, VERSION_SPEC,
} from './common';
import { envFirst } from './parser';

/** Loopback unless told otherwise: the design promises no open port by default. */
export const DEFAULT_BIND = '127.0.0.1';

export interface CoordinatorOptions {
  /** 0 = pick a free port and print it. */
  port: number;
  portFile?: string;
  /** Absolute; where dmtcp_restart_script.sh goes (default: cwd). */
  ckptDir: string;
  /** Address to listen on. */
  bind: string;
  exitOnLast: boolean;
  exitAfterCkpt: boolean;
  daemon: boolean;
  /** Seconds between automatic checkpoints; 0 = off. */
  interval: number;
  tmpDir: string;
  quiet: boolean;
  help: boolean;
  version: boolean;
}

export const COORDINATOR_SPECS: OptSpec[] = [
  { key: 'port', names: ['-p', '--port', '--coord-port'], kind: 'int', metavar: 'PORT', env: ENV_PORT, min: 0, max: MAX_PORT,
    help: `Port to listen on (default: ${DEFAULT_PORT}; 0: any free port, printed)` },
  PORT_FILE_SPEC,
  { key: 'bind', names: ['--bind'], kind: 'string', metavar: 'ADDR',
    help: `Address to listen on (default: ${DEFAULT_BIND}; 0.0.0.0 for other hosts)` },
  { ...CKPT_DIR_SPEC, help: 'Directory where dmtcp_restart_script.sh is written (default: ./)' },
  TMPDIR_SPEC,
  { key: 'exitOnLast', names: ['--exit-on-last'], kind: 'flag', help: 'Exit when the last process disconnects' },
  { key: 'exitAfterCkpt', names: ['--exit-after-ckpt'], kind: 'flag', help: 'Kill all processes after the first checkpoint' },
  { key: 'daemon', names: ['--daemon'], kind: 'flag', help: 'Run in the background, detached from the terminal' },
  { ...INTERVAL_SPEC, help: 'Time in seconds between automatic checkpoints (default: 0, disabled)' },
  { key: 'quiet', names: ['-q', '--quiet'], kind: 'flag', help: 'Print fewer messages' },
  // The coordinator has no host option, so '-h' is help here (seeds: "--help or -h").
  { ...HELP_SPEC, names: ['-h', '--help'] }, VERSION_SPEC,
];

export function parseCoordinatorArgs(argv: string[], env: NodeJS.ProcessEnv, cmd = 'dmtcp_coordinator'): CoordinatorOptions {
  const r = parseArgv(cmd, argv, COORDINATOR_SPECS, { stopAtFirstWord: false });
  if (r.rest.length > 1) throw new UsageError(`${cmd}: unexpected argument '${r.rest[1]}' (try --help)`);
  let port: number;
  const opt = r.values.get('port');
  if (typeof opt === 'number') port = opt;
  else if (r.rest.length === 1) port = parseIntStrict(cmd, 'port', r.rest[0], 0, MAX_PORT);
  else {
    const e = envFirst(env, ENV_PORT);
    port = e ? parseIntStrict(cmd, `environment variable ${e.name}`, e.value, 0, MAX_PORT) : DEFAULT_PORT;
  }
  const portFile = optString(r, 'portFile');
  return {
    port,
    portFile: portFile === undefined ? undefined : path.resolve(portFile),
    ckptDir: resolveCkptDir(r, env) ?? path.resolve('.'),
    bind: optString(r, 'bind') ?? DEFAULT_BIND,
    exitOnLast: flag(r, 'exitOnLast'),
    exitAfterCkpt: flag(r, 'exitAfterCkpt'),
    daemon: flag(r, 'daemon'),
    interval: resolveInterval(cmd, r, env) ?? 0,
    tmpDir: resolveTmpDir(r, env),
    quiet: flag(r, 'quiet'),
    help: flag(r, 'help'),
    version: flag(r, 'version'),
  };
}
