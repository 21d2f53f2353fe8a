/**
 * dmtcp.h (issue 10): a program built against include/dmtcp.h asks for
 * checkpoints, holds one off in a critical section, reads its status and
 * learns after a restart that it was restarted; run plainly, every call
 * answers "not here". test/programs/apiuser.c checks its own state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { program, session, Session } from './helpers/e2e';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const INCLUDE = path.join(__dirname, '..', 'include');
const apiuser = (): string => program('apiuser', { flags: ['-I', INCLUDE] });

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
