/**
 * Errors and exit codes shared by every CLI.
 *
 * DMTCP's contract: the program's own exit code passes through, and a failure of
 * ours exits with DMTCP_FAIL_RC (default 99) after one clear line on stderr.
 */

/** Default exit code for our own failures (DMTCP's value). */
export const DEFAULT_FAIL_RC = 99;

/** A bad command line or a bad environment value: the message is the whole report. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit code for our own failures, honoring DMTCP_FAIL_RC when it is a sane number. */
export function failRc(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DMTCP_FAIL_RC;
  if (raw !== undefined && /^\d+$/.test(raw.trim())) {
    const n = Number(raw.trim());
    if (n >= 0 && n <= 255) return n;
  }
  return DEFAULT_FAIL_RC;
}

/**
 * The two failures that exit DMTCP_FAIL_RC + 1 and + 2 ("rc+1, rc+2 for two
 * special cases", DMTCP's manual page). They are the two answers of DMTCP's
 * coordinator probe besides "none" (its coordinatorapi.cpp up to 2.1, CS_OK
 * and CS_NO; DMTCP 5 still prints the sentence but exits rc for both): a
 * coordinator answers where --new-coordinator was to start one, and a
 * coordinator answers whose computation is in no state to take this command
 * (dmtcp_restart of processes that still run there).
 */
export const RC_COORDINATOR_ALREADY_RUNS = 1;
export const RC_COMPUTATION_STILL_RUNS = 2;

/** A failure with one of the special exit codes: failRc() + rcOffset. */
export class SpecialFailure extends Error {
  constructor(message: string, readonly rcOffset: number) {
    super(message);
    this.name = 'SpecialFailure';
  }
}

/** failRc(), plus the offset of a SpecialFailure (an exit code stays ≤ 255). */
export function failRcFor(err: unknown, env: NodeJS.ProcessEnv = process.env): number {
  const rc = failRc(env);
  const offset = (err as { rcOffset?: unknown })?.rcOffset;
  return typeof offset === 'number' && rc + offset <= 255 ? rc + offset : rc;
}

/** One line, no stack: what a user sees when we fail. */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // Keep the report on one line even if a system message carried newlines.
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
