/**
 * What every command does before its real work: parse, answer --help and
 * --version, and turn a usage error into one line and DMTCP_FAIL_RC.
 */
import { UsageError, failRc } from '../options/errors';
import { versionText } from '../options/help';

export type Preamble<T> = { opts: T } | { exit: number };

export function preamble<T extends { help: boolean; version: boolean }>(
  cmd: string, parse: () => T, help: (cmd: string) => string,
): Preamble<T> {
  let opts: T;
  try {
    opts = parse();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n`);
      return { exit: failRc() };
    }
    throw e;
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
