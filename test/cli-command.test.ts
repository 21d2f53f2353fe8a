/**
 * dmtcp_command end to end, against a coordinator with a real C program
 * launched under dmtcp_launch: the text and JSON reports job scripts parse,
 * the list, a blocking checkpoint and kill.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import { program, Run, session, Session } from './helpers/e2e';
import { freePort, lines, runCli } from './helpers/cli';

let s: Session;
let run: Run;
let port: string;
const cmd = (...args: string[]) => runCli('dmtcp_command', ['-p', port, ...args]);

describe('dmtcp_command with a launched program', () => {
  beforeEach(async () => {
    s = await session();
    port = String(s.port);
    run = s.launch(program('pid'), ['60']);
    await run.waitFor((l) => l.startsWith('tick'));
  });
  afterEach(async () => { await s?.close(); });

  it('-s prints the coordinator, NUM_PEERS=1 and RUNNING=yes', async () => {
    const r = await cmd('-s');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = lines(r.stdout).map((l) => l.trim());
    expect(out).toContain('NUM_PEERS=1');
    expect(out).toContain('RUNNING=yes');
    expect(out.some((l) => /^CKPT_INTERVAL=0\b/.test(l))).toBe(true);
    expect(out).toContain(`Port: ${port}`);
    // the long form and the env-var port say the same
    const r2 = await runCli('dmtcp_command', ['--status'], { env: { DMTCP_PORT: port } });
    expect(lines(r2.stdout).map((l) => l.trim())).toContain('NUM_PEERS=1');
  });

  it('--json -s is one JSON document with DMTCP 5\'s field names', async () => {
    const r = await cmd('--json', '-s');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const k of ['schema_version', 'command', 'command_status', 'num_peers', 'running',
      'checkpoint_interval', 'coordinator_host', 'coordinator_port']) {
      expect(j, k).toHaveProperty(k);
    }
    expect(j.schema_version).toBe(1);
    expect(j.command).toBe('status');
    expect(j.command_status).toBe('ok');
    expect(j.num_peers).toBe(1);
    expect(j.running).toBe(true);
    expect(j.checkpoint_interval).toBe(0);
    expect(j.coordinator_port).toBe(s.port);
  });

  it('-l lists the program with its pid', async () => {
    const pid = Number((await run.waitFor((l) => l.startsWith('pid='))).slice(4));
    expect(pid).toBe(run.child.pid);
    const r = await cmd('-l');
    expect(r.code).toBe(0);
    const rows = lines(r.stdout).filter((l) => /^\d+, /.test(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(`pid[${pid}:${pid}]@`);
    expect(rows[0]).toMatch(/RUNNING$/);
    const j = JSON.parse((await cmd('--json', '-l')).stdout);
    expect(j.schema_version).toBe(1);
    expect(JSON.stringify(j)).toContain(String(pid));
  });

  it('--bcheckpoint returns once the image and the restart script exist', async () => {
    const r = await cmd('--bcheckpoint');
    expect(r.code, r.stderr).toBe(0);
    const images = fs.readdirSync(s.dir).filter((f) => /^ckpt_pid_.*\.dmtcp$/.test(f));
    expect(images).toHaveLength(1);
    expect(fs.statSync(`${s.dir}/${images[0]}`).size).toBeGreaterThan(4096);
    expect(fs.existsSync(`${s.dir}/dmtcp_restart_script.sh`)).toBe(true);
    // no temporary file left beside it
    expect(fs.readdirSync(s.dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    // the program goes on running
    const ticks = run.lines.length;
    await run.waitFor(() => run.lines.length > ticks + 2);
    const st = JSON.parse((await cmd('--json', '-s')).stdout);
    expect(st.running).toBe(true);
    // the short form -bc works too
    expect((await cmd('-bc')).code).toBe(0);
  });

  it('-k ends the program with exit status 0, as DMTCP does, before it finished', async () => {
    const r = await cmd('-k');
    expect(r.code).toBe(0);
    const end = await run.exited;
    expect(end).toEqual({ code: 0, signal: null });
    expect(run.lines.some((l) => l.startsWith('DONE'))).toBe(false);
    const st = JSON.parse((await cmd('--json', '-s')).stdout);
    expect(st.num_peers).toBe(0);
    expect(st.running).toBe(false);
  });

  it('-kc checkpoints, then kills', async () => {
    const r = await cmd('-kc');
    expect(r.code).toBe(0);
    await run.exited;
    expect(fs.readdirSync(s.dir).filter((f) => /^ckpt_pid_.*\.dmtcp$/.test(f))).toHaveLength(1);
  });
});

describe('dmtcp_command failures', () => {
  it('no coordinator at the port: 99 with one line', async () => {
    const r = await runCli('dmtcp_command', ['-p', String(await freePort()), '-s']);
    expect(r.code).toBe(99);
    expect(lines(r.stderr)).toHaveLength(1);
  });
});
