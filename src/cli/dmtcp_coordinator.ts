/** dmtcp_coordinator [OPTIONS] [port]: the coordinator as a command. */
import { coordinatorHelp, errorLine, failRc, parseCoordinatorArgs } from '../options';
import { preamble } from './preamble';
import { startCoordinator } from '../coordinator/server';
import { attachKeys } from '../coordinator/keys';
import { inForeground } from '../coordinator/tty';
import { inheritedListener, isDaemonChild, reportToParent, spawnDaemon } from '../coordinator/daemon';

const CMD = 'dmtcp_coordinator';

export async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const pre = preamble(CMD, () => parseCoordinatorArgs(argv, env, CMD), coordinatorHelp);
  if ('exit' in pre) return pre.exit;
  const opts = pre.opts;

  const child = isDaemonChild(env);
  if (opts.daemon && !child) {
    try {
      const d = await spawnDaemon(argv, env);
      if (!opts.quiet) process.stdout.write(`${CMD}: listening on ${d.host}:${d.port} (daemon pid ${d.pid})\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`${CMD}: ${errorLine(e)}\n`);
      return failRc(env);
    }
  }

  const say = (text: string) => { process.stdout.write(text); };
  const log = opts.quiet ? () => {} : (line: string) => say(`${CMD}: ${line}\n`);
  let handle;
  try {
    handle = await startCoordinator({
      port: opts.port, bind: opts.bind, ckptDir: opts.ckptDir, interval: opts.interval, exitOnLast: opts.exitOnLast,
      exitAfterCkpt: opts.exitAfterCkpt, portFile: opts.portFile, log, env, listenFd: inheritedListener(env),
    });
  } catch (e) {
    if (child) reportToParent({ error: errorLine(e) });
    process.stderr.write(`${CMD}: ${errorLine(e)}\n`);
    return failRc(env);
  }
  // Always printed, even with --quiet: with port 0 it is the only way to learn the port.
  say(`${CMD}: listening on ${handle.host}:${handle.port}\n`);
  if (!opts.quiet && !child) say(`${CMD}: type '?' and <return> for help\n`);
  if (child) reportToParent({ listening: { host: handle.host, port: handle.port } });

  const detachKeys = attachKeys(handle.coordinator, process.stdin, say, process.stdin.isTTY ? inForeground : undefined);
  const onSignal = () => void handle.close();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await handle.closed;
  detachKeys();
  // A pipe on stdin would keep the process alive otherwise.
  process.stdin.destroy();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return 0;
}
