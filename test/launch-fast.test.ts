/**
 * bin/dmtcp_launch run as a program: the native fast path
 * (build/Release/dmtcp_launch_fast) takes the common cases, and the program
 * it starts sees exactly what the Node launcher's would (environment in
 * order, descriptors, limits, signals); everything else reaches the Node
 * launcher with the same arguments. Which launcher ran is seen from outside:
 * NODE_OPTIONS preloads a script that notes every Node process started as
 * bin/dmtcp_launch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { BIN, ROOT, program, Run, session, Session, waitUntil } from './helpers/e2e';
import { freePort, lines, quitCoordinator, runCli, tempDir, waitPortClosed } from './helpers/cli';

const ENTRY = path.join(BIN, 'dmtcp_launch');
const FAST = path.join(ROOT, 'build', 'Release', 'dmtcp_launch_fast');

let s: Session;
let work: string;
let markFile: string;
let baseEnv: NodeJS.ProcessEnv;
let state: string;
let exitcode: string;

beforeAll(async () => {
  s = await session();
  work = tempDir('launch-fast');
  markFile = path.join(work, 'node-launchers');
  const marker = path.join(work, 'mark.js');
  fs.writeFileSync(marker, `if (/dmtcp_launch$/.test(process.argv[1] || '')) require('fs').appendFileSync(${JSON.stringify(markFile)}, 'node\\n');\n`);
  baseEnv = {
    ...process.env, NODE_OPTIONS: `--require ${marker}`, PWD: work,
    // what a caller's environment may hold from an earlier launch: replaced or removed
    DMTCP_ENCODER_SOCKET: '/nowhere', LD_PRELOAD: ': :',
  };
  for (const k of ['DMTCP_PORT', 'DMTCP_COORD_PORT', 'DMTCP_HOST', 'DMTCP_COORD_HOST', 'DMTCP_QUIET', 'DMTCP_GZIP',
    'DMTCP_CHECKPOINT_DIR', 'DMTCP_PLUGIN', 'DMTCP_NO_COORDINATOR', 'DMTCP_TMPDIR', 'DMTCP_FAIL_RC']) delete baseEnv[k];
  state = program('launchstate');
  exitcode = program('exitcode');
  program('counter');
});
afterAll(async () => {
  await s?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; node: boolean }

/** Runs `entry` (bin/dmtcp_launch itself, through its #! line) and says whether a Node launcher ran. */
function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; entry?: string } = {}): Promise<Result> {
  fs.rmSync(markFile, { force: true });
  const child = spawn(opts.entry ?? ENTRY, args, {
    cwd: opts.cwd ?? work, env: { ...baseEnv, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } reject(new Error('timed out')); }, 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, node: fs.existsSync(markFile) });
    });
  });
}

/** What the program saw, with what must differ between two launches made uniform. */
function seen(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l !== '')
    .map((l) => l.replace(/^env DMTCP_LAUNCH_NO_FAST=.*$/, 'env DMTCP_LAUNCH_NO_FAST=<either>')
      .replace(/^(env DMTCP_ENCODER_SOCKET=.*\/dmtcp-enc-)[^/]{6}\//, '$1XXXXXX/'));
}

/** The same launch through the fast path and through Node: both programs see the same. */
async function compare(args: string[], env: NodeJS.ProcessEnv = {}, newPort?: (r: Result) => number): Promise<string[]> {
  const fast = await run([...args, state], { env: { ...env, DMTCP_LAUNCH_NO_FAST: '0' } });
  // a coordinator the first launch started is gone before the second looks for one on its port
  if (newPort && fast.code === 0) expect(await waitPortClosed(newPort(fast))).toBe(true);
  const slow = await run([...args, state], { env: { ...env, DMTCP_LAUNCH_NO_FAST: '1' } });
  expect(fast.code, fast.stderr).toBe(0);
  expect(slow.code, slow.stderr).toBe(0);
  expect(fast.node).toBe(false);
  expect(slow.node).toBe(true);
  expect(fast.stderr.replace(/:\d+$/m, ':PORT')).toBe(slow.stderr.replace(/:\d+$/m, ':PORT'));
  let a = seen(fast.stdout);
  let b = seen(slow.stdout);
  if (newPort) {
    // each launch started its own coordinator on a port of its own
    for (const [r, port] of [[fast, newPort(fast)], [slow, newPort(slow)]] as const) {
      expect(r.stdout).toContain(`env DMTCP_COORD_PORT=${port}\n`);
      expect(await waitPortClosed(port)).toBe(true);
    }
    a = a.map((l) => l.replace(/^env DMTCP_COORD_PORT=\d+$/, 'env DMTCP_COORD_PORT=<new>'));
    b = b.map((l) => l.replace(/^env DMTCP_COORD_PORT=\d+$/, 'env DMTCP_COORD_PORT=<new>'));
  }
  expect(a).toEqual(b);
  expect(a.some((l) => l.startsWith('env LD_PRELOAD='))).toBe(true);
  return a;
}

const noted = (r: Result): number => Number(/started a coordinator on localhost:(\d+)/.exec(r.stderr)![1]);

describe('the program sees the same through the fast path as through Node', () => {
  it('--new-coordinator -p 0 (with --port-file and a relative --ckptdir)', async () => {
    const portFile = path.join(work, 'port');
    const a = await compare(['--new-coordinator', '-p', '0', '--port-file', 'port', '--ckptdir', 'sub/../ck'], {}, noted);
    expect(a).toContain(`env DMTCP_CHECKPOINT_DIR=${path.join(work, 'ck')}`);
    expect(fs.readFileSync(portFile, 'utf8')).toMatch(/^\d+\n$/);
  });

  it('-j -p PORT and the default mode, with a coordinator running', async () => {
    for (const mode of [['-j'], []]) {
      const a = await compare([...mode, '-p', String(s.port)]);
      expect(a).toContain(`env DMTCP_COORD_PORT=${s.port}`);
    }
  });

  it('the default mode with none running starts one (the port from DMTCP_COORD_PORT)', async () => {
    const port = await freePort();
    const a = await compare(['-q'], { DMTCP_COORD_PORT: String(port) }, () => port);
    expect(a).toContain(`env DMTCP_COORD_PORT=<new>`);
  });

  it('every option the fast path takes', async () => {
    const a = await compare(['--join', '--coord-port', String(s.port), '-h', '127.0.0.1', '--no-gzip', '--hbict', '--forked-checkpointing', '--ckpt-signal', '10',
      '--tmpdir', work, '-q', '--quiet', '--checkpoint-open-files', '--allow-file-overwrite', '--ckptdir', 'ck', '--no-encoder-service',
      '--disable-all-plugins', '--']);
    for (const l of ['DMTCP_GZIP=0', 'DMTCP_HBICT=1', 'DMTCP_FORKED_CHECKPOINT=1', 'DMTCP_SIGCKPT=10', `DMTCP_TMPDIR=${work}`, 'DMTCP_QUIET=2', 'DMTCP_CKPT_OPEN_FILES=1',
      'DMTCP_ALLOW_FILE_OVERWRITE=1', 'DMTCP_COORD_HOST=127.0.0.1']) expect(a).toContain(`env ${l}`);
    expect(a.some((l) => l.startsWith('env DMTCP_ENCODER_SOCKET='))).toBe(false);
  });

  it('their environment twins, and --no-coordinator with an interval', async () => {
    await compare([], {
      DMTCP_HOST: 'localhost', DMTCP_PORT: String(s.port), DMTCP_GZIP: '0', DMTCP_HBICT: '1', DMTCP_SIGCKPT: '14', DMTCP_QUIET: '1',
      DMTCP_CHECKPOINT_DIR: 'ck', DMTCP_TMPDIR: work, DMTCP_ENCODER_SERVICE: '0', DMTCP_PLUGIN: '::',
      DMTCP_FORKED_CHECKPOINT: '0',
    });
    // unset or empty: the agent decides; the launch passes nothing
    const unset = await compare(['-j', '-p', String(s.port)], { DMTCP_FORKED_CHECKPOINT: '' });
    expect(unset.some((l) => l.startsWith('env DMTCP_FORKED_CHECKPOINT='))).toBe(false);
    const a = await compare(['--no-coordinator', '-i', '5']);
    expect(a).toContain('env DMTCP_NO_COORDINATOR=1');
    expect(a).toContain('env DMTCP_CHECKPOINT_INTERVAL=5');
    expect(a.some((l) => l.startsWith('env DMTCP_COORD_HOST='))).toBe(false);
  });
});

describe('what the fast path does not take goes to Node, with the same arguments', () => {
  it('--help prints the Node launcher\'s text', async () => {
    const r = await run(['--help']);
    expect(r.node).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dmtcp_launch /);
  });

  it('bad input: 99 (DMTCP_FAIL_RC) and the one-line errors', async () => {
    const port = await freePort();
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--frob', exitcode], {}, /unknown option '--frob'/],
      [['--port', 'abc', exitcode], {}, /abc/],
      [[exitcode], { DMTCP_PORT: ' 12x' }, /12x/],
      [['-j', '-p', String(port), exitcode], {}, /no coordinator answers/],
      [['--with-plugin', '/no/such.so', exitcode], {}, /plugin \/no\/such\.so/],
      [['-p', String(s.port), './no-such-program'], {}, /not found/],
      [[], {}, /no program to launch/],
    ];
    for (const [args, env, said] of cases) {
      const r = await run(args, { env });
      expect(r.node, args.join(' ')).toBe(true);
      expect(r.code, r.stderr).toBe(99);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^dmtcp_launch: .*${said.source}`));
    }
    const rc = await run(['--frob', exitcode], { env: { DMTCP_FAIL_RC: '42' } });
    expect(rc.code).toBe(42);
  });

  it('a `node` on PATH that is a script (a version manager\'s shim): Node says where the real one is', async () => {
    const shims = path.join(work, 'shims');
    fs.mkdirSync(shims, { recursive: true });
    fs.writeFileSync(path.join(shims, 'node'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} "$@"\n`, { mode: 0o755 });
    const r = await run(['-q', '-p', String(s.port), state], { env: { PATH: `${shims}:${process.env.PATH}` } });
    expect(r.node).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    expect(seen(r.stdout)).toContain(`env DMTCP_NODE=${fs.realpathSync(process.execPath)}`);
  });

  it('--new-coordinator where one runs: rc+1 from Node', async () => {
    const r = await run(['--new-coordinator', '-p', String(s.port), exitcode]);
    expect(r.node).toBe(true);
    expect(r.code).toBe(100);
  });
});

describe('the fast path', () => {
  it('passes the program\'s exit code and its death by a signal through', async () => {
    const r = await run(['-q', '--new-coordinator', exitcode, '7']);
    expect(r.node).toBe(false);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('exiting 7\n');
    const k = await run(['-p', String(s.port), exitcode, '-s', '15']);
    expect(k.node).toBe(false);
    expect(k.signal).toBe('SIGTERM');
  });

  it('runs through a symbolic link to bin/dmtcp_launch (npm link, npx)', async () => {
    const link = path.join(work, 'linked', 'dmtcp_launch');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(ENTRY, link);
    const r = await run(['-p', String(s.port), exitcode, '4'], { entry: link });
    expect(r.node).toBe(false);
    expect(r.code).toBe(4);
  });

  it('without the native build, bin/dmtcp_launch is the Node launcher, with no word about it', async () => {
    const pkg = path.join(work, 'unbuilt');
    fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
    fs.copyFileSync(ENTRY, path.join(pkg, 'bin', 'dmtcp_launch'));
    fs.chmodSync(path.join(pkg, 'bin', 'dmtcp_launch'), 0o755);
    fs.symlinkSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'));
    expect(fs.existsSync(path.join(pkg, 'build', 'Release', 'dmtcp_launch_fast'))).toBe(false);
    const r = await run(['-q', '-p', String(s.port), exitcode, '5'], { entry: path.join(pkg, 'bin', 'dmtcp_launch') });
    expect(r.node).toBe(true);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('');
    expect(fs.existsSync(FAST)).toBe(true);
  });

  it('the resident encoder it starts sweeps a stale folder beside its own', async () => {
    const base = path.join(work, 'tmp');
    const stale = path.join(base, 'dmtcp-enc-old000');
    fs.mkdirSync(stale, { recursive: true });
    fs.writeFileSync(path.join(stale, 'service.pid'), '999999999');   // no such process
    const old = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(stale, old, old);
    const r = await run(['-q', '-p', String(s.port), '--tmpdir', base, exitcode, '0']);
    expect(r.node).toBe(false);
    expect(r.code).toBe(0);
    await waitUntil(() => !fs.existsSync(stale), 15_000);
  });

  it('--new-coordinator: a counter checkpointed, killed and restarted, twice', async () => {
    const dir = tempDir('launch-fast-ckpt');
    const portFile = path.join(dir, 'port');
    fs.rmSync(markFile, { force: true });
    const child = spawn(ENTRY, ['-q', '--new-coordinator', '--port-file', portFile, '--ckptdir', dir, program('counter'), '600'], {
      cwd: dir, env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    const first = new Run(child);
    let port = 0;
    try {
      await first.waitFor((l) => l === '3');
      expect(fs.existsSync(markFile)).toBe(false);
      port = Number(fs.readFileSync(portFile, 'utf8'));
      expect((await runCli('dmtcp_command', ['-p', String(port), '-bc'])).code).toBe(0);
      const image = fs.readdirSync(dir).find((f) => f.startsWith('ckpt_counter') && f.endsWith('.dmtcp'))!;
      expect(image).toBeDefined();
      const atCheckpoint = Math.max(...first.lines.filter((l) => /^\d+$/.test(l)).map(Number));
      expect((await runCli('dmtcp_command', ['-p', String(port), '-k'])).code).toBe(0);
      await first.exited;
      expect(await waitPortClosed(port)).toBe(true);   // the started coordinator left with its last process

      let previous = atCheckpoint;
      let imagePath = path.join(dir, image);
      for (let round = 1; round <= 2; round++) {
        const again = s.restart([imagePath]);
        await again.waitFor((l) => /^\d+$/.test(l) && Number(l) > previous + 3);
        const counted = again.lines.filter((l) => /^\d+$/.test(l)).map(Number);
        expect(counted[0]).toBeLessThanOrEqual(previous + 1);   // continues, never from 1
        expect(counted[0]).toBeGreaterThan(1);
        expect(again.lines).not.toContain('CORRUPT');
        imagePath = (await s.checkpoint())[0];
        previous = Math.max(...again.lines.filter((l) => /^\d+$/.test(l)).map(Number));
        await s.command('kill');
        await again.exited;
      }
    } finally {
      first.kill();
      if (port) await quitCoordinator(port);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the fast path keeps to the Node launcher\'s options', () => {
  const source = fs.readFileSync(path.join(ROOT, 'native', 'launch', 'launch_opts.c'), 'utf8');

  it('every option it takes is one of dmtcp_launch\'s, of the same kind', async () => {
    const { LAUNCH_SPECS } = await import('../src/options/launch');
    const rows = [...source.matchAll(/\{ "(-[^"]+)", K_\w+, (FLAG|STRING|INT|COUNT),/g)];
    expect(rows.length).toBeGreaterThan(20);
    for (const [, name, kind] of rows) {
      const spec = LAUNCH_SPECS.find((sp) => sp.names.includes(name));
      expect(spec, name).toBeDefined();
      expect(spec!.kind.toUpperCase(), name).toBe(kind);
    }
  });

  it('every environment twin of dmtcp_launch\'s options is read there (or the option is Node\'s alone)', async () => {
    const { LAUNCH_SPECS } = await import('../src/options/launch');
    for (const spec of LAUNCH_SPECS) for (const name of spec.env ?? []) expect(source, name).toContain(`"${name}"`);
  });
});

it('the fast launcher exists (npm run build:native)', () => {
  expect(fs.existsSync(FAST)).toBe(true);
});
