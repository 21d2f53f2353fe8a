/**
 * Writes dmtcp_restart_script.sh: plain POSIX sh, absolute paths, that restarts the
 * whole computation. A versioned file dmtcp_restart_script_<compid>.sh is written under
 * a temporary name and renamed; the stable name is a symlink to it, replaced atomically
 * (a crash never leaves a torn script under either name).
 *
 * Like DMTCP's script, the coordinator address can be overridden at restart time by
 * options (-h/--coord-host, -p/--coord-port) or the environment (DMTCP_COORD_HOST,
 * DMTCP_HOST, DMTCP_COORD_PORT, DMTCP_PORT); the recorded address is the default.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImageInfo } from './barrier';

export const STABLE_SCRIPT_NAME = 'dmtcp_restart_script.sh';
export const SCRIPT_MODE = 0o755;

/** From dist/coordinator/: the package's bin/dmtcp_restart. */
export function defaultRestartBin(): string {
  return path.resolve(__dirname, '../../bin/dmtcp_restart');
}

export function versionedScriptName(compId: string): string {
  return `dmtcp_restart_script_${compId}.sh`;
}

export interface RestartScriptInput {
  dir: string;
  compId: string;
  gen: number;
  host: string;
  port: number;
  images: ImageInfo[];
  restartBin?: string;
  /** Hostname of the coordinator's machine: images from it restart locally. */
  localHost?: string;
  /** The coordinator's checkpoint interval (seconds, 0: none): the restarted computation's too, as with DMTCP's script. */
  interval?: number;
  now?: Date;
}

/** Quote for sh: single quotes, embedded ' as '\''. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Images grouped by the host they were written on, local host first. */
function byHost(images: ImageInfo[], localHost: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  groups.set(localHost, []);
  for (const img of images) {
    const h = img.host && img.host !== 'localhost' ? img.host : localHost;
    if (!groups.has(h)) groups.set(h, []);
    groups.get(h)!.push(path.resolve(img.path));
  }
  if (groups.get(localHost)!.length === 0) groups.delete(localHost);
  return groups;
}

export function renderRestartScript(input: RestartScriptInput): string {
  const localHost = input.localHost ?? os.hostname();
  const restartBin = input.restartBin ?? defaultRestartBin();
  const groups = byHost(input.images, localHost);
  const when = (input.now ?? new Date()).toISOString();
  const lines: string[] = [];
  lines.push(
    '#!/bin/sh',
    `# ${STABLE_SCRIPT_NAME}: written by dmtcp_coordinator at ${when}`,
    `# computation ${input.compId}, checkpoint generation ${input.gen}, ${input.images.length} process(es).`,
    '# Restarts the whole computation. Edit the host lines below to migrate processes.',
    '#',
    '# Usage: ./dmtcp_restart_script.sh [OPTIONS]',
    '#   -h, --coord-host HOST  coordinator host (env DMTCP_COORD_HOST or DMTCP_HOST)',
    '#   -p, --coord-port PORT  coordinator port (env DMTCP_COORD_PORT or DMTCP_PORT)',
    '#   -i, --interval N       checkpoint interval in seconds (env DMTCP_CHECKPOINT_INTERVAL;',
    '#                          default: the interval the computation had)',
    '#   -d, --restartdir DIR   read every image from DIR (images moved elsewhere)',
    '',
    `dmtcp_restart=${shQuote(restartBin)}`,
    `coord_host=\${DMTCP_COORD_HOST:-\${DMTCP_HOST:-${shQuote(input.host)}}}`,
    `coord_port=\${DMTCP_COORD_PORT:-\${DMTCP_PORT:-${input.port}}}`,
    `interval=\${DMTCP_CHECKPOINT_INTERVAL:-${input.interval && input.interval > 0 ? String(Math.floor(input.interval)) : ''}}`,
    'restart_dir=',
    '',
    'usage() { sed -n "2,11s/^# \\{0,1\\}//p" "$0"; }',
    'need() { if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 99; fi; }',
    'while [ $# -gt 0 ]; do',
    '  case "$1" in',
    '    -h|--coord-host|--host) need "$@"; coord_host=$2; shift 2 ;;',
    '    -p|--coord-port|--port) need "$@"; coord_port=$2; shift 2 ;;',
    '    -i|--interval) need "$@"; interval=$2; shift 2 ;;',
    '    -d|--restartdir) need "$@"; restart_dir=$2; shift 2 ;;',
    '    --help) usage; exit 0 ;;',
    '    *) echo "$0: unknown option \'$1\' (try --help)" >&2; exit 99 ;;',
    '  esac',
    'done',
    '',
    '# Restart the images of this host in the foreground: exec, so that the restarted',
    "# program keeps this script's pid and its exit code is the script's.",
    'restart_here() {',
    '  if [ -n "$restart_dir" ]; then',
    '    for img do set -- "$@" "$restart_dir/${img##*/}"; shift; done',
    '  fi',
    '  if [ -n "$interval" ]; then',
    '    exec "$dmtcp_restart" --coord-host "$coord_host" --coord-port "$coord_port" --interval "$interval" "$@"',
    '  fi',
    '  exec "$dmtcp_restart" --coord-host "$coord_host" --coord-port "$coord_port" "$@"',
    '}',
    '',
    '# Other hosts: started in the background through ssh (multi-host restart is not',
    '# tested yet; the images must be readable at the same paths on those hosts).',
    'restart_remote() {',
    '  remote_host=$1; shift',
    '  if [ -n "$restart_dir" ]; then',
    '    for img do set -- "$@" "$restart_dir/${img##*/}"; shift; done',
    '  fi',
    '  ssh "$remote_host" dmtcp_restart --coord-host "$coord_host" --coord-port "$coord_port" "$@" &',
    '}',
    '',
  );
  // Remote hosts first (background), the local host last (foreground, exec).
  const local = groups.get(localHost);
  for (const [h, paths] of groups) {
    if (h === localHost) continue;
    lines.push(`# host: ${h}`, `restart_remote ${shQuote(h)} ${paths.map(shQuote).join(' ')}`);
  }
  if (local) {
    lines.push(`# host: ${localHost} (this host)`, `restart_here ${local.map(shQuote).join(' ')}`);
  } else {
    lines.push('wait');
  }
  return lines.join('\n') + '\n';
}

/** Write the versioned script and point the stable symlink at it. Returns the versioned path. */
export async function writeRestartScript(input: RestartScriptInput): Promise<string> {
  const dir = path.resolve(input.dir);
  await fs.promises.mkdir(dir, { recursive: true });
  const name = versionedScriptName(input.compId);
  const target = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  await fs.promises.writeFile(tmp, renderRestartScript(input), { mode: SCRIPT_MODE });
  // chmod explicitly: the umask may have removed bits from the mode above.
  await fs.promises.chmod(tmp, SCRIPT_MODE);
  await fs.promises.rename(tmp, target);
  // Relative link: the directory can be moved as a whole.
  const linkTmp = path.join(dir, `.${STABLE_SCRIPT_NAME}.${process.pid}.tmp`);
  await fs.promises.rm(linkTmp, { force: true });
  await fs.promises.symlink(name, linkTmp);
  await fs.promises.rename(linkTmp, path.join(dir, STABLE_SCRIPT_NAME));
  return target;
}
