/**
 * The coordinator's keys on standard input (one a line), as in the seeds:
 * l list, s status, c checkpoint, f force restart, k kill, q kill and quit, ? / h help.
 * Also `i N` to set the interval. EOF is ignored: a daemon or `< /dev/null` has none.
 */
import { Readable } from 'stream';
import { COORDINATOR_KEYS_HELP } from '../options/help';
import { LineSplitter } from './codec';
import { Coordinator } from './core';
import { formatCoordinatorStatus, formatList } from './format';

const INTERVAL_KEY_HELP = '  i N : Set the checkpoint interval to N seconds (0: disabled)\n';

export function handleKey(coord: Coordinator, line: string, out: (text: string) => void): void {
  const [key, arg] = line.trim().split(/\s+/, 2);
  switch (key) {
    case '':
    case undefined:
      return;
    case 'l':
      return out(formatList(coord.list()));
    case 's':
      return out(formatCoordinatorStatus(coord.status()));
    case 'c': {
      const r = coord.checkpoint();
      if ('error' in r) return out(`checkpoint not started: ${r.error}\n`);
      // Progress and the outcome are logged by the coordinator itself.
      r.done.then((o) => { if (!o.ok) out(`checkpoint ${o.gen} failed: ${o.reason}\n`); });
      return;
    }
    case 'f':
      coord.forceNextRestart();
      return out('the next dmtcp_restart through this coordinator may lack processes of its checkpoint\n');
    case 'k':
      coord.kill();
      return out('killing all processes\n');
    case 'q':
      out('killing all processes and quitting\n');
      coord.quit();
      return;
    case 'i': {
      if (!arg || !/^\d+$/.test(arg)) return out('usage: i <seconds> (0: disabled)\n');
      coord.setInterval(Number(arg));
      return;
    }
    case '?':
    case 'h':
      return out(COORDINATOR_KEYS_HELP + INTERVAL_KEY_HELP);
    default:
      return out(`unknown command '${key}' (type ? for help)\n`);
  }
}

/** How often a terminal coordinator checks whether it went to the background or came back. */
export const FOREGROUND_POLL_MS = 500;

/**
 * Read keys from `input` until it ends; returns a function that stops listening.
 * With `isForeground` (for a terminal), input is only read while it returns true, so a
 * coordinator in the background (`&`, Ctrl-Z + bg) is never stopped by SIGTTIN, and
 * its keys work again after `fg`.
 */
export function attachKeys(coord: Coordinator, input: Readable, out: (text: string) => void,
  isForeground?: () => boolean): () => void {
  const splitter = new LineSplitter((line) => handleKey(coord, line, out), () => {});
  const onData = (chunk: Buffer | string) => splitter.push(chunk);
  input.on('error', () => {}); // a closed terminal is not our failure
  let reading = false;
  const sync = () => {
    const want = !isForeground || isForeground();
    if (want && !reading) {
      input.on('data', onData);
      input.resume();
      reading = true;
    } else if (!want && reading) {
      input.off('data', onData);
      input.pause();
      reading = false;
    }
  };
  sync();
  const poll = isForeground ? setInterval(sync, FOREGROUND_POLL_MS) : undefined;
  poll?.unref();
  return () => {
    if (poll) clearInterval(poll);
    input.off('data', onData);
    splitter.stop();
    input.pause();
  };
}
