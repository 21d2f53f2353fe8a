// gzip images with incompressible page data (issue 12): such chunks become
// stored deflate blocks (engine.ts decides from a sample), the file stays one
// valid gzip stream that the real `gunzip` reads, and a program restarts from
// it with its memory exact.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openImage } from '../dist/image/decode.js';
import { sampleEntropy, sampleRepeats } from '../dist/image/codec.js';
import { worthDeflating, gzipEngine } from '../dist/image/engine.js';
import { GZ_HEADER } from '../dist/image/gzmember.js';
import { PAGE, buildRawStream, defaultMeta, randomBytes, runEncoder } from './helpers/rawstream';
import { program, session, Session } from './helpers/e2e';

const MIB = 1 << 20;
const WORDS = 'the of and to in is was checkpoint restart process memory image page thread signal heap stack'.split(' ');

function text(n: number, seed = 5): Uint8Array {
  const r = randomBytes(n, seed);
  const out = Buffer.alloc(n);
  for (let o = 0, i = 0; o < n; i++) o += out.write(WORDS[r[i] % WORDS.length] + (r[i] % 11 === 0 ? '.\n' : ' '), o);
  return out;
}

/** Even pages random, odd pages zero (as the agent sends them: zero pages included). */
function half(n: number): Uint8Array {
  const out = randomBytes(n, 9);
  for (let p = PAGE; p < n; p += 2 * PAGE) out.fill(0, p, p + PAGE);
  return out;
}

/** What the encoder keeps of `half`: its non-zero pages back to back. */
function compacted(b: Uint8Array): Uint8Array {
  const pages: Uint8Array[] = [];
  for (let p = 0; p < b.length; p += PAGE) if (b.subarray(p, p + PAGE).some((v) => v !== 0)) pages.push(b.subarray(p, p + PAGE));
  return Buffer.concat(pages);
}

describe('the detector (wasm sample: byte entropy and an 8-byte repeat probe)', () => {
  it('stores random chunks and deflates text, raw half chunks and repeated random pages', () => {
    const rnd = randomBytes(MIB, 3);
    expect(sampleEntropy(rnd)).toBeGreaterThan(7950);
    expect(sampleRepeats(rnd)).toBe(0);
    expect(worthDeflating(rnd)).toBe(false);

    const txt = text(MIB);
    expect(sampleEntropy(txt)).toBeLessThan(5000);
    expect(worthDeflating(txt)).toBe(true);

    const h = half(MIB);
    expect(worthDeflating(h)).toBe(true); // half of it is zero bytes
    expect(worthDeflating(compacted(h))).toBe(false); // what is left after zero pages are elided

    // One random page over and over: every byte value equally common, yet deflate shrinks it 200x.
    const page = randomBytes(PAGE, 11);
    const repeated = Buffer.concat(Array.from({ length: 256 }, () => page));
    expect(sampleEntropy(repeated)).toBeGreaterThan(7900);
    expect(sampleRepeats(repeated)).toBeGreaterThan(400); // the first page of each window has nothing to repeat
    expect(worthDeflating(repeated)).toBe(true);
  });
});

describe.each([
  ['default engine', [] as string[], {}],
  ['node:zlib engine', [], { DMTCP_GZIP_ENGINE: 'zlib' }],
  ['--serial', ['--serial'], {}],
])('an image with random, text and half chunks (%s)', (_name, flags, env) => {
  let dir: string;
  const rnd = randomBytes(2 * MIB, 21);
  const txt = text(MIB);
  const h = half(MIB);
  const data = Buffer.concat([rnd, txt, h]);
  const start = 0x7f0000000000n;
  let image: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-gzstored-'));
    image = path.join(dir, 'img.dmtcp');
    const stream = buildRawStream(defaultMeta(), [{ start, size: data.length, data }]);
    const r = runEncoder(stream, image, ['--gzip', ...flags], { ...process.env, ...env });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** BTYPE of the first deflate block of each chunk's member: 0 stored, 1 fixed, 2 dynamic Huffman. */
  function blockTypes(): { btype: number; len: number; storedLen: number }[] {
    const file = fs.readFileSync(image);
    const im = openImage(image);
    try {
      return im.areas[0].chunks.map((c) => ({ btype: (file[c.fileOffset + GZ_HEADER] >> 1) & 3, len: c.len, storedLen: c.storedLen }));
    } finally { im.close(); }
  }

  it('stores the random and half chunks, deflates the text chunk', () => {
    const t = blockTypes();
    // 2 random chunks, 1 text chunk, and half's 1 MiB compacted to 512 KiB
    expect(t.map((c) => c.len)).toEqual([MIB, MIB, MIB, MIB / 2]);
    expect(t.map((c) => c.btype === 0)).toEqual([true, true, false, true]);
    for (const c of [t[0], t[1], t[3]]) {
      // Stored on purpose: header, full 65535-byte blocks (5 bytes each), footer. (A level-1
      // deflater that gives up on random data stores it too, but in blocks of its
      // buffer's size, 16 KiB for node:zlib: more block heads.)
      expect(c.storedLen).toBe(GZ_HEADER + c.len + 5 * Math.ceil(c.len / 65535) + 8);
    }
    expect(t[2].storedLen).toBeLessThan(MIB / 2);
  });

  it('reads back through our reader and through the real gunzip', () => {
    const im = openImage(image);
    try {
      expect(im.verify()).toBeNull();
      expect(Buffer.compare(im.readMemory(start, data.length), data)).toBe(0);
      const logical = spawnSync('gunzip', ['-c', image], { maxBuffer: 64 * MIB });
      expect(logical.status).toBe(0);
      // gunzip's output is the logical image: each chunk's bytes at its logical offset
      const stored = Buffer.concat([rnd, txt, compacted(h)]);
      const first = im.areas[0].chunks[0].logicalOffset;
      expect(Buffer.compare(logical.stdout.subarray(first, first + stored.length), stored)).toBe(0);
    } finally { im.close(); }
  });
});

describe('restart from a gzip image with stored chunks', () => {
  let s: Session | undefined;
  afterEach(async () => { await s?.close(); s = undefined; });

  it('restores random, text and half-zero memory exactly (the program checks its checksums)', async () => {
    s = await session();
    const run = s.launch(program('mixedmem'), ['8']);
    await run.waitFor((l) => l === 'tick 3');
    const reply = await s.command('kcheckpoint');
    const image = reply.find((m) => m.verb === 'IMAGE')!.fields.path;
    await run.exited;
    // gzip by default, and the big areas went out as stored blocks
    const file = fs.readFileSync(image);
    expect(file.subarray(0, 2).toString('hex')).toBe('1f8b');
    const im = openImage(image);
    let storedBytes = 0;
    try {
      for (const a of im.areas) for (const c of a.chunks) if (((file[c.fileOffset + GZ_HEADER] >> 1) & 3) === 0) storedBytes += c.len;
    } finally { im.close(); }
    expect(storedBytes).toBeGreaterThanOrEqual(28 * MIB); // 24 MiB random + 4 MiB of half's data pages
    expect(spawnSync('gunzip', ['-t', image]).status).toBe(0);
    const again = s.restart([image]);
    await again.exited;
    expect(again.stderr).toBe('');
    expect(again.lines[again.lines.length - 1]).toBe('DONE ok');
    expect(again.lines.filter((l) => l.startsWith('tick ')).map((l) => Number(l.slice(5)))).toEqual([4, 5, 6, 7, 8]);
  });
});

it('uses ISA-L where the build found it, and node:zlib when told to', () => {
  const built = fs.existsSync('/usr/include/isa-l/igzip_lib.h') && fs.existsSync('/usr/lib/x86_64-linux-gnu/libisal.so.2');
  expect(gzipEngine()).toBe(built ? 'isa-l' : 'zlib');
  const child = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'image', 'engine.js'))}).gzipEngine())`],
    { encoding: 'utf8', env: { ...process.env, DMTCP_GZIP_ENGINE: 'zlib' } });
  expect(child.stdout.trim()).toBe('zlib');
});

describe('DMTCP_GZIP_ENGINE reaches the encoder that writes the image', () => {
  let s: Session | undefined;
  afterEach(async () => { await s?.close(); s = undefined; });
  const built = gzipEngine();
  // The resident encoder of the native launcher, of the Node launcher, and an
  // encoder started for the checkpoint: each says which engine deflated the page data.
  for (const [how, env, launchArgs] of [
    ['the resident encoder (native launcher)', {}, []],
    ['the resident encoder (Node launcher)', { DMTCP_LAUNCH_NO_FAST: '1' }, []],
    ['an encoder per checkpoint', {}, ['--no-encoder-service']],
  ] as const) {
    it(`${how}: zlib when told, else ${built}`, async () => {
      s = await session();
      for (const engine of ['zlib', undefined]) {
        const run = s.launch(program('counter'), ['1000'], { env: { ...env, ...(engine ? { DMTCP_GZIP_ENGINE: engine } : {}) }, launchArgs: [...launchArgs] });
        await run.waitFor((l) => l === '2');
        const [image] = await s.checkpoint();
        const im = openImage(image);
        try { expect(im.meta.image?.deflate).toBe(engine ?? built); } finally { im.close(); }
        run.kill();
        await run.exited;
      }
    });
  }
});
