// readdmtcp: offline inspection of .dmtcp images (TypeScript + wasm only).
// Bad input gives one line naming the file and exit 99, never a stack trace.
import * as fs from 'node:fs';
import { Image, openImage } from '../image/decode';
import { areaTable, chainText, human, jsonDocument, totals } from '../image/inspect';
import { flattenImage } from '../image/flatten';
import { renderHtml } from '../image/html';
import { progressLine } from '../image/progress';

const FAIL_RC = 99;
const USAGE_RC = 2;

const HELP = `Usage: readdmtcp [OPTIONS] IMAGE...
Show what a checkpoint image holds: program, process facts, threads, fds and
memory areas. Works on raw, gzip and HBICT delta images (the chain is followed)
without native code.

  (no option)   header, process, threads, fds and the area table
  --json        one JSON document per image (has schema_version)
  --areas       only the area table (/proc/pid/maps-like, with stored/zero bytes)
  --fds         only the file descriptors
  --env         only the environment
  --threads     only the threads
  --verify      check every checksum; exit 0 when intact, 99 naming the damage
  --extract ADDR LEN -o FILE
                write LEN bytes of the process's memory at ADDR (hex ok) to FILE
  --flatten OUT write one full image holding what IMAGE (a delta chain too)
                decodes to; gzip when IMAGE is gzip (--gzip/--no-gzip to choose)
  --html FILE   write a self-contained page drawing the address space
  -h, --help    this text

Exit status: 0 ok, 2 usage error, 99 damaged, truncated or foreign image.
`;

type Mode = 'default' | 'json' | 'areas' | 'fds' | 'env' | 'threads' | 'verify' | 'extract' | 'flatten' | 'html';

interface Args { mode: Mode; files: string[]; extract?: { addr: bigint; len: number; out: string }; out?: string; gzip?: boolean }

class UsageError extends Error {}

function parseNumber(s: string | undefined, what: string): bigint {
  if (!s || !/^(0x[0-9a-f]+|[0-9]+)$/i.test(s)) throw new UsageError(`${what} must be a number (decimal or 0x hex)`);
  return BigInt(s);
}

function parseArgs(argv: string[]): Args | 'help' {
  const files: string[] = [];
  let mode: Mode = 'default';
  let out = '';
  let addr = 0n, len = 0n;
  let gzip: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '-h': case '--help': return 'help';
      case '--json': case '--areas': case '--fds': case '--env': case '--threads': case '--verify':
        mode = a.slice(2) as Mode; break;
      case '--extract':
        mode = 'extract';
        addr = parseNumber(argv[++i], 'ADDR');
        len = parseNumber(argv[++i], 'LEN');
        break;
      case '-o': out = argv[++i] ?? ''; break;
      case '--flatten': case '--html':
        mode = a.slice(2) as Mode;
        out = argv[++i] ?? '';
        if (!out) throw new UsageError(`${a} needs an output FILE`);
        break;
      case '--gzip': gzip = true; break;
      case '--no-gzip': gzip = false; break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
        files.push(a);
    }
  }
  if (files.length === 0) throw new UsageError('no image given');
  if (mode === 'extract') {
    if (!out) throw new UsageError('--extract needs -o FILE');
    if (len > 1n << 32n) throw new UsageError('--extract LEN is too large');
    return { mode, files, extract: { addr, len: Number(len), out } };
  }
  if ((mode === 'flatten' || mode === 'html') && files.length !== 1) throw new UsageError(`--${mode} takes exactly one image`);
  return { mode, files, out, gzip };
}

function describe(img: Image): string {
  const m = img.meta;
  const writer = m.image?.writer;
  const how = [
    ...(typeof writer === 'string' ? [`${writer} encoder`] : []),
    ...(m.image?.pageData === 'direct' ? ['pages written by the process'] : []),
  ];
  const created = `${m.image?.created ?? '?'}${how.length ? ` (${how.join(', ')})` : ''}`;
  const when = typeof m.time === 'number' ? new Date(m.time * 1000).toISOString() : '?';
  const t = totals(img);
  const lines = [
    `image:    ${img.path}`,
    `format:   dmtcp image version ${img.formatVersion}, compression ${img.compression}` +
      (img.container === 'raw' && img.compression === 'gzip' ? ' (this copy is decompressed)' : ''),
    `program:  ${m.prog ?? '?'}  argv: ${JSON.stringify(m.argv ?? [])}`,
    `exe:      ${m.exe ?? '?'}`,
    `host:     ${m.host ?? '?'}  checkpointed: ${when}  written: ${created}`,
    `id:       ${m.uniqueId ?? '?'}  generation ${m.generation ?? '?'}`,
    `process:  pid ${m.pid ?? '?'} ppid ${m.ppid ?? '?'} pgid ${m.pgid ?? '?'} sid ${m.sid ?? '?'} uid ${m.uid ?? '?'} gid ${m.gid ?? '?'}`,
    `cwd:      ${m.cwd ?? '?'}`,
    `memory:   ${img.areas.length} areas, ${human(t.size)} mapped, ${human(t.stored)} stored, ${human(t.zero)} zero; file ${human(img.fileSize)}`,
    ...(chainText(img) ? [chainText(img)!] : []),
    '',
    threadsText(img),
    '',
    fdsText(img),
    '',
    areaTable(img),
  ];
  return lines.join('\n');
}

function threadsText(img: Image): string {
  const th = img.meta.threads ?? [];
  return [`threads (${th.length}):`, ...th.map((t) => `  tid ${t.tid}${t.fsBase ? `  fs_base ${t.fsBase}` : ''}`)].join('\n');
}

/** A raw sockaddr (hex, as the agent saved it) as people write it: 127.0.0.1:8080, [::1]:80, /path, @abstract. */
export function sockaddrText(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  if (b.length < 2) return '?';
  const family = b.readUInt16LE(0);
  if (family === 2 && b.length >= 8) return `${[...b.subarray(4, 8)].join('.')}:${b.readUInt16BE(2)}`;
  if (family === 10 && b.length >= 24) {
    const mapped = b.subarray(8, 18).every((x) => x === 0) && b[18] === 0xff && b[19] === 0xff;
    if (mapped) return `[::ffff:${[...b.subarray(20, 24)].join('.')}]:${b.readUInt16BE(2)}`;
    const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(8 + 2 * i).toString(16));
    const addr = words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:::+/, '::');
    return `[${addr}]:${b.readUInt16BE(2)}`;
  }
  if (family === 1) {
    const p = b.subarray(2);
    if (p.length === 0) return '(unnamed)';
    if (p[0] === 0) return `@${p.subarray(1).toString('utf8')}`;
    const end = p.indexOf(0);
    return p.subarray(0, end < 0 ? p.length : end).toString('utf8');
  }
  return `family ${family}`;
}

const ms = (ns: unknown): string => `${(Number(ns) / 1e6).toFixed(3)} ms`;

/** What an event descriptor held (native/agent/fds/{eventfd,timerfd,signalfd,epoll,inotify,mqueue}.c). */
function eventStateText(kind: unknown, st: Record<string, unknown>): string {
  switch (kind) {
    case 'eventfd': return `count ${st.count}${st.semaphore ? ', semaphore' : ''}`;
    case 'signalfd': return `mask ${st.mask}`;
    case 'timerfd': {
      const armed = Number(st.valueNs) ? `${st.absolute ? 'at' : 'next in'} ${ms(st.valueNs)}` : 'disarmed';
      return `clock ${st.clock}, ${armed}${Number(st.intervalNs) ? `, every ${ms(st.intervalNs)}` : ''}, ${st.ticks} expiries unread`;
    }
    case 'inotify': {
      const w = (st.watches ?? []) as { wd: number; path: string }[];
      return `${w.length} watches${w.length ? `: ${w.map((x) => `wd ${x.wd} ${x.path}`).join(', ')}` : ''}`;
    }
    case 'epoll': {
      const w = (st.watches ?? []) as { fd: number; events: string; data: string }[];
      return `${w.length} watches${w.length ? `: ${w.map((x) => `fd ${x.fd} events ${x.events}`).join(', ')}` : ''}`;
    }
    default: return 'state saved';
  }
}

/** How the checkpoint's election named a description, and what it carried (docs/restart-tree.md). */
function shareText(f: Record<string, unknown>): string {
  const parts: string[] = [];
  if (f.share === 'tag' || f.share === 'owner') parts.push(`owner ${f.owner}${f.share === 'tag' ? `:${f.ownerFd}` : ''}`);
  if (f.share === 'pipe') parts.push(`pipe owner ${f.owner}`);
  if (typeof f.drained === 'number' && f.drained > 0) parts.push(`${f.drained} bytes in flight`);
  const so = f.socket as { peer?: number; queued?: number; local?: string; remote?: string; listening?: boolean; unsent?: number } | undefined;
  if (so?.local && so.local.length > 4) parts.push(`${so.listening ? 'listening on' : 'at'} ${sockaddrText(so.local)}`);
  if (so?.remote && so.remote.length > 4) parts.push(`to ${sockaddrText(so.remote)}`);
  if (so?.peer) parts.push(`peer inode ${so.peer}`);
  if (so?.unsent && so.unsent > 0) parts.push(`${so.unsent} bytes not sent`);
  if (so?.queued && so.queued > 0) parts.push(`${so.queued} bytes waiting`);
  if (typeof f.pty === 'number') parts.push(`pty ${f.pty}`);
  const st = f.state as Record<string, unknown> | undefined;
  if (st) parts.push(eventStateText(f.kind, st));
  return parts.length ? `  [${parts.join(', ')}]` : '';
}

function fdsText(img: Image): string {
  const fds = img.meta.fds ?? [];
  return [`fds (${fds.length}):`, ...fds.map((f) => `  ${String(f.fd).padStart(4)}  ${(f.kind ?? '?').padEnd(9)} flags 0x${(f.flags ?? 0).toString(16).padEnd(6)} offset ${String(f.offset ?? 0).padEnd(8)} ${f.path ?? ''}${shareText(f)}`)].join('\n');
}

async function runOne(file: string, args: Args, out: (s: string) => void): Promise<number> {
  const img = openImage(file);
  const bytes = img.areas.reduce((s, a) => s + a.dataLen, 0);
  try {
    switch (args.mode) {
      case 'json': out(JSON.stringify(jsonDocument(img), null, 2)); break;
      case 'areas': out(areaTable(img)); break;
      case 'fds': out(fdsText(img)); break;
      case 'threads': out(threadsText(img)); break;
      case 'env': out((img.meta.env ?? []).join('\n')); break;
      case 'verify': {
        const p = progressLine(`verifying ${file}`, bytes);
        const bad = img.verify(p.tick);
        p.end();
        if (bad) { process.stderr.write(`readdmtcp: ${bad}\n`); return FAIL_RC; }
        out(`${file}: ok (${img.chunks.length} chunks verified)`);
        break;
      }
      case 'extract': {
        const x = args.extract!;
        fs.writeFileSync(x.out, img.readMemory(x.addr, x.len));
        break;
      }
      case 'flatten': {
        const p = progressLine(`flattening ${file}`, bytes);
        try {
          await flattenImage(img, args.out!, { gzip: args.gzip ?? img.compression === 'gzip', progress: p.tick });
        } finally { p.end(); }
        break;
      }
      case 'html': fs.writeFileSync(args.out!, renderHtml(img)); break;
      default: out(describe(img));
    }
    return 0;
  } finally {
    img.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`readdmtcp: ${(e as Error).message}\nTry 'readdmtcp --help'.\n`);
    return USAGE_RC;
  }
  if (args === 'help') { process.stdout.write(HELP); return 0; }
  let rc = 0;
  for (const file of args.files) {
    try {
      rc = Math.max(rc, await runOne(file, args, (s) => process.stdout.write(s + '\n')));
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      process.stderr.write(`readdmtcp: ${msg}\n`);
      rc = FAIL_RC;
    }
  }
  return rc;
}
