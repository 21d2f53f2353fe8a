/**
 * The file hooks of DMTCP 5's dmtcp.h that a plugin defines (issue 10), and
 * DMTCP 5's rule for files open for writing: test/programs/filehooks.c holds
 * log.txt, kept.txt, must.txt and moved-from.txt open; a run goes on after its
 * checkpoint and is killed, twice. At each restart log.txt is cut back to its
 * size at the checkpoint (so the program's log holds each line once),
 * kept.txt is not (dmtcp_skip_truncate_file_at_restart), must.txt comes back
 * from the image (dmtcp_must_ckpt_file) and moved-from.txt is found where it
 * moved (dmtcp_get_new_file_path).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { plugin, program, Run, session, Session, waitUntil } from './helpers/e2e';
import { counted, oneTo } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

describe('files at a restart', () => {
  it('a log open for writing is cut back to its checkpoint size; the plugin hooks keep one, carry one, find one moved; twice', async () => {
    s = await session();
    const so = plugin('file_hooks_plugin');
    const file = (name: string): string => path.join(s!.dir, name);
    fs.writeFileSync(file('must.txt'), 'must data\n');
    fs.writeFileSync(file('moved-from.txt'), 'moved\n');
    const N = 40;
    let run: Run = s.launch(program('filehooks'), [String(N)], { launchArgs: ['--with-plugin', so] });
    const all: string[][] = [];
    for (let cycle = 1; cycle <= 2; cycle++) {
      const current = run;
      await waitUntil(() => counted(current.lines, 'N').length >= 4);
      const images = await s.checkpoint();
      const at = counted(current.lines, 'N').length;
      await waitUntil(() => counted(current.lines, 'N').length >= at + 4);   // it writes on after its checkpoint
      current.kill();
      await current.exited;
      all.push(current.lines);
      fs.rmSync(file('must.txt'));   // back from the image
      if (cycle === 1) fs.renameSync(file('moved-from.txt'), file('moved-to.txt'));
      run = s.restart(images);
    }
    const end = await run.exited;
    all.push(run.lines);
    const lines = all.flat();
    expect(lines.filter((l) => l.includes('CORRUPT')), run.stderr).toEqual([]);
    expect(run.lines).toContain('LOG ok');
    expect(end).toEqual({ code: 0, signal: null });
    expect(counted(run.lines, 'N').at(-1)).toBe(N);
    expect(fs.readFileSync(file('log.txt'), 'utf8')).toBe(oneTo(N).map((i) => `L ${i}\n`).join(''));
    // kept.txt was never cut back: what each killed run wrote after its checkpoint is there twice
    const kept = fs.readFileSync(file('kept.txt'), 'utf8').trim().split('\n');
    expect(kept.length).toBeGreaterThanOrEqual(N + 8);
    expect(fs.readFileSync(file('must.txt'), 'utf8')).toBe('must data\n');
  });
});
