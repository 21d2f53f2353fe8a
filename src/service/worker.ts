// One of the resident encoder's worker threads: it waits for a checkpoint on the
// shared listening socket, encodes the stream that arrives on the request's pipe
// (the same code as the per-checkpoint encoder, with its own codec.wasm
// instance), answers one line, and waits for the next. Blocking calls are fine
// here: this thread has nothing else to do, and the main thread stays free to
// watch the presence pipe.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { workerData } from 'node:worker_threads';
import { loadAddon } from '../native';
import { encodeStream } from '../image/checkpoint';
import { oneLine, parseEncoderArgs } from '../image/encoder-args';
import { DIRECT_ARG, REPLY_OK, REPLY_SWITCH_TO_PIPE, replyDirect, replyError } from './protocol';

export interface WorkerData { listenFd: number }


function reply(conn: number, line: string): void {
  try { fs.writeSync(conn, line); } catch { /* the agent is gone; nothing to tell */ }
}

async function serve(conn: number): Promise<void> {
  let pipe = -1;
  try {
    const req = loadAddon().receiveRequest(conn);
    pipe = req.fd;
    // Our own environment must not change how an image is written: the agent
    // sends every setting as a flag. --direct is ours alone (not the CLI's).
    const direct = req.args.includes(DIRECT_ARG);
    const { out, options } = parseEncoderArgs(req.args.filter((a) => a !== DIRECT_ARG), {});
    if (!path.isAbsolute(out)) throw new Error(`--out ${out}: not an absolute path`);
    const link = {
      handOver: (fd: number, dataStart: number): void => loadAddon().sendWithFd({ conn, text: replyDirect(dataStart), fd }),
      switchToPipe: (): void => reply(conn, REPLY_SWITCH_TO_PIPE),
    };
    await encodeStream(pipe, out, { ...options, writer: 'resident', ...(direct ? { direct: link } : {}) });
    reply(conn, REPLY_OK);
  } catch (e) {
    reply(conn, replyError(oneLine(e)));
  } finally {
    if (pipe >= 0) loadAddon().closeFd(pipe);
    loadAddon().closeFd(conn);
  }
}

async function run(): Promise<void> {
  const { listenFd } = workerData as WorkerData;
  const addon = loadAddon();
  for (;;) {
    const conn = addon.acceptConnection(listenFd);
    if (conn < 0) return; // the service is stopping
    await serve(conn);
  }
}

void run();
