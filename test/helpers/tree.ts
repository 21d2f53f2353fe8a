/**
 * Two checkpoint/kill/restart generations of a whole process tree: launch,
 * --kcheckpoint (images written, every process ends), restart from all the
 * images (in a shuffled order, or through the restart script), again, and a
 * last restart that runs to the end. With kcheckpoint nothing runs between a
 * checkpoint and the kill, so the runs' outputs put together are exactly one
 * undisturbed run's.
 */
import { expect } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, Run, Session, waitUntil } from './e2e';
import { spawn } from 'child_process';

export interface Cycle {
  runs: Run[];
  /** Image paths of each checkpoint. */
  images: string[][];
  /** Every stdout line of the three runs, in order. */
  lines: string[];
  end: { code: number | null; signal: NodeJS.Signals | null };
}

export interface CycleOptions {
  launchArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Checkpoint once this holds for the current run's lines... */
  ready?: (lines: string[]) => boolean;
  /** ...or this long after the run started (programs that print only at the end). */
  delayMs?: number;
  /** Restart through dmtcp_restart_script.sh instead of naming the images. */
  viaScript?: boolean;
  /** How many images each checkpoint must write. */
  processes?: number;
  /** Checkpoint/kill/restart cycles (default 2). */
  generations?: number;
  /** A stuck step reports the state once this long has passed since the launch
   * (default 55 s: before the test's 60 s timeout hides where it stuck). */
  budgetMs?: number;
  /** The environment of each cycle's dmtcp_restart (added to the test's). */
  restartEnv?: (cycle: number) => NodeJS.ProcessEnv;
}

function shuffled<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Runs the restart script the coordinator wrote, like a user would. */
function restartScript(s: Session): Run {
  const script = path.join(s.dir, 'dmtcp_restart_script.sh');
  const child = spawn('/bin/sh', [script, '-p', String(s.port)], {
    cwd: s.dir, env: { ...process.env, PATH: `${BIN}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  const r = new Run(child);
  s.runs.push(r);
  return r;
}

export async function kcheckpoint(s: Session, processes?: number): Promise<string[]> {
  const lines = await s.command('kcheckpoint');
  const images = lines.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path);
  if (processes !== undefined) expect(images).toHaveLength(processes);
  for (const i of images) expect(fs.existsSync(i)).toBe(true);
  return images;
}

/** What a stuck cycle looks like: the run's output, the coordinator's peers and
 * what it still expects, and where each peer's process is (state, wchan). */
export function stateDump(s: Session, run: Run): string {
  const c = s.coord.coordinator;
  const proc = (pid: number): string => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      const wchan = fs.readFileSync(`/proc/${pid}/wchan`, 'latin1');
      return `${state}/${wchan}`;
    } catch { return 'gone'; }
  };
  const peers = c.list().map((p) => `${p.prog} ${p.pid}/${p.rpid} ${p.state} [${proc(p.rpid)}]`).join('; ');
  const expected = c.expected.all().map((e) => `${e.pid} of ${e.parentRpid} [${proc(e.pid)}]`).join('; ');
  return `coordinator: ${JSON.stringify(c.status())}\npeers: ${peers || 'none'}\nexpected: ${expected || 'none'}\n` +
    `stdout:\n${run.lines.join('\n')}\nstderr:\n${run.stderr}`;
}

/** `p`, or an error naming the step and the state once `ms` have passed (or
 * the cycle's budget, so that a stuck step says so before the test's timeout). */
async function step<T>(what: string, p: Promise<T>, ms: number, s: Session, run: Run, until: number): Promise<T> {
  ms = Math.max(1000, Math.min(ms, until - Date.now()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms\n${stateDump(s, run)}`)), ms);
  });
  try { return await Promise.race([p, late]); } finally { clearTimeout(timer); }
}

export async function twoRestarts(s: Session, prog: string, args: string[], o: CycleOptions): Promise<Cycle> {
  const runs: Run[] = [];
  const images: string[][] = [];
  const until = Date.now() + (o.budgetMs ?? 55_000);
  let run = s.launch(prog, args, { launchArgs: o.launchArgs, env: o.env });
  for (let gen = 0; gen < (o.generations ?? 2); gen++) {
    runs.push(run);
    const current = run;
    const started = Date.now();
    const ready = o.ready ?? (() => Date.now() - started >= (o.delayMs ?? 1000));
    await waitUntil(() => ready(current.lines), 30_000).catch(() => {
      throw new Error(`not ready; stdout:\n${current.lines.join('\n')}\nstderr:\n${current.stderr}`);
    });
    const imgs = await step(`checkpoint ${gen + 1}`, kcheckpoint(s, o.processes), 20_000, s, current, until);
    images.push(imgs);
    const end = await step(`the end of run ${gen} after -k`, run.exited, 10_000, s, current, until);
    expect(end, `-k ends every process with status 0; stderr: ${run.stderr}`).toEqual({ code: 0, signal: null });
    run = o.viaScript ? restartScript(s) : s.restart(shuffled(imgs), { env: o.restartEnv?.(gen + 1) });
  }
  runs.push(run);
  const end = await step('the last run', run.exited, Infinity, s, run, until);
  return { runs, images, lines: runs.flatMap((r) => r.lines), end };
}

/** Waits until n restarted processes (new real pids) have connected to the
 * session's coordinator, whether or not they are still there (a restarted
 * child may end a few milliseconds after it is back: its wait was nearly over
 * at the checkpoint); on a timeout, says what the restart `run` printed and
 * which peers came. */
export async function restartedPeers(s: Session, n: number, run?: Run): Promise<void> {
  // Restarted processes have new real pids; children the program forks after
  // the restart (connected or not yet) do not count, whenever they come.
  const came = new Map<string, string>();
  const deadline = Date.now() + 20_000;
  for (;;) {
    for (const p of s.coord.coordinator.list()) if (p.rpid !== p.pid) came.set(p.id, `${p.prog}:${p.pid}/${p.rpid}:g${p.gen}`);
    if (came.size >= n) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const peers = s.coord.coordinator.list().map((p) => `${p.pid}/${p.rpid}`).join(' ');
  throw new Error(`${n} restarted peers did not come (peers now: ${peers || 'none'}; restarted ones that came: ${[...came.values()].join(' ') || 'none'});` +
    (run ? ` stdout:\n${run.lines.join('\n')}\nstderr:\n${run.stderr}` : ''));
}

/** The numbers n of lines "<tag> n", in order. */
export function counted(lines: string[], tag: string): number[] {
  const re = new RegExp(`^${tag} (\\d+)\\b`);
  return lines.map((l) => re.exec(l)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
}

export const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Both image kinds, for tests that run once per kind: [name, dmtcp_launch flags]. */
export const MODES: [string, string[]][] = [['gzip', []], ['raw', ['--no-gzip']]];

/** The runs together printed "<tag> 1".."<tag> n" then "DONE n", nothing CORRUPT, and ended with status 0. */
export function ranClean(c: Cycle, tag: string, n: number): void {
  expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
  expect(c.end).toEqual({ code: 0, signal: null });
  expect(counted(c.lines, tag)).toEqual(oneTo(n));
  expect(c.lines.at(-1)).toBe(`DONE ${n}`);
}
