import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChildProcessWithoutNullStreams, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { probeCoordinator, sendCommand } from '../src/coordinator';
import { FakeAgent } from './helpers/fake-agent';

const BIN = path.resolve(__dirname, '../bin/dmtcp_coordinator');

let tmp: string;
const children: ChildProcessWithoutNullStreams[] = [];
const daemonPids: number[] = [];
const agents: FakeAgent[] = [];

beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-ccli-')); });
afterEach(() => {
  agents.splice(0).forEach((a) => a.close());
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of daemonPids.splice(0)) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A coordinator process whose stdout we can wait on. */
function spawnCoordinator(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: { ...process.env, DMTCP_PORT: '' } });
  children.push(child);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d) => { out += d; waiters.splice(0).forEach((w) => w()); });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { waiters.splice(0).forEach((w) => w()); r(code); }));
  const waitOut = (re: RegExp, ms = 10000) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in: ${out} / ${err}`)), ms);
    const check = () => {
      const m = out.match(re);
      if (m) { clearTimeout(t); resolve(m); } else if (child.exitCode !== null) { clearTimeout(t); reject(new Error(`exited: ${out} ${err}`)); } else waiters.push(check);
    };
    check();
  });
  return { child, exited, waitOut, get out() { return out; }, get err() { return err; } };
}

function runOnce(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmp, timeout: 20000 }, (e, stdout, stderr) => {
      resolve({ code: e ? Number((e as NodeJS.ErrnoException).code) : 0, stdout, stderr });
    });
  });
}

describe('dmtcp_coordinator (process)', () => {
  it('answers its keys on stdin and quits on q', async () => {
    const pf = path.join(tmp, 'port');
    const c = spawnCoordinator(['--port', '0', '--port-file', pf]);
    const port = Number((await c.waitOut(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    expect(fs.readFileSync(pf, 'utf8').trim()).toBe(String(port));
    const a = await FakeAgent.connect({ port, imageDir: tmp, writeImage: true, prog: 'keyprog', pid: 777 });
    agents.push(a);

    c.child.stdin.write('s\n');
    await c.waitOut(/NUM_PEERS=1\n  RUNNING=yes\n  CKPT_INTERVAL=0 \(checkpoint manually\)/);
    c.child.stdin.write('l\n');
    await c.waitOut(new RegExp(`1, keyprog\\[777:778\\]@fakehost, ${a.id}, RUNNING`));
    c.child.stdin.write('?\n');
    await c.waitOut(/q : Kill all nodes and quit/);
    c.child.stdin.write('c\n');
    await a.waitFor(() => a.barriers.includes('RESUME'));
    await c.waitOut(/checkpoint 1: done, 1 image/);
    expect(fs.existsSync(path.join(tmp, 'dmtcp_restart_script.sh'))).toBe(true);
    c.child.stdin.write('f\n');
    await c.waitOut(/the next dmtcp_restart through this coordinator may lack processes/);
    c.child.stdin.write('q\n');
    await a.waitFor(() => a.killed);
    expect(await c.exited).toBe(0);
  });

  it('ignores EOF on stdin and stops on --exit-on-last', async () => {
    const c = spawnCoordinator(['-p', '0', '--exit-on-last']);
    const port = Number((await c.waitOut(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    c.child.stdin.end();
    await new Promise((r) => setTimeout(r, 200));
    expect(await probeCoordinator('127.0.0.1', port)).toBe(true);
    const a = await FakeAgent.connect({ port });
    a.close();
    expect(await c.exited).toBe(0);
  });

  it('k kills every agent and keeps running', async () => {
    const c = spawnCoordinator(['0']);
    const port = Number((await c.waitOut(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const a = await FakeAgent.connect({ port });
    agents.push(a);
    c.child.stdin.write('k\n');
    await a.waitFor(() => a.killed);
    expect(await probeCoordinator('127.0.0.1', port)).toBe(true);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  });

  it('--daemon returns once listening; the daemon writes the port file and quits on command', async () => {
    const pf = path.join(tmp, 'dport');
    const r = await runOnce(['--daemon', '--port', '0', '--port-file', pf]);
    expect(r.code).toBe(0);
    const m = r.stdout.match(/listening on 127\.0\.0\.1:(\d+) \(daemon pid (\d+)\)/)!;
    expect(m).toBeTruthy();
    daemonPids.push(Number(m[2]));
    const port = Number(fs.readFileSync(pf, 'utf8'));
    expect(port).toBe(Number(m[1]));
    expect(await probeCoordinator('127.0.0.1', port)).toBe(true);
    expect((await sendCommand('127.0.0.1', port, 'quit')).ok).toBe(true);
    // The daemon exits by itself after quit.
    for (let i = 0; i < 50 && (() => { try { process.kill(Number(m[2]), 0); return true; } catch { return false; } })(); i++) {
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(() => process.kill(Number(m[2]), 0)).toThrow();
  });

  it('bad flags and a busy port exit 99 with one line', async () => {
    const r = await runOnce(['--frob']);
    expect(r).toMatchObject({ code: 99, stderr: "dmtcp_coordinator: unknown option '--frob' (try --help)\n" });
    const c = spawnCoordinator(['-p', '0']);
    const port = (await c.waitOut(/listening on 127\.0\.0\.1:(\d+)/))[1];
    const busy = await runOnce(['-p', port]);
    expect(busy.code).toBe(99);
    expect(busy.stderr).toBe(`dmtcp_coordinator: port ${port} is already in use on 127.0.0.1 (is another coordinator running?)\n`);
    const d = await runOnce(['--daemon', '-p', port]);
    expect(d.code).toBe(99);
    expect(d.stderr).toMatch(/already in use/);
    const h = await runOnce(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--exit-on-last/);
  });
});
