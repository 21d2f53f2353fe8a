/**
 * dmtcp.h (issue 10): a program built against include/dmtcp.h asks for
 * checkpoints, holds one off in a critical section, reads its status and
 * learns after a restart that it was restarted; run plainly, every call
 * answers "not here". test/programs/apiuser.c checks its own state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { BIN, program, Run, session, Session } from './helpers/e2e';
import { counted, oneTo, twoRestarts } from './helpers/tree';
import { KvStore, KV_RESPONSE } from '../dist/coordinator/kvdb.js';
import { readImageMeta } from '../dist/image/decode.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const INCLUDE = path.join(__dirname, '..', 'include');
const apiuser = (): string => program('apiuser', { flags: ['-I', INCLUDE] });
const RELEASE = path.join(__dirname, '..', 'build', 'Release');

/** test/programs/awareuser.c linked as a user would: with libdmtcpaware.so
 * (exporting its hook functions) or with libdmtcpaware.a (no flag needed). */
function awareuser(kind: 'so' | 'a'): string {
  const out = path.join(__dirname, 'bin', `awareuser-${kind}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const src = path.join(__dirname, 'programs', 'awareuser.c');
  const lib = kind === 'so' ? ['-L', RELEASE, '-ldmtcpaware', `-Wl,-rpath,${RELEASE}`, '-Wl,-export-dynamic'] : [path.join(RELEASE, 'libdmtcpaware.a')];
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O1', '-g', '-I', INCLUDE, '-o', tmp, src, ...lib], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc awareuser.c (${kind}) failed:\n${r.stderr}`);
  fs.renameSync(tmp, out);
  return out;
}

/** A program that checkpointed itself three times ("C k"), then once more and
 * printed "FILE <its image>": killed, it restarts from that image, where its
 * call says it was restarted ("RESTARTED") and it exits 0. */
async function restartsFromItsOwnCheckpoint(run: Run): Promise<void> {
  expect(run.lines.filter((l) => l.includes('CORRUPT')), run.stderr).toEqual([]);
  expect(run.lines.filter((l) => /^C \d$/.test(l))).toEqual(['C 1', 'C 2', 'C 3']);
  const image = run.lines.find((l) => l.startsWith('FILE '))!.slice(5);
  await s!.command('kill');
  await run.exited;
  const back = s!.restart([image]);
  const end = await back.exited;
  expect(back.lines, back.stderr).toEqual(['RESTARTED']);
  expect(end).toEqual({ code: 0, signal: null });
}

describe('dmtcp.h', () => {
  it('without dmtcp_launch every call answers "not here" and nothing crashes', () => {
    const r = spawnSync(apiuser(), [], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('STUBS ok');
    expect(r.status).toBe(0);
  });

  it('dmtcp_checkpoint, a critical section, status; after a restart from its own checkpoint the call says DMTCP_AFTER_RESTART', async () => {
    s = await session();
    const run = s.launch(apiuser());
    await run.waitFor((l) => l === 'CRIT start');
    // asked for inside the critical section: it waits for dmtcp_enable_ckpt
    const images = await s.checkpoint();
    expect(images).toHaveLength(1);
    expect(run.lines).toContain('CRIT end');
    await run.waitFor((l) => l.startsWith('FILE '));
    expect(run.stderr).toBe('');
    await restartsFromItsOwnCheckpoint(run);
  });
});

describe('the rest of dmtcp.h (DMTCP 5\'s surface)', () => {
  it('ids as structs agree with their text, the path is the program\'s, a header word reaches the image, DmtcpMutex and DmtcpRWLock hold, dmtcp_get_restart_env answers dmtcp_restart\'s environment, across two restarts', async () => {
    s = await session();
    const prog = program('api5', { flags: ['-I', INCLUDE] });
    const c = await twoRestarts(s, prog, ['30'], {
      ready: (l) => counted(l, 'T').length >= 5, processes: 1,
      env: { ...process.env, API5_WHERE: 'launch' }, restartEnv: (k) => ({ API5_WHERE: `restart-${k}` }),
    });
    // dmtcp_get_restart_env answers dmtcp_restart's environment after each restart
    expect(c.lines.filter((l) => l.startsWith('ENV '))).toEqual(['ENV 0 launch launch', 'ENV 1 launch restart-1', 'ENV 2 launch restart-2']);
    expect(c.end).toEqual({ code: 0, signal: null });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'T')).toEqual(oneTo(30));
    const totals = c.lines.filter((l) => l.startsWith('T ')).map((l) => Number(l.split(' ')[2]));
    expect(totals.at(-1)).toBeGreaterThan(totals[0]);   // both threads kept adding, after each restart too
    for (const l of c.lines.filter((x) => x.startsWith('ID '))) {
      const [, host, pid, time, text] = l.split(' ');
      expect(text).toBe(`${host.padStart(8, '0')}-${pid}-${time}`);
    }
    for (const images of c.images) expect(readImageMeta(images[0]).header).toEqual({ job: 'api5-42' });
  });
});

describe('dmtcpaware.h with libdmtcpaware', () => {
  it('is found as <dmtcpaware.h> and as <dmtcp/dmtcpaware.h>', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-aware-'));
    try {
      for (const name of ['dmtcpaware.h', 'dmtcp/dmtcpaware.h']) {
        const src = path.join(dir, 'p.c');
        fs.writeFileSync(src, `#include <${name}>\nint main(void) { return dmtcpIsEnabled(); }\n`);
        const out = path.join(dir, 'p');
        const cc = spawnSync('gcc', ['-I', INCLUDE, '-o', out, src, path.join(RELEASE, 'libdmtcpaware.a')], { encoding: 'utf8' });
        expect(cc.status, cc.stderr).toBe(0);
        expect(spawnSync(out).status).toBe(0);   // not under the checkpointer: disabled
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const kind of ['so', 'a'] as const) {
    it(`libdmtcpaware.${kind}: without the checkpointer every call says disabled`, () => {
      const r = spawnSync(awareuser(kind), [], { encoding: 'utf8' });
      expect(r.stdout.trim()).toBe('DISABLED ok');
      expect(r.status).toBe(0);
    });

    it(`libdmtcpaware.${kind}: dmtcpCheckpoint, statuses, every hook once per checkpoint and restart`, async () => {
      s = await session();
      const run = s.launch(awareuser(kind));
      await run.waitFor((l) => l.startsWith('FILE ') || l.includes('CORRUPT'));
      await restartsFromItsOwnCheckpoint(run);
    });
  }
});

describe('dmtcp_nocheckpoint', () => {
  it('runs a program outside the computation: no agent, no settings, no peer; the rest checkpoints and restarts twice', async () => {
    s = await session();
    const nockpt = path.join(BIN, 'dmtcp_nocheckpoint');
    // the outside program (sleep) is asked about once, then the shell counts on; it
    // outlives the first run's kill (no checkpointer knows it): its output goes nowhere
    const script = `${nockpt} sleep 30 </dev/null >/dev/null 2>&1 & p=$!; sleep 0.3; ` +
      'if grep -q libdmtcp /proc/$p/maps; then echo INSIDE; else echo OUTSIDE; fi; ' +
      'echo ENV $(tr "\\0" "\\n" < /proc/$p/environ | grep -c "^DMTCP_IDENTITY=\\|^DMTCP_PID_TABLE=\\|^DMTCP_COORD_PORT=\\|^DMTCP_SIGCKPT=\\|^LD_PRELOAD=.*libdmtcp"); echo PID $p; ' +
      'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo N $i; sleep 0.1; done; kill $p 2>/dev/null; exit 0';
    const c = await twoRestarts(s, '/bin/bash', ['-c', script], {
      ready: (l) => counted(l, 'N').length >= 5,
    });
    expect(c.lines).toContain('OUTSIDE');
    expect(c.lines).toContain('ENV 0');
    const outside = Number(c.lines.find((l) => l.startsWith('PID '))!.slice(4));
    // no image of the outside program: it was never a process of the computation
    for (const images of c.images) expect(images.some((i) => i.includes('ckpt_sleep_') && i.includes(`-${outside}-`))).toBe(false);
    expect(counted(c.lines, 'N')).toEqual(oneTo(30));
    expect(c.end).toEqual({ code: 0, signal: null });
    try { process.kill(outside, 'SIGKILL'); } catch { /* gone with the first run's kill, or ended */ }
  });

  it('without a program: one line, exit 99', () => {
    const r = spawnSync(path.join(BIN, 'dmtcp_nocheckpoint'), [], { encoding: 'utf8' });
    expect(r.status).toBe(99);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('plugins (--with-plugin)', () => {
  const PLUGIN_SRC = path.join(__dirname, '..', 'examples', 'plugins', 'event-counter', 'event_counter.c');
  function buildPlugin(): string {
    const out = path.join(__dirname, 'bin', 'event_counter.so');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-shared', '-fPIC', '-O1', '-I', INCLUDE, '-o', tmp, PLUGIN_SRC], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc event_counter.c failed:\n${r.stderr}`);
    fs.renameSync(tmp, out);
    return out;
  }

  it('the example plugin gets its events and wraps write(); its counts come back with the process, twice', async () => {
    s = await session();
    const plugin = buildPlugin();
    const log = path.join(s.dir, 'events.log');
    // dash's echo calls write() (printf of stdio would not: glibc calls its own)
    const loop = 'echo PID $$; i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo N $i; sleep 0.1; done';
    const c = await twoRestarts(s, '/bin/dash', ['-c', loop], {
      launchArgs: ['--with-plugin', plugin], env: { ...process.env, EVENT_COUNTER_LOG: log },
      ready: (l) => counted(l, 'N').length >= 5,
    });
    expect(c.end).toEqual({ code: 0, signal: null });
    expect(counted(c.lines, 'N')).toEqual(oneTo(30));
    const shell = c.lines.find((l) => l.startsWith('PID '))!.slice(4);
    const events = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')).filter((w) => w[0] === shell);
    const named = (e: string) => events.filter((w) => w[1] === e);
    expect(named('INIT')).toHaveLength(1);   // a restart does not start the plugin again
    expect(named('PRESUSPEND')).toHaveLength(2);
    expect(named('PRECHECKPOINT')).toHaveLength(2);
    expect(named('RESUME')).toHaveLength(2);
    expect(named('RESTART')).toHaveLength(2);
    // write() went through the plugin, and its counters lived through both restarts:
    // they never go back, and the shell had written its PID line and 5 more at the first
    const writes = events.map((w) => Number(w[2].replace('writes=', '')));
    expect(writes).toEqual([...writes].sort((a, b) => a - b));
    expect(Number(named('RESTART')[0][2].replace('writes=', ''))).toBeGreaterThanOrEqual(6);
    expect(events.at(-1)!.slice(3)).toEqual(['checkpoints=2', 'restarts=2']);
    // each sleep the shell ran: forked (dash vforks: VFORK_PARENT in the shell,
    // VFORK_CHILD in the child), exec'd (PRE_EXEC, then POST_EXEC in sleep under the same pid)
    const all = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
    expect(named('VFORK_PARENT').length + named('ATFORK_PARENT').length).toBeGreaterThanOrEqual(30);
    const children = new Set(all.filter((w) => w[1] === 'VFORK_CHILD' || w[1] === 'ATFORK_CHILD').map((w) => w[0]));
    const execd = all.filter((w) => w[1] === 'POST_EXEC' && children.has(w[0]) && all.some((v) => v[0] === w[0] && v[1] === 'PRE_EXEC'));
    expect(execd.length).toBeGreaterThanOrEqual(30);
  });

  it('--disable-all-plugins (and DMTCP_DISABLE_ALL_PLUGINS=1) loads none', async () => {
    s = await session();
    const plugin = buildPlugin();
    const log = path.join(s.dir, 'events.log');
    const env = { ...process.env, EVENT_COUNTER_LOG: log };
    const a = s.launch('/bin/dash', ['-c', 'echo hi'], { launchArgs: ['--with-plugin', plugin, '--disable-all-plugins'], env });
    expect(await a.exited).toEqual({ code: 0, signal: null });
    const b = s.launch('/bin/dash', ['-c', 'echo hi'], { launchArgs: ['--with-plugin', plugin], env: { ...env, DMTCP_DISABLE_ALL_PLUGINS: '1' } });
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(a.lines.concat(b.lines)).toEqual(['hi', 'hi']);
    expect(fs.existsSync(log)).toBe(false);
    // and without it, the same launch loads the plugin
    const c = s.launch('/bin/dash', ['-c', 'echo hi'], { launchArgs: ['--with-plugin', plugin], env });
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(log, 'utf8')).toMatch(/ INIT /);
  });

  it('a plugin that is not a shared library: one line, exit 99', async () => {
    s = await session();
    const run = s.launch('/bin/true', [], { launchArgs: ['--with-plugin', path.join(s.dir, 'missing.so')] });
    const end = await run.exited;
    expect(end.code).toBe(99);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/plugin .*missing\.so: cannot be read/);
  });

  it('a plugin the loader cannot load (a library it needs is gone): one line, exit 99, the program never runs', async () => {
    s = await session();
    const dep = path.join(s.dir, 'libgone.so');
    const plugin = path.join(s.dir, 'needs_gone.so');
    fs.writeFileSync(path.join(s.dir, 'gone.c'), 'int gone(void) { return 1; }\n');
    fs.writeFileSync(path.join(s.dir, 'needs.c'), 'int gone(void);\nint uses_gone(void) { return gone(); }\n');
    for (const [out, src, more] of [[dep, 'gone.c', []], [plugin, 'needs.c', ['-L', s.dir, '-lgone']]] as const) {
      const r = spawnSync('gcc', ['-shared', '-fPIC', '-o', out, path.join(s.dir, src), ...more], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    fs.rmSync(dep);
    const run = s.launch('/bin/echo', ['RAN'], { launchArgs: ['--with-plugin', plugin] });
    const end = await run.exited;
    expect(end.code).toBe(99);
    expect(run.lines).toEqual([]);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/plugin .*needs_gone\.so: the loader cannot load it: .*libgone\.so/);
  });
});

describe('dmtcp::kvdb (include/kvdb.h)', () => {
  it('two processes publish after each restart and read each other\'s values through the coordinator, twice', async () => {
    s = await session();
    const prog = program('kvpair', { flags: ['-x', 'c++', '-std=c++17', '-I', INCLUDE, '-Wl,--no-as-needed', '-lstdc++'] });
    const c = await twoRestarts(s, prog, ['30'], { ready: (l) => counted(l, 'P').length >= 5 && counted(l, 'C').length >= 5, processes: 2 });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    for (const who of ['P', 'C']) for (const gen of [1, 2]) expect(c.lines).toContain(`KV ${who} ${gen} ok`);
    expect(counted(c.lines, 'P')).toEqual(oneTo(30));
    expect(counted(c.lines, 'C')).toEqual(oneTo(30));
    expect(c.lines.at(-1)).toBe('DONE 30');
    expect(c.end).toEqual({ code: 0, signal: null });
  });
});

describe('the coordinator\'s key-value databases', () => {
  it('get and set, and the 64-bit integer requests answer the old value', () => {
    const kv = new KvStore();
    expect(kv.request('get', 'db', 'k', undefined)).toEqual({ response: KV_RESPONSE.DB_NOT_FOUND });
    expect(kv.request('set', 'db', 'k', 'v')).toEqual({ response: KV_RESPONSE.SUCCESS, old: undefined });
    expect(kv.request('get', 'db', 'k', undefined)).toEqual({ response: KV_RESPONSE.SUCCESS, old: 'v' });
    expect(kv.request('get', 'db', 'other', undefined)).toEqual({ response: KV_RESPONSE.KEY_NOT_FOUND });
    expect(kv.request('incrby', 'db', 'n', '5')).toEqual({ response: KV_RESPONSE.KEY_NOT_FOUND });   // the first sets it
    expect(kv.request('incrby', 'db', 'n', '-7')).toEqual({ response: KV_RESPONSE.SUCCESS, old: '5' });
    expect(kv.request('max', 'db', 'n', '3').old).toBe('-2');
    expect(kv.request('min', 'db', 'n', '1').old).toBe('3');
    expect(kv.request('and', 'db', 'n', '12').old).toBe('1');
    expect(kv.request('or', 'db', 'n', '6').old).toBe('0');
    expect(kv.request('xor', 'db', 'n', '2').old).toBe('6');
    expect(kv.request('get', 'db', 'n', undefined).old).toBe('4');
    expect(kv.request('incrby', 'db', 'n', '9223372036854775807').old).toBe('4');   // wraps as int64
    expect(kv.request('get', 'db', 'n', undefined).old).toBe('-9223372036854775805');
    expect(kv.request('incrby', 'db', 'k', '1')).toEqual({ response: KV_RESPONSE.INVALID_REQUEST });   // 'v' is no number
    expect(kv.request('frobnicate', 'db', 'k', '1')).toEqual({ response: KV_RESPONSE.INVALID_REQUEST });
  });
});

describe('--checkpoint-open-files', () => {
  type Change = 'delete' | 'append' | 'none';
  /** Two kill/restart cycles of openfiles, the file changed before each restart as told;
   * the runs, and the last restart's end. */
  async function cycles(launchArgs: string[], changes: Change[]): Promise<{ lines: string[]; last: Run; file: string }> {
    s = await session();
    const file = path.join(s.dir, 'data.txt');
    let run = s.launch(program('openfiles'), ['30', file], { launchArgs });
    const runs = [run];
    for (const change of changes) {
      const current = run;
      const before = counted(current.lines, 'F').length;
      await current.waitFor(() => counted(current.lines, 'F').length >= before + 4);
      const images = await s.command('kcheckpoint').then((l) => l.filter((m) => m.verb === 'IMAGE').map((m) => m.fields.path));
      await run.exited;
      if (change === 'delete') fs.unlinkSync(file);
      if (change === 'append') fs.appendFileSync(file, 'not the program\'s\n');
      run = s.restart(images);
      runs.push(run);
      if (change === 'append' && !launchArgs.includes('--allow-file-overwrite')) break;
    }
    await run.exited;
    return { lines: runs.flatMap((r) => r.lines), last: run, file };
  }
  const whole = (n: number): string => oneTo(n).map((k) => `line ${k}\n`).join('');

  it('a file that was deleted comes back with its contents of the checkpoint, twice', async () => {
    const c = await cycles(['--checkpoint-open-files'], ['delete', 'none']);
    expect(c.lines.filter((l) => l.includes('CORRUPT')), c.last.stderr).toEqual([]);
    expect(counted(c.lines, 'F')).toEqual(oneTo(30));
    expect(fs.readFileSync(c.file, 'utf8')).toBe(whole(30));
  });

  it('with --allow-file-overwrite a file that changed gets its contents of the checkpoint again, twice', async () => {
    const c = await cycles(['--ckpt-open-files', '--allow-file-overwrite'], ['append', 'append']);
    expect(c.lines.filter((l) => l.includes('CORRUPT')), c.last.stderr).toEqual([]);
    expect(counted(c.lines, 'F')).toEqual(oneTo(30));
    expect(fs.readFileSync(c.file, 'utf8')).toBe(whole(30));
    // what was written over is kept beside it, as DMTCP keeps it: <file>-<time>.bk
    const kept = fs.readdirSync(s!.dir).filter((f) => /^data\.txt-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.bk(\.\d+)?$/.test(f));
    expect(kept).toHaveLength(2);
    for (const k of kept) expect(fs.readFileSync(path.join(s!.dir, k), 'utf8')).toMatch(/not the program's\n$/);
  });

  it('without it, a file that changed stops the restart with one line naming it, exit 99', async () => {
    const c = await cycles(['--checkpoint-open-files'], ['append']);
    expect(await c.last.exited).toEqual({ code: 99, signal: null });
    expect(c.last.stderr).toMatch(/data\.txt changed since the checkpoint/);
    expect(c.last.stderr.trim().split('\n').filter((l) => l.includes('data.txt'))).toHaveLength(1);
  });
});
