/**
 * npm run demo: the five-line session of the README, run for you.
 *
 * Compiles a tiny counter (gcc) into a temporary directory, starts a coordinator
 * there on a free port (dmtcp_coordinator --daemon --port 0 --port-file), launches
 * the counter under dmtcp_launch, checkpoints it (dmtcp_command --bcheckpoint),
 * kills it (dmtcp_command --kill), restarts it with the generated
 * dmtcp_restart_script.sh and shows the count going on where the checkpoint left
 * it. Then it quits the coordinator and removes the directory.
 *
 * Exit status: 0 when the counter continued exactly; 1 otherwise.
 * Options: --keep (keep the directory), --quiet (only the summary line).
 */
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin');
const LIMIT = 30;
const CHECKPOINT_AT = 12;

const COUNTER_C = `/* demo counter: prints 1..N, one number every 100 ms */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : ${LIMIT};
  for (int i = 1; i <= n; i++) {
    printf("%d\\n", i);
    fflush(stdout);
    struct timespec ts = { 0, 100 * 1000000L };
    nanosleep(&ts, 0);
  }
  printf("DONE %d\\n", n);
  return 0;
}
`;

class DemoError extends Error {}

interface Proc {
  child: ChildProcess;
  lines: string[];
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const keep = args.has('--keep');
const say = (s: string) => { if (!quiet) process.stdout.write(`${s}\n`); };

/** Every process group we started, ended at cleanup if still there. */
const groups = new Set<number>();

function start(cmd: string, argv: string[], cwd: string, onLine?: (l: string) => void): Proc {
  const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid) groups.add(child.pid);
  const p: Proc = { child, lines: [], stderr: '', exited: undefined as never };
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const l of parts) { p.lines.push(l); onLine?.(l); }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { p.stderr += d; });
  p.exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (partial) { p.lines.push(partial); onLine?.(partial); }
      if (child.pid) groups.delete(child.pid);
      resolve({ code, signal });
    });
  });
  return p;
}

/** Run one of our commands to its end; it must exit 0. */
async function dmtcp(cmd: string, argv: string[], cwd: string): Promise<Proc> {
  say(`$ ${cmd} ${argv.join(' ')}`);
  const p = start(process.execPath, [path.join(BIN, cmd), ...argv], cwd);
  const end = await p.exited;
  for (const l of p.lines) say(`  ${l}`);
  if (end.code !== 0) throw new DemoError(`${cmd} failed (${end.signal ?? `exit ${end.code}`}): ${p.stderr.trim()}`);
  return p;
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new DemoError(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (v: boolean) => { s.destroy(); resolve(v); };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const numbers = (lines: string[]) => lines.filter((l) => /^\d+$/.test(l)).map(Number);

async function demo(dir: string, state: { port?: number; daemonPid?: number }): Promise<void> {
  say(`dmtcp demo in ${dir}\n`);
  fs.writeFileSync(path.join(dir, 'counter.c'), COUNTER_C);
  say('$ gcc -o counter counter.c');
  const cc = spawnSync('gcc', ['-o', 'counter', 'counter.c'], { cwd: dir, encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    throw new DemoError(`gcc could not build the counter: ${cc.error?.message ?? cc.stderr.trim()}`);
  }

  const coord = await dmtcp('dmtcp_coordinator', ['--daemon', '--port', '0', '--port-file', 'port', '--ckptdir', dir], dir);
  state.port = Number(fs.readFileSync(path.join(dir, 'port'), 'utf8').trim());
  const m = /daemon pid (\d+)/.exec(coord.lines.join('\n'));
  if (m) state.daemonPid = Number(m[1]);
  const port = String(state.port);

  say(`$ dmtcp_launch -p ${port} ./counter ${LIMIT}`);
  const launch = start(process.execPath, [path.join(BIN, 'dmtcp_launch'), '-p', port, '-j', './counter', String(LIMIT)], dir,
    (l) => say(`  counter: ${l}`));
  await waitFor(`the counter to reach ${CHECKPOINT_AT}`, () => launch.lines.includes(String(CHECKPOINT_AT)) || launch.child.exitCode !== null);
  if (!launch.lines.includes(String(CHECKPOINT_AT))) throw new DemoError(`the counter stopped early: ${launch.stderr.trim()}`);

  await dmtcp('dmtcp_command', ['-p', port, '--bcheckpoint'], dir);
  const images = fs.readdirSync(dir).filter((f) => /^ckpt_counter_.*\.dmtcp$/.test(f));
  if (images.length !== 1) throw new DemoError(`expected one image, found ${images.length}`);
  say(`  wrote ${images[0]} (${fs.statSync(path.join(dir, images[0])).size} bytes) and dmtcp_restart_script.sh`);
  await dmtcp('dmtcp_command', ['-p', port, '--kill'], dir);
  await launch.exited;
  const before = numbers(launch.lines);

  say('$ sh ./dmtcp_restart_script.sh');
  const restarted = start('sh', ['./dmtcp_restart_script.sh'], dir, (l) => say(`  counter: ${l}`));
  const end = await restarted.exited;
  if (end.code !== 0) throw new DemoError(`the restart failed (${end.signal ?? `exit ${end.code}`}): ${restarted.stderr.trim()}`);
  const after = numbers(restarted.lines);

  // The image holds the count at the checkpoint: the restart goes on from there.
  const at = (after[0] ?? 1) - 1;
  const expected = Array.from({ length: LIMIT - at }, (_, i) => at + 1 + i);
  const continued = at >= CHECKPOINT_AT && at <= before.at(-1)! && JSON.stringify(after) === JSON.stringify(expected)
    && restarted.lines.at(-1) === `DONE ${LIMIT}`;
  if (!continued) {
    throw new DemoError(`the counter did not continue: before the kill ${before.join(' ')}; after the restart ${after.join(' ')}`);
  }
  const shown = after.slice(0, 6).join(' ');
  process.stdout.write(`${quiet ? '' : '\n'}checkpointed at ${at}, killed at ${before.at(-1)}, restarted: ${shown} ... ${LIMIT} (DONE)\n`);

  await dmtcp('dmtcp_command', ['-p', port, '--quit'], dir);
  for (let i = 0; i < 100 && (await portOpen(state.port)); i++) await new Promise((r) => setTimeout(r, 50));
  state.daemonPid = undefined;
}

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-demo-'));
  const state: { port?: number; daemonPid?: number } = {};
  const cleanup = () => {
    for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ } }
    if (state.daemonPid) { try { process.kill(state.daemonPid, 'SIGTERM'); } catch { /* gone */ } }
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => { cleanup(); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await demo(dir, state);
    return 0;
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n`);
    return 1;
  } finally {
    cleanup();
    if (keep) say(`(kept ${dir})`);
  }
}

if (require.main === module) {
  main().then((code) => { process.exitCode = code; });
}
