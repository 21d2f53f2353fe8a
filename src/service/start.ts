// Starting the resident encoder (service-main.ts) for a computation: dmtcp_launch
// does it before it execs the program, dmtcp_restart before it execs the
// restorer. The socket lives in a fresh 0700 folder; the agent learns its path
// from DMTCP_ENCODER_SOCKET (launch) or the restart info (restart). If anything
// here fails, checkpoints still work: the agent starts an encoder per checkpoint.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENCODER_WAIT, loadAddon, mustExist, PACKAGE_ROOT } from '../native';
import { ENCODER_PRESENCE_FD, MAX_SOCKET_PATH, SERVICE_PID_FILE } from './protocol';

/** src/image/engine.ts's switch (`zlib` turns ISA-L off), passed on to the service it applies in. */
const ENGINE_ENV = 'DMTCP_GZIP_ENGINE';

export const SERVICE_SCRIPT = path.join(PACKAGE_ROOT, 'dist', 'service', 'service-main.js');
const SOCKET_NAME = 'encoder.sock';
const FOLDER_PREFIX = 'dmtcp-enc-';
export interface StartedService { socket: string; pid: number }

/** A private folder for the socket: under `tmpDir`, or the system's when that path would be too long for a socket. */
function socketFolder(tmpDir: string): string {
  const fits = (dir: string): boolean => path.join(dir, 'dmtcp-enc-XXXXXX', SOCKET_NAME).length <= MAX_SOCKET_PATH;
  const base = fits(tmpDir) && fs.existsSync(tmpDir) ? tmpDir : os.tmpdir();
  // stale folders are swept by dmtcp_encoder_wait once it listens, off the
  // launch path and the same for both launchers (native/launch/launch_encoder.c)
  return fs.mkdtempSync(path.join(base, FOLDER_PREFIX));   // mode 0700
}

/**
 * Starts the service detached and leaves the presence pipe's write end at
 * ENCODER_PRESENCE_FD in this process, for the program we are about to exec.
 * What runs at first is dmtcp_encoder_wait: it listens on the socket and
 * execs Node when the first checkpoint connects (or ends when the computation
 * does without one).
 */
export function startEncoderService(tmpDir: string): StartedService {
  const dir = socketFolder(tmpDir);
  const socket = path.join(dir, SOCKET_NAME);
  try {
    // Node starts at the computation's first checkpoint (encoder_wait.c), not
    // beside the program's own start-up.
    const pid = loadAddon().startService({
      path: mustExist(ENCODER_WAIT),
      argv: [ENCODER_WAIT, socket, process.execPath, SERVICE_SCRIPT],
      // Nothing of the program's environment (no LD_PRELOAD of the agent, no
      // DMTCP_*) but the user's choice of deflate engine (engine.ts).
      env: [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
        ...(process.env[ENGINE_ENV] !== undefined ? [`${ENGINE_ENV}=${process.env[ENGINE_ENV]}`] : [])],
      presenceFd: ENCODER_PRESENCE_FD,
    });
    fs.writeFileSync(path.join(dir, SERVICE_PID_FILE), String(pid), { mode: 0o600 });
    return { socket, pid };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * The computation's resident encoder; its socket path, or undefined when it
 * could not start (then every checkpoint starts an encoder of its own).
 */
export function startResidentEncoder(cmd: string, tmpDir: string): string | undefined {
  try {
    return startEncoderService(tmpDir).socket;
  } catch (e) {
    process.stderr.write(`${cmd}: cannot start the resident image encoder (${(e as Error).message}); each checkpoint will start its own\n`);
    return undefined;
  }
}
