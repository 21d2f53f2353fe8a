/**
 * dmtcp_restart [OPTIONS] IMAGE
 *
 * Restart in named stages: check the image, find or start a coordinator, write
 * the restore plan (decoded, verified page data in a temporary file), patch the
 * restorer for the image's heap, then exec it. The restarted program is this very
 * process, so shells, job control and exit codes behave as for the original.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { preamble } from './preamble';
import { parseRestartArgs, RestartOptions } from '../options/restart';
import { restartHelp } from '../options/help';
import { failRc } from '../options/errors';
import { findOrStartCoordinator, quitStartedCoordinator, CoordinatorFound } from '../launch/coordinator';
import { loadAddon, nativeParts } from '../native';
import { readImageMeta, ImageMeta } from '../image/decode';
import { writeRestorePlan } from '../image/plan';
import { patchRestorerForBrk, readRestorer } from '../restart/restorer-elf';
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

export async function main(argv: string[], cmd = 'dmtcp_restart'): Promise<number> {
  const pre = preamble(cmd, () => parseRestartArgs(argv, process.env, cmd), restartHelp);
  if ('exit' in pre) return pre.exit;
  const opts = pre.opts;
  let planPath: string | undefined;
  let coord: CoordinatorFound | undefined;
  try {
    const parts = nativeParts();
    const images = imagePaths(opts);
    if (images.length === 0) throw new Error('no image to restart (usage: dmtcp_restart [OPTIONS] ckpt_*.dmtcp)');
    if (images.length > 1) throw new Error('restarting several processes at once is not supported yet; give one image');
    const image = images[0];
    const meta = checkImage(image);

    coord = await findOrStartCoordinator(cmd, {
      host: opts.host, port: opts.port, coordMode: opts.coordMode, portFile: opts.portFile,
      interval: opts.interval, ckptDir: opts.ckptDir ?? path.dirname(image),
    });

    const info: Record<string, string> = { coord_addr: coord.address, coord_port: String(coord.port) };
    if (opts.ckptDir) info.ckpt_dir = path.resolve(opts.ckptDir);
    const encoderSocket = opts.encoderService ? startResidentEncoder(cmd, opts.tmpDir) : undefined;
    if (encoderSocket) info[ENCODER_SOCKET_INFO_KEY] = encoderSocket;
    const tmpDir = opts.tmpDir || os.tmpdir();
    planPath = path.join(tmpDir, `dmtcp_plan_${process.pid}_${Date.now()}`);
    await writeRestorePlan(image, planPath, info); // every chunk verified before the restorer runs
    const planFd = fs.openSync(planPath, 'r');
    fs.unlinkSync(planPath);
    planPath = undefined;

    const addon = loadAddon();
    addon.setInheritable(planFd, true);
    const restorer = patchRestorerForBrk(readRestorer(parts.restorer), BigInt(meta.startBrk as string));
    const memfd = addon.memfdCreate('mtcp_restart');
    fs.writeSync(memfd, restorer);
    const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
    // Only now, when nothing of ours can fail any more but the exec itself, so
    // that a failure stays one line.
    if (coord.started) process.stderr.write(`${cmd}: started a coordinator on ${coord.host}:${coord.port}\n`);
    addon.exec({ fd: memfd, argv: ['mtcp_restart', '--plan-fd', String(planFd)], env, noRandomize: true });
    return failRc();
  } catch (e) {
    const msg = (e as Error).message;
    process.stderr.write(`${msg.startsWith(cmd) ? '' : cmd + ': '}${msg}\n`);
    await quitStartedCoordinator(coord);
    return failRc();
  } finally {
    if (planPath) fs.rmSync(planPath, { force: true });
  }
}
