// Progress for long readdmtcp work: a single self-overwriting stderr line,
// only when stderr is a terminal (never in pipes, logs or tests) and only when
// the work is large enough to make someone wonder.
import { human } from './inspect';

/** Below this many bytes of page data the work ends before anyone waits. */
export const PROGRESS_MIN_BYTES = 64 << 20;
/** At most this often is the line redrawn. */
const REDRAW_MS = 100;

export type Progress = (done: number, total: number) => void;

/** A progress callback for `what` over `totalBytes`, or undefined when none should be shown. */
export function progressLine(what: string, totalBytes: number, stream: NodeJS.WriteStream = process.stderr): { tick?: Progress; end: () => void } {
  if (!stream.isTTY || totalBytes < PROGRESS_MIN_BYTES) return { end: () => {} };
  let last = 0;
  let shown = false;
  const tick: Progress = (done, total) => {
    const now = Date.now();
    if (now - last < REDRAW_MS && done < total) return;
    last = now;
    shown = true;
    const pct = total ? Math.floor((100 * done) / total) : 100;
    stream.write(`\r${what}: ${pct}% (${human(Math.round((totalBytes * done) / Math.max(total, 1)))} of ${human(totalBytes)})\x1b[K`);
  };
  return { tick, end: () => { if (shown) stream.write('\r\x1b[K'); } };
}
