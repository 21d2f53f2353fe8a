// Encoder CLI + decoder + plan writer, end to end on synthetic raw streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { openImage, readImageMeta } from '../dist/image/decode.js';
import { writeRestorePlanSync, chooseTablesAddr, TABLES_ADDR_MIN, TABLES_ADDR_MAX, RESTORER_LO, RESTORER_HI } from '../dist/image/plan.js';
import { ENCODER, PAGE, buildRawStream, defaultMeta, expectedMemory, runEncoder, sampleAreas } from './helpers/rawstream';

const VDSO = 0x10, VVAR = 0x20;
let dir: string;
const areas = sampleAreas();
const stream = buildRawStream(defaultMeta(), areas);
const img = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-image-'));
  for (const [name, flags] of [['raw.dmtcp', ['--no-gzip']], ['gz.dmtcp', ['--gzip']]] as const) {
    const r = runEncoder(stream, img(name), [...flags]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const leftovers = () => fs.readdirSync(dir).filter((f) => f.includes('.tmp.'));

function nonZeroPages(mem: Uint8Array): number[] {
  const out: number[] = [];
  for (let p = 0; p * PAGE < mem.length; p++) if (mem.subarray(p * PAGE, (p + 1) * PAGE).some((b) => b !== 0)) out.push(p);
  return out;
}

describe.each(['raw.dmtcp', 'gz.dmtcp'])('%s', (name) => {
  it('is mode 0600 and shows its section tags in a hexdump', () => {
    expect(fs.statSync(img(name)).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(img(name)).toString('latin1');
    for (const tag of ['DMTCPIMG', 'DMTCPMET', 'DMTCPEND']) expect(text).toContain(tag);
    if (name === 'raw.dmtcp') expect(text.startsWith('DMTCPIMG')).toBe(true);
  });

  it('decodes to exactly the memory that was captured, storing only non-zero pages', () => {
    const im = openImage(img(name));
    try {
      expect(im.verify()).toBeNull();
      expect(im.areas.length).toBe(areas.length);
      areas.forEach((a, i) => {
        const got = im.areas[i];
        expect(got.start).toBe(a.start);
        expect(got.end).toBe(a.start + BigInt(a.size));
        expect(got.name).toBe(a.name ?? '');
        const mem = expectedMemory(a);
        expect(Buffer.compare(im.readMemory(a.start, a.size), mem)).toBe(0);
        expect(got.dataLen).toBe(nonZeroPages(mem).length * PAGE);
      });
      // A window straddling two areas and an unaligned start.
      const h = areas[1];
      const w = im.readMemory(h.start + 100n, 3 * PAGE);
      expect(Buffer.compare(w, expectedMemory(h).subarray(100, 100 + 3 * PAGE))).toBe(0);
    } finally { im.close(); }
  });

  it('keeps raw page data page aligned', () => {
    const im = openImage(img(name));
    for (const c of im.chunks) expect(c.logicalOffset % PAGE).toBe(0);
    if (im.container === 'raw') for (const c of im.chunks) expect(c.fileOffset).toBe(c.logicalOffset);
    im.close();
  });

  it('gives the process metadata cheaply', () => {
    const m = readImageMeta(img(name));
    expect(m.prog).toBe('a.out');
    expect(m.pid).toBe(123);
    expect(m.uniqueId).toBe('7f3a9c-123-1763800000');
    expect(m.image?.formatVersion).toBe(1);
    expect(m.image?.compression).toBe(name === 'gz.dmtcp' ? 'gzip' : 'none');
  });

  it.each([false, true])('writes a restore plan whose tables and data match the source (mapImage %s)', (mapImage) => {
    const planPath = img(name + '.plan');
    const layout = writeRestorePlanSync(img(name), planPath, {
      info: { DMTCP_COORD_HOST: 'localhost', DMTCP_COORD_PORT: '7779' }, mapImage, mapMinAvgRun: PAGE,
    });
    const p = fs.readFileSync(planPath);
    const image = fs.readFileSync(img(name));
    // Only a raw image lends its pages; [anon:runs] is the one private anonymous area with data.
    const maps = mapImage && name === 'raw.dmtcp';
    expect(layout.mappedRuns).toBe(maps ? 3 : 0);   // its non-zero pages 2-4, 10 and 19
    expect(fs.statSync(planPath).mode & 0o777).toBe(0o600);
    expect(p.toString('latin1', 0, 8)).toBe('DMTCPPLN');
    expect(p.readUInt32LE(8)).toBe(2);
    expect(p.readUInt32LE(12)).toBe(areas.length);
    expect(p.readBigUInt64LE(16)).toBe(0x7f0000001234n);
    expect(p.readBigUInt64LE(24)).toBe(0x7f0000002000n);
    expect(p.readBigUInt64LE(32)).toBe(0x555555560000n);
    expect(p.readBigUInt64LE(40)).toBe(0x555555559000n);
    const areasOff = Number(p.readBigUInt64LE(48)), runsOff = Number(p.readBigUInt64LE(56));
    const nruns = Number(p.readBigUInt64LE(64)), tablesLen = Number(p.readBigUInt64LE(72));
    const tablesAddr = p.readBigUInt64LE(80);
    expect(runsOff + nruns * 32 - areasOff).toBe(tablesLen);
    expect(tablesAddr % BigInt(PAGE)).toBe(0n);
    expect(tablesAddr >= TABLES_ADDR_MIN && tablesAddr + BigInt(tablesLen) <= TABLES_ADDR_MAX).toBe(true);
    expect(tablesAddr + BigInt(tablesLen) <= RESTORER_LO || tablesAddr >= RESTORER_HI).toBe(true);
    const info = p.toString('utf8', 256, 256 + p.readUInt32LE(128));
    const st = fs.statSync(img(name), { bigint: true });
    const imagePathOff = p.readUInt32LE(104);
    if (maps) {
      // The image names itself and its identity, and the agent is told which file its memory maps.
      expect(p.toString('utf8', areasOff + imagePathOff, areasOff + imagePathOff + img(name).length + 1)).toBe(img(name) + '\0');
      expect(p.readBigUInt64LE(112)).toBe(st.dev);
      expect(p.readBigUInt64LE(120)).toBe(st.ino);
      expect(info).toMatch(new RegExp(`^DMTCP_COORD_HOST=localhost\nDMTCP_COORD_PORT=7779\nimage_map=\\d+:\\d+:${st.ino}\n$`));
    } else {
      expect(imagePathOff).toBe(0);
      expect(info).toBe('DMTCP_COORD_HOST=localhost\nDMTCP_COORD_PORT=7779\n');
    }
    expect(layout.tablesAddr).toBe(tablesAddr);
    areas.forEach((a, i) => {
      const o = areasOff + i * 48;
      const start = p.readBigUInt64LE(o), end = p.readBigUInt64LE(o + 8);
      expect(start).toBe(a.start);
      // tables_addr must not overlap any area
      expect(tablesAddr + BigInt(tablesLen) <= start || tablesAddr >= end).toBe(true);
      expect(p.readUInt32LE(o + 16)).toBe(a.prot ?? 3);
      expect(p.readUInt32LE(o + 20)).toBe(a.flags ?? 2);
      const first = p.readUInt32LE(o + 24), n = p.readUInt32LE(o + 28);
      const pathOff = p.readUInt32LE(o + 40);
      // File mappings carry their path, vdso/vvar their kernel name (the restorer matches it).
      const named = a.name === '/abs/path/a.out' || ((a.flags ?? 0) & (VDSO | VVAR)) !== 0;
      if (named) expect(p.toString('utf8', areasOff + pathOff, areasOff + pathOff + a.name.length + 1)).toBe(a.name + '\0');
      else expect(pathOff).toBe(0);
      if ((a.flags ?? 0) & (VDSO | VVAR)) { expect(n).toBe(0); return; }
      // Rebuild memory from the runs (plan or image file); must equal the source, covering every non-zero page.
      const mem = new Uint8Array(a.size);
      for (let k = first; k < first + n; k++) {
        const ro = runsOff + k * 32;
        const addr = p.readBigUInt64LE(ro), len = Number(p.readBigUInt64LE(ro + 8)), off = Number(p.readBigUInt64LE(ro + 16));
        const flags = p.readUInt32LE(ro + 24);
        expect(flags).toBe(maps && a.name === '[anon:runs]' ? 1 : 0);
        expect(addr % BigInt(PAGE)).toBe(0n);
        expect(len % PAGE).toBe(0);
        expect(off % PAGE).toBe(0);
        expect(addr >= start && addr + BigInt(len) <= end).toBe(true);
        mem.set((flags ? image : p).subarray(off, off + len), Number(addr - start));
      }
      expect(Buffer.compare(mem, expectedMemory(a))).toBe(0);
    });
    // Mapped runs take no room in the plan.
    if (maps) expect(p.length).toBeLessThan(fs.statSync(img(name)).size);
  });
});

describe('gzip container', () => {
  it('is read whole by plain gunzip, and the result is itself a readable image', () => {
    const out = execFileSync('gunzip', ['-c', img('gz.dmtcp')], { maxBuffer: 1 << 26 });
    const copy = img('gunzipped.dmtcp');
    fs.writeFileSync(copy, out);
    const im = openImage(copy);
    expect(im.container).toBe('raw');
    expect(im.verify()).toBeNull();
    for (const a of areas) expect(Buffer.compare(im.readMemory(a.start, a.size), expectedMemory(a))).toBe(0);
    im.close();
  });
  it('is smaller than the raw image on compressible data', () => {
    const text = Buffer.alloc(64 * PAGE, 'the quick brown fox jumps over the lazy dog\n');
    const s = buildRawStream(defaultMeta(), [{ start: 0x10000000n, size: text.length, data: text }]);
    expect(runEncoder(s, img('t.gz'), ['--gzip']).status).toBe(0);
    expect(runEncoder(s, img('t.raw'), ['--no-gzip']).status).toBe(0);
    expect(fs.statSync(img('t.gz')).size * 4).toBeLessThan(fs.statSync(img('t.raw')).size);
  });
});

describe('durability (fsync only when asked)', () => {
  const env = (v?: string): NodeJS.ProcessEnv => {
    const e = { ...process.env };
    delete e.DMTCP_FSYNC;
    if (v !== undefined) e.DMTCP_FSYNC = v;
    return e;
  };
  for (const flags of [['--gzip'], ['--no-gzip'], ['--gzip', '--hbict']]) {
    it(`DMTCP_FSYNC=1 ${flags.join(' ')}: a valid image, no temp file left`, () => {
      const out = img(`fsync${flags.join('')}.dmtcp`);
      const r = runEncoder(stream, out, flags, env('1'));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const im = openImage(out);
      expect(im.verify()).toBeNull();
      for (const a of areas) expect(Buffer.compare(im.readMemory(a.start, a.size), expectedMemory(a))).toBe(0);
      im.close();
      expect(leftovers()).toEqual([]);
    });
  }

  // Which syscalls run: only where strace exists (not needed to build or test otherwise).
  const hasStrace = spawnSync('strace', ['-V']).status === 0;
  const fsyncCalls = (flags: string[], e: NodeJS.ProcessEnv): number => {
    const log = img(`strace-${Math.random().toString(36).slice(2)}.log`);
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', log, process.execPath, ENCODER, '--out', img('traced.dmtcp'), ...flags], { input: stream, env: e });
    expect(r.status).toBe(0);
    return fs.readFileSync(log, 'utf8').split('\n').filter((l) => /\b(fsync|fdatasync)\(/.test(l)).length;
  };
  it.skipIf(!hasStrace)('fsyncs file and directory with DMTCP_FSYNC=1 or --fsync, and not by default', () => {
    expect(fsyncCalls([], env())).toBe(0);
    expect(fsyncCalls(['--no-fsync'], env('1'))).toBe(0);
    expect(fsyncCalls([], env('1'))).toBeGreaterThanOrEqual(2);
    expect(fsyncCalls(['--fsync'], env())).toBeGreaterThanOrEqual(2);
  });
});

describe('encoder failures', () => {
  const cases: [string, Uint8Array][] = [
    ['torn stream without END', buildRawStream(defaultMeta(), areas, { end: false })],
    ['stream cut inside page data', stream.subarray(0, stream.length >> 1)],
    ['empty stream', new Uint8Array(0)],
    ['bad magic', Buffer.from('NOTRAW!!' + '\0'.repeat(100))],
  ];
  for (const [what, s] of cases) {
    it(`${what}: exit 99, one line, no image and no temp file`, () => {
      const out = img('fail.dmtcp');
      const r = runEncoder(s, out, ['--gzip']);
      expect(r.status).toBe(99);
      expect(r.stderr).toMatch(/^encoder: [^\n]+\n$/);
      expect(fs.existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
    });
  }
  it('removes the temp file an encoder killed mid-image left behind (its pid is gone), keeps a live one\'s', () => {
    const out = img('swept.dmtcp');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // exited and reaped
    fs.writeFileSync(`${out}.tmp.${gone}`, 'half an image');
    fs.writeFileSync(`${out}.tmp.${process.pid}`, 'an encoder still at work');
    fs.writeFileSync(`${out}.tmp.notapid`, 'not ours');
    try {
      expect(runEncoder(stream, out, ['--no-gzip']).status).toBe(0);
      expect(fs.existsSync(`${out}.tmp.${gone}`)).toBe(false);
      expect(fs.existsSync(`${out}.tmp.${process.pid}`)).toBe(true);
      expect(fs.existsSync(`${out}.tmp.notapid`)).toBe(true);
    } finally {
      for (const f of [`${out}.tmp.${process.pid}`, `${out}.tmp.notapid`, `${out}.tmp.${gone}`]) fs.rmSync(f, { force: true });
    }
  });
  it('never replaces a good image with a failed one', () => {
    const out = img('keep.dmtcp');
    fs.copyFileSync(img('raw.dmtcp'), out);
    expect(runEncoder(stream.subarray(0, 5000), out).status).toBe(99);
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(img('raw.dmtcp')))).toBe(0);
  });
});

describe('damaged images', () => {
  function damaged(name: string, mutate: (b: Buffer) => Buffer): string {
    const p = img('bad-' + name + '-' + Math.random().toString(36).slice(2));
    fs.writeFileSync(p, mutate(Buffer.from(fs.readFileSync(img(name)))));
    return p;
  }
  for (const name of ['raw.dmtcp', 'gz.dmtcp']) {
    it(`${name}: a flipped data byte is named by chunk, area and offset`, () => {
      const im = openImage(img(name));
      const c = im.chunks[1];
      const a = im.areas[c.area];
      im.close();
      const p = damaged(name, (b) => { b[c.fileOffset + (name === 'raw.dmtcp' ? 123 : 60)] ^= 0x40; return b; });
      const bad = openImage(p);
      const msg = bad.verify();
      bad.close();
      expect(msg).toContain(p);
      expect(msg).toContain(`chunk 1 of area 0x${a.start.toString(16)}-0x${a.end.toString(16)}`);
      expect(msg).toContain(`file offset ${c.fileOffset}`);
      expect(() => writeRestorePlanSync(p, p + '.plan')).toThrow(/chunk 1/);
      expect(fs.existsSync(p + '.plan')).toBe(false);
    });
    it(`${name}: truncation, a flipped metadata byte and a foreign file give one-line errors`, () => {
      const size = fs.statSync(img(name)).size;
      const cuts = [size - 1, size >> 1, 100, 7, 0];
      for (const n of cuts) {
        const p = damaged(name, (b) => b.subarray(0, n));
        expect(() => openImage(p)).toThrow(new RegExp(`^${p.replace(/[.]/g, '\\.')}: [^\\n]+$`));
      }
      const m = damaged(name, (b) => { b[size - 200] ^= 1; return b; });
      expect(() => openImage(m)).toThrow(/checksum|gzip|trailer|metadata/);
      const f = damaged(name, () => Buffer.from('#!/bin/sh\necho hello\n'.repeat(100)));
      expect(() => openImage(f)).toThrow(/not a dmtcp image \(bad magic\)/);
      expect(() => readImageMeta(f)).toThrow(/bad magic/);
    });
  }
});

describe('tables_addr', () => {
  it('skips areas that occupy the lowest candidate, a page after each', () => {
    const a = [{ start: TABLES_ADDR_MIN, end: TABLES_ADDR_MIN + 0x5000n }, { start: TABLES_ADDR_MIN + 0x7000n, end: TABLES_ADDR_MIN + 0x8000n }];
    expect(chooseTablesAddr(a, 0x1000)).toBe(TABLES_ADDR_MIN + 0x6000n);
    expect(chooseTablesAddr(a, 0x1001)).toBe(TABLES_ADDR_MIN + 0x9000n);
    expect(chooseTablesAddr([{ start: 0n, end: 0x20000000n }], 10)).toBe(0x20001000n);
  });
  it('leaves the page after a heap free, which brk() needs to grow the heap to its size', () => {
    // a non-PIE program (node) whose randomized heap ends just above the lowest candidate
    const heap = { start: 0x0fc00000n, end: 0x10035000n };
    expect(chooseTablesAddr([heap], 0x3000)).toBe(0x10036000n);
  });
});
