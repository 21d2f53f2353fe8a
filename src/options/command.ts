/**
 * dmtcp_command options. DMTCP accepts each command with one dash, two dashes or
 * none (`dmtcp_command -c`, `--checkpoint`, `c`), so the words are matched after
 * stripping leading dashes; host/port/--json/--help are ordinary options.
 */
import { UsageError } from './errors';
import { OptSpec, parseIntStrict } from './parser';
import { HOST_SPEC, PORT_SPEC, resolveAddress, MAX_PORT, VERSION_SPEC } from './common';

export type CommandName = 'status' | 'list' | 'checkpoint' | 'bcheckpoint' | 'kcheckpoint' | 'kill' | 'quit' | 'interval';

export const COMMAND_NAMES: CommandName[] = ['status', 'list', 'checkpoint', 'bcheckpoint', 'kcheckpoint', 'kill', 'quit', 'interval'];

export interface CommandOptions {
  host: string;
  port: number;
  /** undefined only with --help/--version. */
  command?: CommandName;
  /** The interval for `interval`. */
  value?: number;
  json: boolean;
  help: boolean;
  version: boolean;
}

/** Rows for the help text; matching is done by COMMAND_WORDS below. */
export const COMMAND_SPECS: OptSpec[] = [
  { key: 'status', names: ['-s', '--status'], kind: 'flag', help: 'Print the coordinator\'s address, NUM_PEERS, RUNNING and CKPT_INTERVAL' },
  { key: 'list', names: ['-l', '--list'], kind: 'flag', help: 'List connected processes, one a line' },
  { key: 'checkpoint', names: ['-c', '--checkpoint'], kind: 'flag', help: 'Start a checkpoint of all processes; return once it started' },
  { key: 'bcheckpoint', names: ['-bc', '--bcheckpoint'], kind: 'flag', help: 'Checkpoint and return when every image and the restart script are written' },
  { key: 'kcheckpoint', names: ['-kc', '--kcheckpoint'], kind: 'flag', help: 'Checkpoint (blocking), then kill all processes' },
  { key: 'kill', names: ['-k', '--kill'], kind: 'flag', help: 'Kill all processes of the computation' },
  { key: 'quit', names: ['-q', '--quit'], kind: 'flag', help: 'Kill all processes, then quit the coordinator' },
  { key: 'interval', names: ['-i', '--interval'], kind: 'int', metavar: 'SECONDS', help: 'Set the automatic checkpoint interval (0: disabled)' },
];

export const COMMAND_OPTION_SPECS: OptSpec[] = [
  HOST_SPEC, PORT_SPEC,
  { key: 'json', names: ['--json'], kind: 'flag', help: 'Print one JSON document (schema_version 1) instead of text' },
  { key: 'help', names: ['--help'], kind: 'flag', help: 'Print this message and exit (also: h, ?)' },
  VERSION_SPEC,
];

/** Every accepted spelling of each command, after leading dashes are stripped. */
const COMMAND_WORDS: Record<string, CommandName> = {
  s: 'status', status: 'status',
  l: 'list', list: 'list',
  c: 'checkpoint', checkpoint: 'checkpoint',
  bc: 'bcheckpoint', bcheckpoint: 'bcheckpoint',
  kc: 'kcheckpoint', kcheckpoint: 'kcheckpoint',
  k: 'kill', kill: 'kill',
  q: 'quit', quit: 'quit',
  i: 'interval', interval: 'interval',
};

export function parseCommandArgs(argv: string[], env: NodeJS.ProcessEnv, cmd = 'dmtcp_command'): CommandOptions {
  let host: string | undefined;
  let port: number | undefined;
  let command: CommandName | undefined;
  let value: number | undefined;
  let json = false;
  let help = false;
  let version = false;

  const takeValue = (i: number, name: string, inline: string | undefined): [string, number] => {
    if (inline !== undefined) return [inline, i + 1];
    if (i + 1 >= argv.length) throw new UsageError(`${cmd}: option '${name}' needs a value (try --help)`);
    return [argv[i + 1], i + 2];
  };

  let i = 0;
  while (i < argv.length) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (name === '--json') { json = true; i++; continue; }
    if (name === '--help' || arg === 'h' || arg === '?' || arg === '-?') { help = true; i++; continue; }
    if (name === '--version') { version = true; i++; continue; }
    if (HOST_SPEC.names.includes(name)) {
      // DMTCP: '-h' alone means help.
      if (name === '-h' && inline === undefined && i === argv.length - 1) { help = true; i++; continue; }
      [host, i] = takeValue(i, name, inline);
      if (host === '') throw new UsageError(`${cmd}: option '${name}' needs a non-empty value (try --help)`);
      continue;
    }
    // DMTCP's attached forms: -p7779, -i5.
    const attached = /^-p(\d+)$/.exec(arg) ?? /^-{0,2}i(\d+)$/.exec(arg);
    if (attached) {
      if (arg.replace(/^-+/, '').startsWith('p')) port = parseIntStrict(cmd, "option '-p'", attached[1], 0, MAX_PORT);
      else {
        if (command !== undefined && command !== 'interval') throw new UsageError(`${cmd}: give one command only (got '${command}' and 'interval')`);
        command = 'interval';
        value = parseIntStrict(cmd, "option '-i'", attached[1], 0);
      }
      i++;
      continue;
    }
    if (PORT_SPEC.names.includes(name)) {
      let raw: string;
      [raw, i] = takeValue(i, name, inline);
      port = parseIntStrict(cmd, `option '${name}'`, raw, 0, MAX_PORT);
      continue;
    }
    const word = COMMAND_WORDS[name.replace(/^-{1,2}/, '')];
    if (!word) {
      if (arg.startsWith('-')) throw new UsageError(`${cmd}: unknown option '${name}' (try --help)`);
      throw new UsageError(`${cmd}: unknown command '${arg}' (try --help)`);
    }
    if (command !== undefined && command !== word) {
      throw new UsageError(`${cmd}: give one command only (got '${command}' and '${word}')`);
    }
    command = word;
    if (word === 'interval') {
      let raw: string;
      [raw, i] = takeValue(i, name, inline);
      value = parseIntStrict(cmd, `option '${name}'`, raw, 0);
      continue;
    }
    if (inline !== undefined) throw new UsageError(`${cmd}: option '${name}' takes no value (try --help)`);
    i++;
  }

  const addrSource = { values: new Map<string, string | number | boolean>(), given: new Set<string>(), rest: [] };
  if (host !== undefined) addrSource.values.set('host', host);
  if (port !== undefined) addrSource.values.set('port', port);
  const addr = resolveAddress(cmd, addrSource, env);
  if (!help && !version && command === undefined) {
    throw new UsageError(`${cmd}: no command given (e.g. ${cmd} --status; try --help)`);
  }
  return { host: addr.host, port: addr.port, command, value, json, help, version };
}
