// Mutated images must give clean one-line ImageErrors (or decode, when the
// mutation hit padding), never a crash, hang or unexpected exception.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openImage } from '../dist/image/decode.js';
import { buildRawStream, defaultMeta, randomBytes, runEncoder, sparseBytes } from './helpers/rawstream';

const MUTANTS_PER_IMAGE = 2000;
const BUDGET_MS = 15_000;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-fuzz-'));
  const s = buildRawStream(defaultMeta(), [
    { start: 0x400000n, size: 8 * 4096, data: randomBytes(8 * 4096, 5) },
    { start: 0x600000n, size: 6 * 4096, data: sparseBytes(6, [1, 4]), name: '[heap]', flags: 0xa },
    { start: 0x7ffff7fc5000n, size: 2 * 4096, flags: 0x12, name: '[vdso]' },
  ]);
  expect(runEncoder(s, path.join(dir, 'raw.dmtcp'), ['--no-gzip']).status).toBe(0);
  expect(runEncoder(s, path.join(dir, 'gz.dmtcp'), ['--gzip']).status).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Deterministic mutation k of buffer b: bit flips, 32/64-bit garbage, truncation, splices. */
function mutate(b: Buffer, k: number): Buffer {
  const r = randomBytes(16, k + 1);
  const pos = (r[0] | (r[1] << 8) | (r[2] << 16)) % b.length;
  const out = Buffer.from(b);
  switch (k % 5) {
    case 0: out[pos] ^= 1 << (r[3] & 7); return out;
    case 1: out.writeUInt32LE(((r[4] << 24) | (r[5] << 16) | r[6]) >>> 0, Math.min(pos, b.length - 4)); return out;
    case 2: out.writeBigUInt64LE(0xffffffffn << BigInt(r[7] & 31), Math.min(pos, b.length - 8)); return out;
    case 3: return out.subarray(0, pos);
    default: return Buffer.concat([out.subarray(0, pos), Buffer.from(r), out.subarray(pos + (r[8] & 15))]);
  }
}

describe.each(['raw.dmtcp', 'gz.dmtcp'])('fuzzing %s', (name) => {
  it(`${MUTANTS_PER_IMAGE} mutants give clean errors within the budget`, () => {
    const orig = fs.readFileSync(path.join(dir, name));
    const file = path.join(dir, 'mutant-' + name);
    const t0 = Date.now();
    let rejected = 0;
    for (let k = 0; k < MUTANTS_PER_IMAGE; k++) {
      fs.writeFileSync(file, mutate(orig, k));
      try {
        const im = openImage(file);
        try {
          const bad = im.verify();
          if (bad) { rejected++; expect(bad).not.toContain('\n'); }
          for (const a of im.areas) im.readMemory(a.start, Math.min(Number(a.end - a.start), 1 << 20));
        } finally { im.close(); }
      } catch (e) {
        rejected++;
        const err = e as Error;
        if (err.name !== 'ImageError' || err.message.includes('cannot read image') || err.message.includes('\n')) {
          throw new Error(`mutant ${k}: unexpected ${err.name}: ${err.message}`);
        }
        expect(err.message.startsWith(file + ': ')).toBe(true);
      }
    }
    expect(rejected).toBeGreaterThan(MUTANTS_PER_IMAGE / 2);
    expect(Date.now() - t0).toBeLessThan(BUDGET_MS);
  });
});
