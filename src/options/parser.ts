/**
 * A small table-driven option parser (no dependency: the CLIs need little).
 *
 * Each command declares its options as OptSpec rows; the same rows produce the
 * --help text, so the help can never drift from what is accepted.
 */
import { UsageError } from './errors';

/** 'count': a flag that may be repeated (-q -q), its value the number of times. */
export type OptKind = 'flag' | 'string' | 'int' | 'count';

export interface OptSpec {
  /** Key in the parse result. Several rows may share a key (e.g. coordinator mode). */
  key: string;
  /** Every spelling, short and long: ['-p', '--port', '--coord-port']. */
  names: string[];
  kind: OptKind;
  /** For flags: the value stored (default true). */
  value?: string | boolean | number;
  /** Placeholder shown in help for valued options. */
  metavar?: string;
  /** Environment twins, shown in help; resolution is done by the command's parser. */
  env?: string[];
  help: string;
  min?: number;
  max?: number;
  /** '-h' alone at the end means --help (DMTCP: "-h" is both host and help). */
  helpWhenLast?: boolean;
}

export interface ParseResult {
  values: Map<string, string | boolean | number>;
  /** Names (as typed) of options given, for "was it explicit?" questions. */
  given: Set<string>;
  /** Positional words (or, with stopAtFirstWord, the program and its arguments). */
  rest: string[];
}

export interface ParseMode {
  /** Stop at the first word that is not an option: it and all after it are the program. */
  stopAtFirstWord: boolean;
}

/** Parse an integer strictly: no trailing junk, inside [min, max]. */
export function parseIntStrict(cmd: string, what: string, raw: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const t = raw.trim();
  if (!/^-?\d+$/.test(t)) throw new UsageError(`${cmd}: ${what} needs a number, got '${raw}' (try --help)`);
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${cmd}: ${what} must be between ${min} and ${max}, got '${raw}' (try --help)`);
  }
  return n;
}

function findSpec(specs: OptSpec[], name: string): OptSpec | undefined {
  return specs.find((s) => s.names.includes(name));
}

export function parseArgv(cmd: string, argv: string[], specs: OptSpec[], mode: ParseMode): ParseResult {
  const values = new Map<string, string | boolean | number>();
  const given = new Set<string>();
  const rest: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i];
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    // A lone '-' and anything not starting with '-' is a word (program, image, port).
    if (!arg.startsWith('-') || arg === '-') {
      if (mode.stopAtFirstWord) {
        rest.push(...argv.slice(i));
        break;
      }
      rest.push(arg);
      i++;
      continue;
    }
    let name = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    }
    const spec = findSpec(specs, name);
    if (!spec) throw new UsageError(`${cmd}: unknown option '${name}' (try --help)`);
    given.add(spec.key);
    if (spec.helpWhenLast && inline === undefined && i === argv.length - 1) {
      values.set('help', true);
      i++;
      continue;
    }
    if (spec.kind === 'count') {
      if (inline !== undefined) throw new UsageError(`${cmd}: option '${name}' takes no value (try --help)`);
      const before = values.get(spec.key);
      values.set(spec.key, (typeof before === 'number' ? before : 0) + 1);
      i++;
      continue;
    }
    if (spec.kind === 'flag') {
      if (inline !== undefined) throw new UsageError(`${cmd}: option '${name}' takes no value (try --help)`);
      values.set(spec.key, spec.value ?? true);
      i++;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${cmd}: option '${name}' needs a value (try --help)`);
      raw = argv[i + 1];
      i += 2;
    } else {
      i++;
    }
    if (spec.kind === 'int') values.set(spec.key, parseIntStrict(cmd, `option '${name}'`, raw, spec.min, spec.max));
    else {
      if (raw === '') throw new UsageError(`${cmd}: option '${name}' needs a non-empty value (try --help)`);
      values.set(spec.key, raw);
    }
  }
  return { values, given, rest };
}

/** First non-empty environment value among names, with the name it came from. */
export function envFirst(env: NodeJS.ProcessEnv, names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return { name, value: v.trim() };
  }
  return undefined;
}

/** Render option rows in the style of DMTCP's --help: names, metavar, env twin, text. */
export function renderOptions(specs: OptSpec[]): string {
  const lines: string[] = [];
  for (const s of specs) {
    let head = '  ' + s.names.join(', ');
    if (s.kind !== 'flag' && s.kind !== 'count') head += ' ' + (s.metavar ?? (s.kind === 'int' ? 'N' : 'VALUE'));
    if (s.env && s.env.length) head += ` (environment variable ${s.env.join(' or ')})`;
    lines.push(head);
    for (const l of s.help.split('\n')) lines.push('      ' + l);
  }
  return lines.join('\n');
}
