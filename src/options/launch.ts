/** dmtcp_launch (and its old name dmtcp_checkpoint) options. */
import * as path from 'path';
import { UsageError } from './errors';
import { OptSpec, ParseResult, parseArgv } from './parser';
import {
  CKPT_DIR_SPEC, CoordMode, ENV_GZIP, ENV_SIGNAL, HELP_SPEC, HOST_SPEC, INTERVAL_SPEC, MAX_SIGNAL, MODE_SPECS,
  optString, PORT_FILE_SPEC, PORT_SPEC, resolveAddress, resolveCkptDir, resolveGzip, resolveInterval,
  resolveMode, resolveSignal, resolveTmpDir, TMPDIR_SPEC, VERSION_SPEC, flag, DEFAULT_CKPT_SIGNAL,
  ENCODER_SERVICE_SPECS, resolveEncoderService, resolveSwitch, QUIET_SPEC, resolveQuiet,
} from './common';

export interface LaunchOptions {
  host: string;
  port: number;
  coordMode: CoordMode;
  portFile?: string;
  /** Absolute; default the current directory. */
  ckptDir: string;
  gzip: boolean;
  /** HBICT delta images (DMTCP_HBICT=1); off by default. */
  hbict: boolean;
  /**
   * Forked checkpointing (docs/forked-checkpoint.md): true or false when asked
   * (--[no-]forked-checkpointing, DMTCP_FORKED_CHECKPOINT=1|0); undefined: the
   * agent forks whenever it finds it safe.
   */
  forked?: boolean;
  interval?: number;
  ckptSignal: number;
  tmpDir: string;
  /** Keep one encoder resident for the computation (default) or start one per checkpoint. */
  encoderService: boolean;
  /** --checkpoint-open-files, --allow-file-overwrite. */
  ckptOpenFiles: boolean;
  allowFileOverwrite: boolean;
  /** Plugin libraries loaded into every process after the agent (--with-plugin, DMTCP_PLUGIN). */
  plugins: string[];
  /** -q/--quiet (DMTCP_QUIET): 1 skips our notes, 2 the agent's warnings too. */
  quiet: number;
  /** The program and its arguments, untouched. */
  program: string[];
  help: boolean;
  version: boolean;
}

export const SIGNAL_SPEC: OptSpec = {
  key: 'ckptSignal', names: ['--mtcp-checkpoint-signal', '--ckpt-signal'], kind: 'int', metavar: 'SIGNUM',
  env: ENV_SIGNAL, min: 1, max: MAX_SIGNAL,
  help: `Signal number used internally for checkpointing; must not be used by the program\n(default: ${DEFAULT_CKPT_SIGNAL} = SIGUSR2)`,
};

export const ENV_HBICT = ['DMTCP_HBICT'];
export const ENV_FORKED = ['DMTCP_FORKED_CHECKPOINT'];
export const ENV_PLUGIN = ['DMTCP_PLUGIN'];

export const ENV_CKPT_OPEN_FILES = ['DMTCP_CKPT_OPEN_FILES'];
export const ENV_ALLOW_FILE_OVERWRITE = ['DMTCP_ALLOW_FILE_OVERWRITE'];
export const FILE_SPECS: OptSpec[] = [
  { key: 'ckptOpenFiles', names: ['--checkpoint-open-files', '--ckpt-open-files'], kind: 'flag', value: true, env: ENV_CKPT_OPEN_FILES,
    help: 'Carry the contents of the regular files the program has open in the image: a\nrestart writes back one that is gone (DMTCP_CKPT_OPEN_FILES=1)' },
  { key: 'allowFileOverwrite', names: ['--allow-file-overwrite'], kind: 'flag', value: true, env: ENV_ALLOW_FILE_OVERWRITE,
    help: 'With --checkpoint-open-files: a restart writes the checkpoint\'s contents over a file\nthat changed since (otherwise it stops with one line; DMTCP_ALLOW_FILE_OVERWRITE=1)' },
];
export const ENV_DISABLE_PLUGINS = ['DMTCP_DISABLE_ALL_PLUGINS'];
export const DISABLE_PLUGINS_SPEC: OptSpec = {
  key: 'disablePlugins', names: ['--disable-all-plugins'], kind: 'flag', value: true, env: ENV_DISABLE_PLUGINS,
  help: 'Load no plugin, whatever --with-plugin or DMTCP_PLUGIN say (DMTCP_DISABLE_ALL_PLUGINS=1)',
};

export const PLUGIN_SPEC: OptSpec = {
  key: 'plugins', names: ['--with-plugin'], kind: 'string', metavar: 'PLUGINS', env: ENV_PLUGIN,
  help: 'Load these plugins into every process, a colon-separated list of absolute paths to\n.so files (DMTCP_PLUGIN); see docs/api.md',
};

/** --hbict/--no-hbict win; otherwise DMTCP_HBICT=0|1; off by default. */
function resolveHbict(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): boolean {
  return resolveSwitch(cmd, r, env, 'hbict', ENV_HBICT, false);
}

/** --[no-]forked-checkpointing win; otherwise DMTCP_FORKED_CHECKPOINT=0|1; unset or empty: when safe. */
function resolveForked(cmd: string, r: ParseResult, env: NodeJS.ProcessEnv): boolean | undefined {
  const asked = r.values.get('forked');
  if (typeof asked === 'boolean') return asked;
  const e = env.DMTCP_FORKED_CHECKPOINT;
  return e === undefined || e === '' ? undefined : resolveSwitch(cmd, r, env, 'forked', ENV_FORKED, false);
}

export const LAUNCH_SPECS: OptSpec[] = [
  HOST_SPEC, PORT_SPEC, PORT_FILE_SPEC, ...MODE_SPECS, INTERVAL_SPEC,
  CKPT_DIR_SPEC,
  { key: 'gzip', names: ['--no-gzip'], kind: 'flag', value: false, env: ENV_GZIP,
    help: 'Do not compress checkpoint images (DMTCP_GZIP=0); faster for large images' },
  { key: 'gzip', names: ['--gzip'], kind: 'flag', value: true, env: ENV_GZIP,
    help: 'Compress checkpoint images with gzip (DMTCP_GZIP=1, default)' },
  { key: 'hbict', names: ['--hbict'], kind: 'flag', value: true, env: ENV_HBICT,
    help: 'Write later checkpoints as deltas of the previous one (HBICT, DMTCP_HBICT=1)' },
  { key: 'hbict', names: ['--no-hbict'], kind: 'flag', value: false, env: ENV_HBICT,
    help: 'Write every checkpoint as a full image (DMTCP_HBICT=0, default)' },
  { key: 'forked', names: ['--forked-checkpointing'], kind: 'flag', value: true, env: ENV_FORKED,
    help: 'Freeze the program only while a copy-on-write child is made; the child writes the\nimage while the program runs on (DMTCP_FORKED_CHECKPOINT=1; default: when safe,\nsee docs/forked-checkpoint.md)' },
  { key: 'forked', names: ['--no-forked-checkpointing'], kind: 'flag', value: false, env: ENV_FORKED,
    help: 'Keep the program frozen until its image is written (DMTCP_FORKED_CHECKPOINT=0)' },
  ...ENCODER_SERVICE_SPECS, SIGNAL_SPEC, PLUGIN_SPEC, DISABLE_PLUGINS_SPEC, ...FILE_SPECS, TMPDIR_SPEC, QUIET_SPEC, HELP_SPEC, VERSION_SPEC,
];

export function parseLaunchArgs(argv: string[], env: NodeJS.ProcessEnv, cmd = 'dmtcp_launch'): LaunchOptions {
  const r = parseArgv(cmd, argv, LAUNCH_SPECS, { stopAtFirstWord: true });
  const help = flag(r, 'help');
  const version = flag(r, 'version');
  const addr = resolveAddress(cmd, r, env);
  const coordMode = resolveMode(r, env);
  const opts: LaunchOptions = {
    host: addr.host,
    // A new coordinator with no port asked for takes any free port (DMTCP does the same).
    port: coordMode === 'new' && !addr.portGiven ? 0 : addr.port,
    coordMode,
    portFile: optString(r, 'portFile'),
    ckptDir: resolveCkptDir(r, env) ?? path.resolve('.'),
    gzip: resolveGzip(cmd, r, env),
    hbict: resolveHbict(cmd, r, env),
    forked: resolveForked(cmd, r, env),
    interval: resolveInterval(cmd, r, env),
    ckptSignal: resolveSignal(cmd, r, env),
    tmpDir: resolveTmpDir(r, env),
    encoderService: resolveEncoderService(cmd, r, env),
    ckptOpenFiles: resolveSwitch(cmd, r, env, 'ckptOpenFiles', ENV_CKPT_OPEN_FILES, false),
    allowFileOverwrite: resolveSwitch(cmd, r, env, 'allowFileOverwrite', ENV_ALLOW_FILE_OVERWRITE, false),
    plugins: resolveSwitch(cmd, r, env, 'disablePlugins', ENV_DISABLE_PLUGINS, false) ? []
      : (optString(r, 'plugins') ?? env.DMTCP_PLUGIN ?? '').split(':').filter((p) => p !== ''),
    quiet: resolveQuiet(cmd, r, env),
    program: r.rest,
    help,
    version,
  };
  if (opts.portFile !== undefined) opts.portFile = path.resolve(opts.portFile);
  if (!help && !version && opts.program.length === 0) {
    throw new UsageError(`${cmd}: no program to launch (usage: ${cmd} [OPTIONS] <command> [args...]; try --help)`);
  }
  if (opts.coordMode === 'join' && opts.port === 0) {
    throw new UsageError(`${cmd}: --join-coordinator needs a real port, not 0`);
  }
  return opts;
}
