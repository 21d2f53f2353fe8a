/** dmtcp_restart options: the coordinator fields of dmtcp_launch plus image paths. */
import * as path from 'path';
import { UsageError } from './errors';
import { OptSpec, parseArgv } from './parser';
import {
  CKPT_DIR_SPEC, CoordMode, flag, HELP_SPEC, HOST_SPEC, INTERVAL_SPEC, MODE_SPECS, optString, PORT_FILE_SPEC,
  PORT_SPEC, resolveAddress, resolveCkptDir, resolveInterval, resolveMode, resolveTmpDir, TMPDIR_SPEC,
  VERSION_SPEC, ENCODER_SERVICE_SPECS, resolveEncoderService, QUIET_SPEC, resolveQuiet, resolveSwitch,
} from './common';

/** DMTCP_RESTART_MMAP=0 reads every page up front, as --no-mmap does. */
export const ENV_RESTART_MMAP = ['DMTCP_RESTART_MMAP'];

const MMAP_SPECS: OptSpec[] = [
  { key: 'mmap', names: ['--no-mmap'], kind: 'flag', value: false, env: ENV_RESTART_MMAP,
    help: 'Read and verify every page of raw images before the program runs, instead of mapping them from the image file (DMTCP_RESTART_MMAP=0)' },
  { key: 'mmap', names: ['--mmap'], kind: 'flag', value: true, env: ENV_RESTART_MMAP,
    help: 'Map the memory of raw images from the image file; pages are read when first touched (DMTCP_RESTART_MMAP=1, default)' },
];

export interface RestartOptions {
  host: string;
  port: number;
  coordMode: CoordMode;
  portFile?: string;
  /** Where the next checkpoints go; undefined: the directory recorded at launch. */
  ckptDir?: string;
  /** Directory to look for the images in (-d/--restartdir); undefined: as given. */
  restartDir?: string;
  interval?: number;
  tmpDir: string;
  /** Keep one encoder resident for the restarted computation (default). */
  encoderService: boolean;
  /** Map raw images' memory from the image file (default) instead of reading it up front (docs/restore-plan.md). */
  mmap: boolean;
  /** -q/--quiet (DMTCP_QUIET): 1 skips our notes, 2 the agent's warnings too. */
  quiet: number;
  images: string[];
  help: boolean;
  version: boolean;
}

export const RESTART_SPECS: OptSpec[] = [
  HOST_SPEC, PORT_SPEC, PORT_FILE_SPEC, ...MODE_SPECS, INTERVAL_SPEC, CKPT_DIR_SPEC,
  { key: 'restartDir', names: ['-d', '--restartdir'], kind: 'string', metavar: 'PATH',
    help: 'Directory to read the checkpoint images from (relative image names)' },
  ...ENCODER_SERVICE_SPECS, ...MMAP_SPECS, TMPDIR_SPEC, QUIET_SPEC, HELP_SPEC, VERSION_SPEC,
];

export function parseRestartArgs(argv: string[], env: NodeJS.ProcessEnv, cmd = 'dmtcp_restart'): RestartOptions {
  const r = parseArgv(cmd, argv, RESTART_SPECS, { stopAtFirstWord: false });
  const help = flag(r, 'help');
  const version = flag(r, 'version');
  const addr = resolveAddress(cmd, r, env);
  const coordMode = resolveMode(r, env);
  const restartDir = optString(r, 'restartDir');
  const portFile = optString(r, 'portFile');
  const opts: RestartOptions = {
    host: addr.host,
    port: coordMode === 'new' && !addr.portGiven ? 0 : addr.port,
    coordMode,
    portFile: portFile === undefined ? undefined : path.resolve(portFile),
    ckptDir: resolveCkptDir(r, env),
    restartDir: restartDir === undefined ? undefined : path.resolve(restartDir),
    interval: resolveInterval(cmd, r, env),
    tmpDir: resolveTmpDir(r, env),
    encoderService: resolveEncoderService(cmd, r, env),
    mmap: resolveSwitch(cmd, r, env, 'mmap', ENV_RESTART_MMAP, true),
    quiet: resolveQuiet(cmd, r, env),
    images: r.rest,
    help,
    version,
  };
  if (!help && !version && opts.images.length === 0) {
    throw new UsageError(`${cmd}: no checkpoint image given (usage: ${cmd} [OPTIONS] ckpt_FILE1.dmtcp [ckpt_FILE2.dmtcp...]; try --help)`);
  }
  if (opts.coordMode === 'join' && opts.port === 0) {
    throw new UsageError(`${cmd}: --join-coordinator needs a real port, not 0`);
  }
  return opts;
}
