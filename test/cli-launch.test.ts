/**
 * dmtcp_launch (and its old name dmtcp_checkpoint) as a user runs it: exit codes
 * pass through, options stop at the program name, the program keeps the
 * launcher's pid, our own failures exit 99 with one line, and the coordinator is
 * found, started in the background, or refused as the coordinator mode says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { program, session, Session } from './helpers/e2e';
import {
  bin, freePort, lines, portOpen, quitCoordinator, runCli, startCli, tempDir, waitPortClosed,
} from './helpers/cli';

let s: Session;
let exitcode: string;
let args: string[];
beforeAll(async () => {
  s = await session();
  exitcode = program('exitcode');
  program('args');
  program('pid');
  program('counter');
  args = ['-p', String(s.port), '-j'];
});
afterAll(async () => { await s?.close(); });

/** A failure of ours: exit 99, one line on stderr that starts with the command name. */
function expectOneLineFailure(r: { code: number | null; stderr: string; stdout: string }, cmd = 'dmtcp_launch', rc = 99): string {
  expect(r.code, r.stderr).toBe(rc);
  const errs = lines(r.stderr);
  expect(errs, r.stderr).toHaveLength(1);
  expect(errs[0].startsWith(`${cmd}: `)).toBe(true);
  return errs[0];
}

describe('exit status', () => {
  it('passes the program\'s exit code through (exit 7 gives 7)', async () => {
    const r = await runCli('dmtcp_launch', [...args, exitcode, '7'], { cwd: s.dir });
    expect(r.stdout).toBe('exiting 7\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(7);
  });

  it('passes 0 and other codes through too', async () => {
    for (const code of [0, 3, 42]) {
      const r = await runCli('dmtcp_launch', [...args, exitcode, String(code)], { cwd: s.dir });
      expect(r.code).toBe(code);
    }
  });

  it('a program killed by a signal ends the launch command with that signal', async () => {
    const r = await runCli('dmtcp_launch', [...args, exitcode, '-s', '15'], { cwd: s.dir });
    expect(r.stdout).toBe('raising 15\n');
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it('a shell sees 128+N for a signal death, as for the program run directly', async () => {
    // (async: the coordinator runs in this process and must keep answering)
    const launch = `"${process.execPath}" "${bin('dmtcp_launch')}" ${args.join(' ')} "${exitcode}" -s 15 >/dev/null; echo $?`;
    const sh = spawn('sh', ['-c', launch], { cwd: s.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    sh.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    sh.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    await new Promise((r) => sh.on('close', r));
    expect(out.trim(), err).toBe('143');
  });
});

describe('program and its arguments', () => {
  it('option parsing stops at the program name: --weird-flag x reaches the program', async () => {
    const prog = program('args');
    const r = await runCli('dmtcp_launch', [...args, './args', '--weird-flag', 'x', '--port', 'abc', '-h'], { cwd: path.dirname(prog) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'argc=6', 'argv[0]=./args', 'argv[1]=--weird-flag', 'argv[2]=x', 'argv[3]=--port', 'argv[4]=abc', 'argv[5]=-h',
    ]);
  });

  it('-- ends the options as well', async () => {
    const r = await runCli('dmtcp_launch', [...args, '--', program('args'), '--help'], { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(lines(r.stdout).slice(2)).toEqual(['argv[1]=--help']);
  });

  it('finds a program on PATH as a shell would', async () => {
    const r = await runCli('dmtcp_launch', [...args, 'args', 'one'], {
      cwd: s.dir, env: { PATH: `${path.dirname(program('args'))}:${process.env.PATH}` },
    });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual(['argc=2', 'argv[0]=args', 'argv[1]=one']);
  });

  it('the program keeps the launcher\'s pid (exec, not spawn)', async () => {
    const run = s.launch(program('pid'), ['20']);
    const line = await run.waitFor((l) => l.startsWith('pid='));
    expect(Number(line.slice(4))).toBe(run.child.pid);
    // and its parent is our test process, which spawned the launcher
    expect(await run.waitFor((l) => l.startsWith('ppid='))).toBe(`ppid=${process.pid}`);
    run.kill();
    await run.exited;
  });
});

describe('our own failures: exit 99 with one line', () => {
  it('an unknown option', async () => {
    const r = await runCli('dmtcp_launch', ['--frob', exitcode]);
    expect(expectOneLineFailure(r)).toContain('--frob');
    expect(r.stdout).toBe('');
  });

  it('no program at all', async () => {
    expectOneLineFailure(await runCli('dmtcp_launch', []));
    expectOneLineFailure(await runCli('dmtcp_launch', ['-p', String(s.port)]));
  });

  it('a port that is not a number', async () => {
    expect(expectOneLineFailure(await runCli('dmtcp_launch', ['--port', 'abc', exitcode]))).toContain('abc');
    expectOneLineFailure(await runCli('dmtcp_launch', [exitcode], { env: { DMTCP_PORT: 'abc' } }));
  });

  it('a missing program, naming it', async () => {
    const r = await runCli('dmtcp_launch', [...args, './no-such-program', 'x'], { cwd: s.dir });
    expect(expectOneLineFailure(r)).toContain('no-such-program');
  });

  it('a statically linked program, which LD_PRELOAD cannot reach', async () => {
    const staticExit = program('exitcode', { flags: ['-static'], as: 'exitcode-static' });
    const r = await runCli('dmtcp_launch', [...args, staticExit, '0'], { cwd: s.dir });
    expect(expectOneLineFailure(r)).toContain('statically linked');
  });

  it('DMTCP_FAIL_RC changes the code of our failures', async () => {
    const r = await runCli('dmtcp_launch', ['--frob', exitcode], { env: { DMTCP_FAIL_RC: '42' } });
    expect(r.code).toBe(42);
  });

  it('--help exits 0 with the usage on stdout', async () => {
    const r = await runCli('dmtcp_launch', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dmtcp_launch /);
    expect(r.stdout).toContain('--new-coordinator');
    expect(r.stderr).toBe('');
  });
});

describe('dmtcp_checkpoint, the old name', () => {
  it('launches like dmtcp_launch', async () => {
    const r = await runCli('dmtcp_checkpoint', [...args, exitcode, '5'], { cwd: s.dir });
    expect(r.stdout).toBe('exiting 5\n');
    expect(r.code).toBe(5);
    const h = await runCli('dmtcp_checkpoint', ['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: dmtcp_checkpoint /);
    expectOneLineFailure(await runCli('dmtcp_checkpoint', ['--frob']), 'dmtcp_checkpoint');
  });
});

describe('the coordinator', () => {
  it('is started in the background when none answers at the port, and quits on -q', async () => {
    const port = await freePort();
    const dir = tempDir('cli-auto');
    const run = startCli('dmtcp_launch', ['-p', String(port), program('counter'), '600'], { cwd: dir });
    try {
      await run.waitFor((l) => l === '3');
      expect(run.stderr).toBe(`dmtcp_launch: started a coordinator on localhost:${port}\n`);
      const st = await runCli('dmtcp_command', ['-p', String(port), '-s']);
      expect(st.code).toBe(0);
      expect(st.stdout).toContain('NUM_PEERS=1');
      expect(st.stdout).toContain('RUNNING=yes');
      const q = await runCli('dmtcp_command', ['-p', String(port), '-q']);
      expect(q.code).toBe(0);
      const end = await run.exited;
      expect(end).toEqual({ code: 0, signal: null });   // -q ends processes as -k does
      expect(run.lines).not.toContain('DONE 600');
      expect(await waitPortClosed(port)).toBe(true);
    } finally {
      run.kill();
      await quitCoordinator(port);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the started coordinator exits with the last process (exit code still passes through)', async () => {
    const port = await freePort();
    const r = await runCli('dmtcp_launch', ['-p', String(port), exitcode, '9'], { cwd: s.dir });
    try {
      expect(r.code).toBe(9);
      expect(await waitPortClosed(port)).toBe(true);
    } finally {
      await quitCoordinator(port);
    }
  });

  it('--new-coordinator with no port takes any free port and --port-file reports it', async () => {
    const dir = tempDir('cli-new');
    const portFile = path.join(dir, 'port');
    const env = { DMTCP_PORT: undefined, DMTCP_COORD_PORT: undefined };
    const run = startCli('dmtcp_launch', ['--new-coordinator', '--port-file', portFile, program('counter'), '600'], { cwd: dir, env });
    let port = 0;
    try {
      await run.waitFor((l) => l === '2');
      port = Number(fs.readFileSync(portFile, 'utf8').trim());
      expect(port).toBeGreaterThan(0);
      expect(port).not.toBe(7779);
      expect(run.stderr).toBe(`dmtcp_launch: started a coordinator on localhost:${port}\n`);
      const st = await runCli('dmtcp_command', ['-p', String(port), '-s']);
      expect(st.stdout).toContain('NUM_PEERS=1');
      // started on a socket dmtcp_launch made, not waited for (the program did not wait either): it checkpoints
      expect((await runCli('dmtcp_command', ['-p', String(port), '-bc'])).code).toBe(0);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('ckpt_') && f.endsWith('.dmtcp'))).toHaveLength(1);
      expect((await runCli('dmtcp_command', ['-p', String(port), '-q'])).code).toBe(0);
      await run.exited;
      expect(await waitPortClosed(port)).toBe(true);
    } finally {
      run.kill();
      if (port) await quitCoordinator(port);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('-q (--quiet, DMTCP_QUIET) keeps the note of a started coordinator to itself; -q -q reaches the agent', async () => {
    const dir = tempDir('cli-quiet');
    const env = { DMTCP_PORT: undefined, DMTCP_COORD_PORT: undefined };
    try {
      const quiet = await runCli('dmtcp_launch', ['--quiet', '--new-coordinator', exitcode, '3'], { cwd: dir, env });
      expect(quiet.code).toBe(3);
      expect(quiet.stderr).toBe('');
      const byEnv = await runCli('dmtcp_launch', ['--new-coordinator', exitcode, '4'], { cwd: dir, env: { ...env, DMTCP_QUIET: '1' } });
      expect(byEnv.code).toBe(4);
      expect(byEnv.stderr).toBe('');
      const twice = startCli('dmtcp_launch', ['-q', '-q', '--new-coordinator', program('counter'), '600'], { cwd: dir, env });
      try {
        await twice.waitFor((l) => l === '2');
        expect(fs.readFileSync(`/proc/${twice.child.pid}/environ`, 'utf8').split('\0')).toContain('DMTCP_QUIET=2');
        expect(twice.stderr).toBe('');
      } finally {
        twice.kill();
        await twice.exited;
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--join-coordinator with no coordinator there: 99, one line, nothing started', async () => {
    const port = await freePort();
    const r = await runCli('dmtcp_launch', ['--join-coordinator', '-p', String(port), exitcode], { cwd: s.dir });
    expect(expectOneLineFailure(r)).toContain(String(port));
    expect(r.stdout).toBe('');
    expect(await portOpen(port)).toBe(false);
  });

  it('--new-coordinator when one is running: rc+1 (100; 11 with DMTCP_FAIL_RC=10), one line, the program never runs', async () => {
    const r = await runCli('dmtcp_launch', ['--new-coordinator', '-p', String(s.port), exitcode], { cwd: s.dir });
    expect(expectOneLineFailure(r, 'dmtcp_launch', 100)).toMatch(/already running/);
    expect(r.stdout).toBe('');
    const ten = await runCli('dmtcp_launch', ['--new-coordinator', '-p', String(s.port), exitcode], { cwd: s.dir, env: { DMTCP_FAIL_RC: '10' } });
    expectOneLineFailure(ten, 'dmtcp_launch', 11);
    expect(ten.stdout).toBe('');
    const st = await runCli('dmtcp_command', ['-p', String(s.port), '-s']);
    expect(st.stdout).toContain('NUM_PEERS=0');
  });

  it('joins the coordinator named by DMTCP_PORT', async () => {
    const r = await runCli('dmtcp_launch', ['-j', exitcode, '4'], { cwd: s.dir, env: { DMTCP_PORT: String(s.port) } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(4);
  });
});
