// The resident encoder: `node dist/service/service-main.js --socket PATH
// [--listen-fd N] [--workers N]`, started detached by dmtcp_launch and
// dmtcp_restart (start.ts) through dmtcp_encoder_wait, which listens on the
// socket and execs us with it at --listen-fd when the first checkpoint comes.
// Keeping one encoder per computation alive spares every checkpoint Node's
// start-up, which is most of the cost of writing a small image
// (docs/performance.md). Worker threads (worker.ts) take the checkpoints; this
// thread only watches the presence pipe on fd 3 and, when the last process of
// the computation has gone (end of file), stops taking new checkpoints, lets
// running ones finish, removes the socket and its folder, and exits.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadAddon } from '../native';
import { SERVICE_PID_FILE, SERVICE_PRESENCE_FD } from './protocol';
import type { WorkerData } from './worker';

/** Checkpoints encoded at once: a process writes one image at a time, so two (fewer on one core) cover a program and a child it exec'd. */
const DEFAULT_WORKERS = Math.min(2, os.availableParallelism());

interface Args { socket: string; listenFd?: number; workers: number }

function parseArgs(argv: string[]): Args {
  let socket = '';
  let listenFd: number | undefined;
  let workers = DEFAULT_WORKERS;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--socket') socket = argv[++i] ?? '';
    else if (argv[i] === '--listen-fd') listenFd = Number(argv[++i]);
    else if (argv[i] === '--workers') workers = Math.max(1, Number(argv[++i]) | 0);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!socket) throw new Error('missing --socket PATH');
  if (listenFd !== undefined && !(Number.isInteger(listenFd) && listenFd > 2)) throw new Error('--listen-fd needs a descriptor number above 2');
  return { socket, listenFd, workers };
}

function removeSocket(socket: string): void {
  fs.rmSync(socket, { force: true });
  fs.rmSync(path.join(path.dirname(socket), SERVICE_PID_FILE), { force: true });
  // The folder was made for this service alone (start.ts); leave it if something else is in it.
  try { fs.rmdirSync(path.dirname(socket)); } catch { /* not empty or gone */ }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const addon = loadAddon();
  const listenFd = args.listenFd ?? addon.listenUnix(args.socket);
  // (folders left by services killed with -9 were swept by dmtcp_encoder_wait)
  const data: WorkerData = { listenFd };
  const workers = Array.from({ length: args.workers }, () => new Worker(path.join(__dirname, 'worker.js'), { workerData: data }));
  const stopped = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    addon.shutdownListener(listenFd);
    void Promise.all(stopped).then(() => {
      removeSocket(args.socket);
      process.exit(0);
    });
  };
  const presence = new net.Socket({ fd: SERVICE_PRESENCE_FD, readable: true, writable: false });
  presence.on('data', () => { /* nobody writes; only the end matters */ });
  presence.on('end', stop);
  presence.on('close', stop);
  presence.on('error', stop);
  process.on('SIGTERM', stop);
  // A worker that died unexpectedly cannot take checkpoints: stop listening, so
  // agents fall back to an encoder of their own instead of waiting on us.
  for (const w of workers) w.once('exit', stop);
}

main();
