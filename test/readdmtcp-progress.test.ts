// Progress on stderr: shown only for a terminal and large work, redrawn in
// place, and erased at the end; never written to pipes or logs.
import { describe, expect, it } from 'vitest';
import { PROGRESS_MIN_BYTES, progressLine } from '../dist/image/progress.js';

function fakeStream(isTTY: boolean): { s: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const s = { isTTY, write: (t: string) => { out += t; return true; } } as unknown as NodeJS.WriteStream;
  return { s, text: () => out };
}

describe('progressLine', () => {
  it('draws a self-overwriting percentage on a terminal for large work, then erases it', () => {
    const f = fakeStream(true);
    const p = progressLine('verifying x', PROGRESS_MIN_BYTES * 2, f.s);
    expect(p.tick).toBeDefined();
    p.tick!(1, 4);
    p.tick!(4, 4);
    p.end();
    expect(f.text()).toContain('\rverifying x: 25% (32M of 128M)');
    expect(f.text()).toContain('verifying x: 100%');
    expect(f.text().endsWith('\r\x1b[K')).toBe(true);
    expect(f.text()).not.toContain('\n');
  });

  it('stays silent when stderr is not a terminal or the work is small', () => {
    for (const [tty, bytes] of [[false, PROGRESS_MIN_BYTES * 8], [true, 1 << 20]] as const) {
      const f = fakeStream(tty);
      const p = progressLine('w', bytes, f.s);
      expect(p.tick).toBeUndefined();
      p.end();
      expect(f.text()).toBe('');
    }
  });
});
