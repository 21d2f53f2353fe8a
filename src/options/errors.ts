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

/** One line, no stack: what a user sees when we fail. */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // Keep the report on one line even if a system message carried newlines.
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
