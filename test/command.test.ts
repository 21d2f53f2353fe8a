import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startCoordinator, CoordinatorHandle } from '../src/coordinator';
import { FakeAgent } from './helpers/fake-agent';

const BIN = path.resolve(__dirname, '../bin/dmtcp_command');

interface Run { code: number; stdout: string; stderr: string }

/** Async on purpose: the coordinator under test lives in this process's event loop. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const cleanEnv = { ...process.env };
    for (const k of ['DMTCP_HOST', 'DMTCP_PORT', 'DMTCP_COORD_HOST', 'DMTCP_COORD_PORT', 'DMTCP_FAIL_RC']) delete cleanEnv[k];
    execFile(process.execPath, [BIN, ...args], { env: { ...cleanEnv, ...env }, timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let tmp: string;
let coord: CoordinatorHandle | undefined;
const agents: FakeAgent[] = [];

beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-cmd-')); });
afterEach(async () => {
  agents.splice(0).forEach((a) => a.close());
  if (coord) await coord.close();
  coord = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function withAgents(n: number): Promise<CoordinatorHandle> {
  coord = await startCoordinator({ port: 0, ckptDir: tmp });
  for (let i = 0; i < n; i++) agents.push(await FakeAgent.connect({ port: coord.port, imageDir: tmp, writeImage: true, prog: `p${i}`, pid: 500 + i }));
  return coord;
}

describe('dmtcp_command', () => {
  it('-s prints the address and DMTCP\'s KEY=value lines', async () => {
    const c = await withAgents(2);
    const r = await run(['-s', '-h', '127.0.0.1', '-p', String(c.port)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Coordinator:\n  Host: 127.0.0.1\n  Port: ${c.port}\nStatus...\n  NUM_PEERS=2\n  RUNNING=yes\n  CKPT_INTERVAL=0 (checkpoint manually)\n`);
    // The seeds' form without dashes, address from the environment.
    const r2 = await run(['s'], { DMTCP_PORT: String(c.port), DMTCP_HOST: '127.0.0.1' });
    expect(r2.stdout).toContain('NUM_PEERS=2');
  });

  it('-l lists one client a line', async () => {
    const c = await withAgents(2);
    const r = await run(['--list', '--coord-port', String(c.port), '--coord-host', '127.0.0.1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual(['Coordinator:', '  Host: 127.0.0.1', `  Port: ${c.port}`]);
    expect(lines[5]).toBe(`1, p0[500:501]@fakehost, ${agents[0].id}, RUNNING`);
    expect(lines[6]).toBe(`2, p1[501:502]@fakehost, ${agents[1].id}, RUNNING`);
  });

  it('--json status and list parse with DMTCP 5 field names', async () => {
    const c = await withAgents(1);
    const r = await run(['--json', '-s', '-p', String(c.port), '-h', '127.0.0.1']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      schema_version: 1, command: 'status', command_status: 'ok', num_peers: 1, running: true,
      checkpoint_interval: 0, coordinator_host: '127.0.0.1', coordinator_port: c.port, type: 'status', ok: true,
    });
    const l = JSON.parse((await run(['--json', 'l', '-p', String(c.port), '-h', '127.0.0.1'])).stdout);
    expect(l.peers).toEqual([expect.objectContaining({ program: 'p0', virtual_pid: 500, real_pid: 501, unique_id: agents[0].id, state: 'RUNNING' })]);
  });

  it('-bc returns after the images and the restart script; -i sets the interval; -k kills', async () => {
    const c = await withAgents(2);
    const addr = ['-h', '127.0.0.1', '-p', String(c.port)];
    const r = await run(['--json', '-bc', ...addr]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.images).toHaveLength(2);
    for (const img of doc.images) expect(fs.existsSync(img.path)).toBe(true);
    expect(fs.existsSync(doc.restart_script)).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'dmtcp_restart_script.sh'))).toBe(true);

    expect(await run(['-i', '30', ...addr])).toMatchObject({ code: 0, stdout: 'Interval changed to 30\n' });
    expect((await run(['-s', ...addr])).stdout).toContain('CKPT_INTERVAL=30');

    const k = await run(['-k', ...addr]);
    expect(k).toMatchObject({ code: 0, stdout: '' });
    for (const a of agents) await a.waitFor(() => a.killed);
  });

  it('a failing command exits 99 with one line', async () => {
    const c = await withAgents(0);
    const r = await run(['-c', '-h', '127.0.0.1', '-p', String(c.port)]);
    expect(r.code).toBe(99);
    expect(r.stderr).toBe('dmtcp_command: checkpoint failed: no processes connected to the coordinator\n');
  });

  it('no coordinator: one line, exit 99 (or DMTCP_FAIL_RC); --json still a document', async () => {
    // A port that was free a moment ago.
    const c = await startCoordinator({ port: 0 });
    const port = c.port;
    await c.close();
    const r = await run(['-s', '-p', String(port), '-h', '127.0.0.1']);
    expect(r.code).toBe(99);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^dmtcp_command: no coordinator at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n$`));
    const j = await run(['--json', '-s', '-p', String(port), '-h', '127.0.0.1']);
    expect(j.code).toBe(99);
    expect(JSON.parse(j.stdout)).toMatchObject({
      schema_version: 1, command: 'status', command_status: 'error', coordinator_port: port, ok: false, error_code: 'coordinator_not_found',
    });
    expect((await run(['-s', '-p', String(port)], { DMTCP_FAIL_RC: '17' })).code).toBe(17);
  });

  it('bad flags exit 99 with one line; --help exits 0', async () => {
    const r = await run(['--frob']);
    expect(r).toMatchObject({ code: 99, stderr: "dmtcp_command: unknown option '--frob' (try --help)\n" });
    expect((await run(['-p', 'x', '-s'])).code).toBe(99);
    const none = await run([]);
    expect(none.code).toBe(99);
    expect(none.stderr).toMatch(/^Usage: dmtcp_command/);
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: dmtcp_command/);
  });
});
