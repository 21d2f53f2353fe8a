/**
 * The coordinator's judgement of a forked child that has not connected yet
 * (src/coordinator/expected.ts), against a made-up /proc.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXPECT_TTL_MS, ExpectedChildren, procState } from '../dist/coordinator/expected.js';

let proc: string | undefined;
afterEach(() => { if (proc) fs.rmSync(proc, { recursive: true, force: true }); proc = undefined; });

function fakeProc(entries: Record<number, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-proc-'));
  for (const [pid, stat] of Object.entries(entries)) {
    fs.mkdirSync(path.join(dir, pid));
    fs.writeFileSync(path.join(dir, pid, 'stat'), stat);
  }
  return dir;
}

describe('a child told of by FORKED', () => {
  it('is alive while /proc shows it running under its parent, gone as a zombie, absent, or under another parent', () => {
    proc = fakeProc({
      100: '100 (parent) S 1 100 100 0',
      101: '101 (a child (odd) name) S 100 100 100 0',
      102: '102 (dead) Z 100 100 100 0',
      103: '103 (stranger) S 55 55 55 0',
    });
    expect(procState(101, 100, true, proc)).toBe('alive');
    expect(procState(102, 100, true, proc)).toBe('gone');
    expect(procState(104, 100, true, proc)).toBe('gone');
    expect(procState(103, 100, true, proc)).toBe('gone');   // a reused pid
    expect(procState(103, 100, false, proc)).toBe('alive'); // an orphan: reparented
    expect(procState(104, 999, true, proc)).toBe('unknown'); // the parent is not seen either: another pid namespace
  });

  it('is forgotten when it says HELLO, when it is gone, or after the time limit', () => {
    proc = fakeProc({ 100: '100 (p) S 1 1 1 0', 101: '101 (c) S 100 1 1 0', 102: '102 (c) S 100 1 1 0' });
    const host = os.hostname();
    const e = new ExpectedChildren(() => true, proc);
    for (const pid of [101, 102, 103]) e.add({ pid, host, parentId: 'p', parentRpid: 100 });
    expect(e.prune()).toBe(2);                      // 103 is not there
    expect(e.arrived(host, 101)?.pid).toBe(101);
    expect(e.prune()).toBe(1);
    expect(e.prune(Date.now() + EXPECT_TTL_MS + 1)).toBe(0);
  });
});
