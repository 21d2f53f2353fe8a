/**
 * dmtcp_launch [OPTIONS] PROGRAM [ARGS...] (old name: dmtcp_checkpoint)
 *
 * Finds or starts the coordinator, puts the agent in LD_PRELOAD with its settings
 * in the environment, and execs the program: it keeps our pid, and its exit code
 * is the command's exit code.
 */
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { preamble } from './preamble';
import { parseLaunchArgs, LaunchOptions } from '../options/launch';
import { launchHelp } from '../options/help';
import { failRc, failRcFor } from '../options/errors';
import { findOrStartCoordinator, quitStartedCoordinator, CoordinatorError, CoordinatorFound } from '../launch/coordinator';
import { resolveProgram } from '../launch/program-path';
import { programKind } from '../launch/elf-kind';
import { sendCommand } from '../coordinator/client';
import { loadAddon, nativeParts, MissingBuildError } from '../native';
import { startResidentEncoder } from '../service/start';
import { ENCODER_SOCKET_ENV } from '../service/protocol';

/** The environment the program (and its agent) starts with. */
export function agentEnvironment(
  base: NodeJS.ProcessEnv,
  opts: LaunchOptions,
  coord: { address: string; port: number; early?: boolean } | undefined,
  parts: { agent: string; encoder: string },
  encoderSocket?: string,
): string[] {
  const env: NodeJS.ProcessEnv = { ...base };
  const preload = (base.LD_PRELOAD ?? '').split(/[ :]/).filter((p) => p && p !== parts.agent);
  // plugins before the agent, as DMTCP 5 orders them: a plugin's wrapper sees the
  // program's call first and calls on (NEXT_FNC) into the agent's (docs/api.md)
  env.LD_PRELOAD = [...opts.plugins.filter((p) => !preload.includes(p)), parts.agent, ...preload].join(':');
  if (coord) {
    env.DMTCP_COORD_HOST = coord.address;
    env.DMTCP_COORD_PORT = String(coord.port);
    delete env.DMTCP_NO_COORDINATOR;
    // a coordinator started and not waited for: the agent does not wait for its answer (agent_main.c)
    if (coord.early) env.DMTCP_HELLO_EARLY = '1';
    else delete env.DMTCP_HELLO_EARLY;
  } else {
    // --no-coordinator: the agent checkpoints its process on the checkpoint
    // signal and, with --interval, on a timer of its own (solo.c)
    delete env.DMTCP_COORD_HOST;
    delete env.DMTCP_HOST;
    env.DMTCP_NO_COORDINATOR = '1';
    if (opts.interval !== undefined) env.DMTCP_CHECKPOINT_INTERVAL = String(opts.interval);
  }
  env.DMTCP_CHECKPOINT_DIR = opts.ckptDir;
  env.DMTCP_GZIP = opts.gzip ? '1' : '0';
  env.DMTCP_HBICT = opts.hbict ? '1' : '0';
  // unset: the agent forks its image writer whenever it finds it safe
  if (opts.forked === undefined) delete env.DMTCP_FORKED_CHECKPOINT;
  else env.DMTCP_FORKED_CHECKPOINT = opts.forked ? '1' : '0';
  env.DMTCP_SIGCKPT = String(opts.ckptSignal);
  env.DMTCP_TMPDIR = opts.tmpDir;
  env.DMTCP_CKPT_OPEN_FILES = opts.ckptOpenFiles ? '1' : '0';
  env.DMTCP_ALLOW_FILE_OVERWRITE = opts.allowFileOverwrite ? '1' : '0';
  env.DMTCP_NODE = process.execPath;
  env.DMTCP_ENCODER = parts.encoder;
  // The process we exec is the computation's root (its agent removes this at once,
  // so that its children, exec'd or spawned, are not roots).
  env.DMTCP_ROOT_PROCESS = '1';
  env.DMTCP_QUIET = String(opts.quiet);
  if (encoderSocket) env[ENCODER_SOCKET_ENV] = encoderSocket;
  else delete env[ENCODER_SOCKET_ENV];
  return Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
}

const ELF_MAGIC = 0x464c457f;   // "\x7fELF" read little-endian
const ET_DYN = 3;                // a shared object
const E_TYPE_AT = 16;

/** Why a --with-plugin path cannot be loaded; undefined when it can. */
export function pluginProblem(p: string): string | undefined {
  if (!path.isAbsolute(p)) return `plugin ${p}: not an absolute path`;
  let head: Buffer;
  try {
    const fd = fs.openSync(p, 'r');
    try { head = Buffer.alloc(18); fs.readSync(fd, head, 0, 18, 0); } finally { fs.closeSync(fd); }
  } catch (e) {
    return `plugin ${p}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  if (head.readUInt32LE(0) !== ELF_MAGIC || head.readUInt16LE(E_TYPE_AT) !== ET_DYN) return `plugin ${p}: not a shared library (.so)`;
  // The loader itself must take it (its libraries found, the right ELF class):
  // asked of a program that does nothing, since it would otherwise warn and go
  // on without it, or stop the program with 127 on a missing dependency.
  const probe = spawnSync(LOAD_PROBE, [], { env: { ...process.env, LD_PRELOAD: p }, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  const said = (probe.stderr ?? '').trim().split('\n')[0];
  if (probe.status !== 0 || said) return `plugin ${p}: the loader cannot load it${said ? `: ${said.replace(/^.*?: /, '')}` : ''}`;
  return undefined;
}

/** A program that only exits 0, run with a plugin preloaded to see that it loads. */
const LOAD_PROBE = '/bin/true';
const PROBE_TIMEOUT_MS = 10_000;

export async function main(argv: string[], cmd = 'dmtcp_launch'): Promise<number> {
  const pre = preamble(cmd, () => parseLaunchArgs(argv, process.env, cmd), launchHelp);
  if ('exit' in pre) return pre.exit;
  const opts = pre.opts;
  let coord: CoordinatorFound | undefined;
  try {
    const parts = nativeParts();
    const program = resolveProgram(opts.program[0]);
    if (!program) {
      process.stderr.write(`${cmd}: ${opts.program[0]}: program not found or not executable\n`);
      return failRc();
    }
    if (programKind(program) === 'static') {
      process.stderr.write(`${cmd}: ${opts.program[0]}: statically linked; the checkpoint agent can only join dynamically linked programs\n`);
      return failRc();
    }
    const badPlugin = opts.plugins.map(pluginProblem).find((p) => p);
    if (badPlugin) {
      process.stderr.write(`${cmd}: ${badPlugin}\n`);
      return failRc();
    }
    if (!fs.existsSync(opts.ckptDir)) fs.mkdirSync(opts.ckptDir, { recursive: true });
    coord = opts.coordMode === 'none' ? undefined : await findOrStartCoordinator(cmd, {
      host: opts.host, port: opts.port, coordMode: opts.coordMode, portFile: opts.portFile,
      interval: opts.interval, ckptDir: opts.ckptDir, early: true,
    });
    if (coord && !coord.started && opts.interval !== undefined) {
      // Joining a running coordinator: --interval / DMTCP_CHECKPOINT_INTERVAL still
      // sets how often the computation is checkpointed, as with dmtcp_command -i.
      const reply = await sendCommand(coord.host, coord.port, 'interval', opts.interval);
      if (!reply.ok) throw new Error(`cannot set the checkpoint interval: ${reply.reason ?? 'refused'}`);
    }
    const encoderSocket = opts.encoderService ? startResidentEncoder(cmd, opts.tmpDir) : undefined;
    const env = agentEnvironment(process.env, opts, coord, parts, encoderSocket);
    const addon = loadAddon();
    if (coord?.started && opts.quiet === 0) process.stderr.write(`${cmd}: started a coordinator on ${coord.host}:${coord.port}\n`);
    addon.exec({ path: program, argv: opts.program, env });
    return failRc(); // not reached: exec replaced us or threw
  } catch (e) {
    if (e instanceof CoordinatorError || e instanceof MissingBuildError) {
      process.stderr.write(`${e.message.startsWith(cmd) ? '' : cmd + ': '}${e.message}\n`);
    } else {
      process.stderr.write(`${cmd}: ${(e as Error).message}\n`);
    }
    await quitStartedCoordinator(coord);
    return failRcFor(e);
  }
}
