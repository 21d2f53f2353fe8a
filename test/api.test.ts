/**
 * dmtcp.h (issue 10): a program built against include/dmtcp.h asks for
 * checkpoints, holds one off in a critical section, reads its status and
 * learns after a restart that it was restarted; run plainly, every call
 * answers "not here". test/programs/apiuser.c checks its own state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { program, session, Session } from './helpers/e2e';

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
    const image = run.lines.find((l) => l.startsWith('FILE '))!.slice(5);
    expect(run.lines.filter((l) => l.includes('CORRUPT')), run.stderr).toEqual([]);
    expect(run.lines.filter((l) => /^C \d$/.test(l))).toEqual(['C 1', 'C 2', 'C 3']);
    expect(run.stderr).toBe('');
    await s.command('kill');
    await run.exited;
    const back = s.restart([image]);
    const end = await back.exited;
    expect(back.lines, back.stderr).toEqual(['RESTARTED']);
    expect(end).toEqual({ code: 0, signal: null });
  });
});

describe('dmtcpaware.h with libdmtcpaware', () => {
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
      expect(run.lines.filter((l) => l.includes('CORRUPT')), run.stderr).toEqual([]);
      expect(run.lines.filter((l) => /^C \d$/.test(l))).toEqual(['C 1', 'C 2', 'C 3']);
      const image = run.lines.find((l) => l.startsWith('FILE '))!.slice(5);
      await s.command('kill');
      await run.exited;
      const back = s.restart([image]);
      const end = await back.exited;
      expect(back.lines, back.stderr).toEqual(['RESTARTED']);
      expect(end).toEqual({ code: 0, signal: null });
    });
  }
});
