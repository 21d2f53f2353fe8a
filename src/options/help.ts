/**
 * --help texts, in the shape of DMTCP's: a usage line, a sentence, grouped options
 * each with its environment twin. The option rows come from the parsers' tables.
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderOptions } from './parser';
import { LAUNCH_SPECS } from './launch';
import { RESTART_SPECS } from './restart';
import { COMMAND_OPTION_SPECS, COMMAND_SPECS } from './command';
import { COORDINATOR_SPECS } from './coordinator';

const REPORT = 'Report bugs to the dmtcp project issue tracker.';

/** Our package version, read once from package.json (dist/options → ../../package.json). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function versionText(cmd: string): string {
  return `${cmd} (dmtcp) ${packageVersion()}\n`;
}

export function launchHelp(cmd = 'dmtcp_launch'): string {
  return `Usage: ${cmd} [OPTIONS] <command> [args...]
Start a process under DMTCP control. Options end at the program name (or at --):
everything after it is passed to the program.

Connecting to the DMTCP coordinator, and options of the checkpoint:
${renderOptions(LAUNCH_SPECS)}

Other environment variables: DMTCP_FAIL_RC (exit code of our own failures, default 99;
rc+1 when --new-coordinator finds one running).
${REPORT}
`;
}

export function restartHelp(cmd = 'dmtcp_restart'): string {
  return `Usage: ${cmd} [OPTIONS] ckpt_FILE1.dmtcp [ckpt_FILE2.dmtcp...]
Restart processes from checkpoint images.

Options:
${renderOptions(RESTART_SPECS)}

Exit status: the restarted program's own; DMTCP_FAIL_RC (99) for our failures, rc+1
when --new-coordinator finds one running, rc+2 when these processes still run there.
${REPORT}
`;
}

export function commandHelp(cmd = 'dmtcp_command'): string {
  return `Usage: ${cmd} [OPTIONS] COMMAND
Send a command to the dmtcp_coordinator remotely. The command may be given with one
dash, two dashes or none (e.g. -s, --status or s).

Options:
${renderOptions(COMMAND_OPTION_SPECS)}

Commands for coordinator:
${renderOptions(COMMAND_SPECS)}

Exit status: 0 on success; DMTCP_FAIL_RC (99) when no coordinator answers or the
command fails.
${REPORT}
`;
}

/** Keys the coordinator reads from its standard input (also printed by '?' and 'h'). */
export const COORDINATOR_KEYS_HELP = `COMMANDS:
  l : List connected nodes
  s : Print status message
  c : Checkpoint all nodes
  f : Force a restart even if there are missing nodes (debugging)
  k : Kill all nodes
  q : Kill all nodes and quit
  ? : Show this message
`;

export function coordinatorHelp(cmd = 'dmtcp_coordinator'): string {
  return `Usage: ${cmd} [OPTIONS] [port]
Coordinates checkpoints between multiple processes.

Options:
${renderOptions(COORDINATOR_SPECS)}

${COORDINATOR_KEYS_HELP}
${REPORT}
`;
}
