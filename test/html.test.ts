// readdmtcp --html: the page is self-contained and draws every area; rendered
// by headless Chromium (Debian `chromium`) when it is installed, the
// screenshot is a real picture. Skips cleanly on machines without Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { READDMTCP, buildRawStream, defaultMeta, runEncoder, sampleAreas } from './helpers/rawstream';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
let dir: string;
const html = () => path.join(dir, 'space.html');

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-html-'));
  expect(runEncoder(buildRawStream(defaultMeta(), sampleAreas()), path.join(dir, 'img.dmtcp'), ['--no-fsync']).status).toBe(0);
  const r = spawnSync(READDMTCP, ['--html', html(), path.join(dir, 'img.dmtcp')], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) into its distinct colors. */
function pngColors(png: Buffer): Set<number> {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  let w = 0, h = 0, type = 0;
  const idat: Buffer[] = [];
  for (let o = 8; o < png.length; ) {
    const len = png.readUInt32BE(o), kind = png.toString('latin1', o + 4, o + 8);
    const body = png.subarray(o + 8, o + 8 + len);
    if (kind === 'IHDR') { w = body.readUInt32BE(0); h = body.readUInt32BE(4); type = body[9]; }
    if (kind === 'IDAT') idat.push(body);
    o += 12 + len;
  }
  const bpp = type === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = w * bpp;
  const prev = Buffer.alloc(stride), cur = Buffer.alloc(stride);
  const colors = new Set<number>();
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    raw.copy(cur, 0, y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : f === 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
      cur[i] = (cur[i] + pred) & 0xff;
    }
    for (let x = 0; x < w; x += 3) colors.add((cur[x * bpp] << 16) | (cur[x * bpp + 1] << 8) | cur[x * bpp + 2]);
    cur.copy(prev);
  }
  return colors;
}

describe('readdmtcp --html', () => {
  it('writes one self-contained page with a bar per area, colored by kind', () => {
    const page = fs.readFileSync(html(), 'utf8');
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(page.match(/<g class="area /g)).toHaveLength(sampleAreas().length);
    for (const kind of ['heap', 'stack', 'anonymous', 'file', 'vdso', 'reservation']) expect(page).toContain(`class="area ${kind}"`);
  });

  it.skipIf(!hasChromium)('renders in headless Chromium to a real picture', () => {
    const png = path.join(dir, 'shot.png');
    const r = spawnSync(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', `--user-data-dir=${path.join(dir, 'profile')}`, `--screenshot=${png}`,
      '--window-size=1200,800', `file://${html()}`,
    ], { encoding: 'utf8', timeout: 60_000 });
    expect(fs.existsSync(png), r.stderr).toBe(true);
    const bytes = fs.readFileSync(png);
    expect(bytes.length).toBeGreaterThan(10_000);
    // Several colors: the kinds' bars, pale and solid, and text, not a blank page.
    expect(pngColors(bytes).size).toBeGreaterThan(8);
    if (process.env.DMTCP_KEEP_SCREENSHOT) fs.copyFileSync(png, process.env.DMTCP_KEEP_SCREENSHOT);
  }, 90_000);
});
