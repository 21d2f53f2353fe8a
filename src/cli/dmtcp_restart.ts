/**
 * dmtcp_restart [OPTIONS] IMAGE...
 *
 * Restart a whole computation in named stages: check the images and plan the
 * process tree (src/restart/tree.ts), find or start a coordinator and make
 * sure none of these processes still runs there, write one restore plan per
 * process (decoded, verified page data in temporary files), patch a restorer
 * for each image's heap, write the tree file, then exec the root's restorer.
 * The restorers fork the rest of the tree (docs/restart-tree.md). The root is
 * this very process, so shells, job control and exit codes behave as for the
 * original.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { preamble } from './preamble';
import { parseRestartArgs, RestartOptions } from '../options/restart';
import { restartHelp } from '../options/help';
import { failRc, failRcFor, RC_COMPUTATION_STILL_RUNS, SpecialFailure } from '../options/errors';
import { findOrStartCoordinator, quitStartedCoordinator, CoordinatorFound } from '../launch/coordinator';
import { sendCommand } from '../coordinator/client';
import { loadAddon, nativeParts } from '../native';
import { readImageMeta, ImageMeta, openImage } from '../image/decode';
import { chooseTablesAddr, writeRestorePlan, AddrRange } from '../image/plan';
import { patchRestorerForBrk, readRestorer } from '../restart/restorer-elf';
import { planTree, TreeEntry } from '../restart/tree';
import { checkComplete, MissingImagesError } from '../restart/membership';
import { encodeTreeFile, treeFileLength } from '../restart/tree-file';
import { planSharedFds } from '../restart/shared-fds';
import { heldBackWarnings } from '../restart/sockets';
import { planSharedMemory } from '../restart/shared-memory';
import { planSysv } from '../restart/sysv';
import { startResidentEncoder } from '../service/start';
import { ENCODER_SOCKET_INFO_KEY } from '../service/protocol';

function imagePaths(opts: RestartOptions): string[] {
  return opts.images.map((p) => path.resolve(opts.restartDir && !path.isAbsolute(p) ? path.join(opts.restartDir, p) : p));
}

function checkImage(file: string): ImageMeta {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such image`);
  const meta = readImageMeta(file);
  for (const key of ['restoreEntry', 'restoreArg', 'startBrk', 'brk'] as const) {
    if (typeof meta[key] !== 'string') throw new Error(`${file}: image lacks '${key}'; it cannot be restarted`);
  }
  return meta;
}

const isProcess = (e: TreeEntry): boolean => e.kind === 'process';

const ENDING_GRACE_MS = 1000;
const ENDING_POLL_MS = 50;

/** Restarting a process that still runs would make two of it: refuse, touch nothing. */
async function refuseIfRunning(coord: CoordinatorFound, entries: TreeEntry[]): Promise<void> {
  if (coord.started) return;
  // Processes killed a moment ago (kill -9, or a coordinator that answered
  // before they were gone) still hold their connection for a few ms.
  const deadline = Date.now() + ENDING_GRACE_MS;
  for (;;) {
    const reply = await sendCommand(coord.host, coord.port, 'list');
    if (!reply.ok) return;
    const running = new Set(reply.lines.filter((m) => m.verb === 'PEER').map((m) => m.fields.id));
    const alive = entries.find((e) => typeof e.meta.uniqueId === 'string' && running.has(e.meta.uniqueId));
    if (!alive) return;
    if (Date.now() < deadline) { await new Promise((r) => setTimeout(r, ENDING_POLL_MS)); continue; }
    throw new SpecialFailure(`${alive.image}: ${alive.meta.prog ?? 'the process'} (${alive.meta.uniqueId}) is still running under the coordinator at ${coord.host}:${coord.port}; kill it first (dmtcp_command -k)`, RC_COMPUTATION_STILL_RUNS);
  }
}

/**
 * --no-coordinator, or images of processes that had none (launched with it):
 * the process comes back checkpointing itself (native/agent/core/solo.c). One
 * process alone: several would need a coordinator to checkpoint together.
 */
function restartsAlone(opts: RestartOptions, entries: TreeEntry[]): boolean {
  const processes = entries.filter(isProcess);
  const solo = opts.coordMode === 'none' || (opts.coordMode === 'any' && processes.every((e) => e.meta.noCoordinator === true));
  if (solo && processes.length > 1) {
    throw new Error(`${processes.length} processes cannot restart without a coordinator (--no-coordinator restarts one image at a time; use --join-coordinator or --new-coordinator)`);
  }
  return solo;
}

/** A set with images missing restarts only when `f` was pressed in the coordinator. */
async function goOnOnlyIfForced(coord: CoordinatorFound, missing: MissingImagesError, cmd: string, quiet: number): Promise<void> {
  const reply = coord.started ? undefined : await sendCommand(coord.host, coord.port, 'take-force');
  const forced = reply?.ok && reply.done.fields.forced === '1';
  if (!forced) throw missing;
  if (quiet === 0) process.stderr.write(`${cmd}: forced at the coordinator: ${missing.message.replace(/ \(give every.*$/, '')}; restarting the others\n`);
}

/** An address range free in every image of the tree, for the shared tree map. */
function chooseTreeAddr(entries: TreeEntry[], len: number): bigint {
  const areas: AddrRange[] = [];
  for (const e of entries.filter(isProcess)) {
    const img = openImage(e.image);
    try { for (const a of img.areas) areas.push({ start: a.start, end: a.end }); } finally { img.close(); }
  }
  return chooseTablesAddr(areas, len);
}

export async function main(argv: string[], cmd = 'dmtcp_restart'): Promise<number> {
  const pre = preamble(cmd, () => parseRestartArgs(argv, process.env, cmd), restartHelp);
  if ('exit' in pre) return pre.exit;
  const opts = pre.opts;
  const planPaths: string[] = [];
  let coord: CoordinatorFound | undefined;
  try {
    const parts = nativeParts();
    const images = imagePaths(opts);
    if (images.length === 0) throw new Error('no image to restart (usage: dmtcp_restart [OPTIONS] ckpt_*.dmtcp)');
    const entries = planTree(images.map((image) => ({ image, meta: checkImage(image) })));
    let missing: MissingImagesError | undefined;
    try { checkComplete(entries); } catch (e) { if (e instanceof MissingImagesError) missing = e; else throw e; }

    const solo = restartsAlone(opts, entries);
    if (missing && solo) throw missing;
    coord = solo ? undefined : await findOrStartCoordinator(cmd, {
      host: opts.host, port: opts.port, coordMode: opts.coordMode, portFile: opts.portFile,
      interval: opts.interval, ckptDir: opts.ckptDir ?? path.dirname(entries[0].image),
    });
    if (coord) {
      if (missing) await goOnOnlyIfForced(coord, missing, cmd, opts.quiet);
      await refuseIfRunning(coord, entries);
    }

    const info: Record<string, string> = coord ? { coord_addr: coord.address, coord_port: String(coord.port) } : { no_coordinator: '1' };
    if (!coord && opts.interval !== undefined) info.interval = String(opts.interval);
    info.quiet = String(opts.quiet);
    if (opts.ckptDir) {
      // As at launch: the next checkpoint must find its folder.
      info.ckpt_dir = path.resolve(opts.ckptDir);
      fs.mkdirSync(info.ckpt_dir, { recursive: true });
    }
    const encoderSocket = opts.encoderService ? startResidentEncoder(cmd, opts.tmpDir) : undefined;
    if (encoderSocket) info[ENCODER_SOCKET_INFO_KEY] = encoderSocket;

    // Bytes a process's image holds at an address: its fds' queues, IPC data.
    const readSaved = (entry: number, addr: bigint, len: number): Buffer => {
      const img = openImage(entries[entry].image);
      try { return img.readMemory(addr, len); } finally { img.close(); }
    };
    const shared = planSharedFds(entries, readSaved);
    if (opts.quiet < 2) for (const w of heldBackWarnings(entries)) process.stderr.write(`${cmd}: ${w}\n`);
    const sysv = planSysv(entries, shared.objects.length, readSaved);
    shared.objects.push(...sysv.objects);
    const memory = planSharedMemory(entries, shared.objects.length, sysv.segmentByRealId);
    shared.objects.push(...memory.objects);
    const treeLen = treeFileLength(entries.length, shared);
    const treeAddr = chooseTreeAddr(entries, treeLen);
    const avoid = [{ start: treeAddr, end: treeAddr + BigInt(treeLen) }];
    const tmpDir = opts.tmpDir || os.tmpdir();
    const stamp = `${process.pid}_${Date.now()}`;
    entries.forEach((e, i) => planPaths.push(isProcess(e) ? path.join(tmpDir, `dmtcp_plan_${stamp}_${i}`) : ''));
    // The restorers' environment, and what dmtcp_get_restart_env answers in the restarted processes.
    const environ = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
    // Every chunk the plans copy is verified before any restorer runs; pages
    // mapped from a raw image are read when the program touches them.
    await Promise.all(entries.map((e, i) => isProcess(e)
      ? writeRestorePlan(e.image, planPaths[i], { info, environ, avoid, overrides: memory.overrides[i], mapImage: opts.mmap })
      : undefined));

    const addon = loadAddon();
    const planFds = planPaths.map((p) => {
      if (!p) return -1;
      const fd = fs.openSync(p, 'r');
      fs.unlinkSync(p);
      addon.setInheritable(fd, true);
      return fd;
    });
    planPaths.length = 0;
    const restorer = readRestorer(parts.restorer);
    const restorerByBrk = new Map<string, number>();
    const restorerFds = entries.map((e) => {
      if (!isProcess(e)) return -1;
      const brk = e.meta.startBrk as string;
      let fd = restorerByBrk.get(brk);
      if (fd === undefined) {
        fd = addon.memfdCreate('mtcp_restart');
        fs.writeSync(fd, patchRestorerForBrk(restorer, BigInt(brk)));
        addon.setInheritable(fd, true);
        restorerByBrk.set(brk, fd);
      }
      return fd;
    });
    const treeFd = addon.memfdCreate('dmtcp_restart_tree');
    fs.writeSync(treeFd, encodeTreeFile(entries, treeAddr, { treeFd, planFds, restorerFds }, shared));
    addon.setInheritable(treeFd, true);

    // Only now, when nothing of ours can fail any more but the exec itself, so
    // that a failure stays one line.
    if (coord?.started && opts.quiet === 0) process.stderr.write(`${cmd}: started a coordinator on ${coord.host}:${coord.port}\n`);
    addon.exec({
      fd: restorerFds[0], argv: ['mtcp_restart', '--tree-fd', String(treeFd), '--index', '0'], env: environ, noRandomize: true,
    });
    return failRc();
  } catch (e) {
    const msg = (e as Error).message;
    process.stderr.write(`${msg.startsWith(cmd) ? '' : cmd + ': '}${msg}\n`);
    await quitStartedCoordinator(coord);
    return failRcFor(e);
  } finally {
    for (const p of planPaths) if (p) fs.rmSync(p, { force: true });
  }
}
