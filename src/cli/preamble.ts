/**
 * What every command does before its real work: parse, answer --help and
 * --version, and turn a usage error (or any other) into one line and
 * DMTCP_FAIL_RC.
 */
import { UsageError, errorLine, failRc } from '../options/errors';
import { versionText } from '../options/help';

export type Preamble<T> = { opts: T } | { exit: number };

export function preamble<T extends { help: boolean; version: boolean }>(
  cmd: string, parse: () => T, help: (cmd: string) => string,
): Preamble<T> {
  let opts: T;
  try {
    opts = parse();
  } catch (e) {
    process.stderr.write(`${e instanceof UsageError ? e.message : `${cmd}: ${errorLine(e)}`}\n`);
    return { exit: failRc() };
  }
  if (opts.help) {
    process.stdout.write(help(cmd));
    return { exit: 0 };
  }
  if (opts.version) {
    process.stdout.write(versionText(cmd));
    return { exit: 0 };
  }
  return { opts };
}
