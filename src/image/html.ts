// `readdmtcp --html FILE`: one self-contained page (inline SVG and CSS, no
// script, no network) drawing the address space: one bar per area, its length
// on a log axis of its size, colored by kind, with its stored (data) pages
// drawn solid and its zero pages pale. For people who would rather look.
import { Image } from './decode';
import { Area, FLAG, PAGE, hex } from './format';
import { areaFacts, human } from './inspect';

export type AreaKind = 'heap' | 'stack' | 'library' | 'anonymous' | 'file' | 'vdso' | 'reservation';

/** One color per kind; data pages use it solid, zero pages a pale tint of it. */
export const KIND_COLORS: Record<AreaKind, string> = {
  heap: '#d62728', stack: '#ff7f0e', library: '#1f77b4', anonymous: '#2ca02c',
  file: '#9467bd', vdso: '#8c564b', reservation: '#7f7f7f',
};

export function areaKind(a: Area): AreaKind {
  if (a.flags & (FLAG.VDSO | FLAG.VVAR)) return 'vdso';
  if (a.flags & FLAG.NODATA) return 'reservation';
  if (a.flags & FLAG.HEAP || a.name === '[heap]') return 'heap';
  if (a.flags & FLAG.STACK || a.name.startsWith('[stack')) return 'stack';
  if (/\.so(\.[0-9.]+)?( \(deleted\))?$/.test(a.name)) return 'library';
  if (a.flags & FLAG.ANON || a.name === '' || a.name.startsWith('[')) return 'anonymous';
  return 'file';
}

const ROW_H = 18;
const LABEL_W = 300;
const BAR_MAX_W = 560;
const TEXT_W = 320;
const TOP = 30;
/** Smallest area is one page: log2(bytes / PAGE) + 1 gives it a visible bar. */
const logLen = (bytes: number): number => Math.log2(Math.max(bytes, PAGE) / PAGE) + 1;

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Builds the page for an opened image (no I/O beyond reading its metadata). */
export function renderHtml(img: Image): string {
  const maxLog = Math.max(1, ...img.areas.map((a) => logLen(Number(a.end - a.start))));
  const scale = BAR_MAX_W / maxLog;
  const rows = img.areas.map((a, i) => areaRow(a, i, scale));
  const height = TOP + img.areas.length * ROW_H + 10;
  const width = LABEL_W + BAR_MAX_W + TEXT_W;
  const axis = axisTicks(maxLog, scale);
  const legend = (Object.keys(KIND_COLORS) as AreaKind[]).map((k) =>
    `<span class="key"><span class="sw" style="background:${KIND_COLORS[k]}"></span>${k}</span>`).join('') +
    '<span class="key"><span class="sw zero"></span>zero pages (pale)</span>';
  const m = img.meta;
  const total = img.areas.reduce((s, a) => s + Number(a.end - a.start), 0);
  const stored = img.areas.reduce((s, a) => s + a.dataLen, 0);
  const title = `${m.prog ?? '?'} (pid ${m.pid ?? '?'}) — ${img.path}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}
.facts{color:#555;margin-bottom:8px}
.key{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border:1px solid #0003}
.sw.zero{background:repeating-linear-gradient(45deg,#ddd 0 3px,#fff 3px 6px)}
svg text{font:11px ui-monospace,monospace;fill:#222}
</style></head><body>
<h1>${esc(m.prog ?? '?')} — address space</h1>
<div class="facts">${esc(img.path)} · ${img.areas.length} areas · ${human(total)} mapped · ${human(stored)} stored · ${human(total - stored)} zero or not saved · bar length: log<sub>2</sub> of the area's size in pages</div>
<div class="legend">${legend}</div>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
${axis}
${rows.join('\n')}
</svg></body></html>
`;
}

function axisTicks(maxLog: number, scale: number): string {
  const out: string[] = [];
  for (let l = 1; l <= maxLog; l += Math.max(1, Math.floor(maxLog / 8))) {
    const x = LABEL_W + l * scale;
    out.push(`<line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${TOP - 2}" stroke="#888"/><text x="${x - 10}" y="${TOP - 10}">${human(PAGE * 2 ** (l - 1))}</text>`);
  }
  return out.join('');
}

/** One area: label, pale bar for its size, solid segments where its pages hold data. */
function areaRow(a: Area, i: number, scale: number): string {
  const f = areaFacts(a);
  const kind = areaKind(a);
  const color = KIND_COLORS[kind];
  const y = TOP + i * ROW_H;
  const size = Number(a.end - a.start);
  const w = logLen(size) * scale;
  // Inside a bar, positions are linear in the area's offsets: where its data lies.
  const runs = a.runs.map((r) => {
    const x = LABEL_W + (r.offset / size) * w;
    const rw = Math.max(1, (r.len / size) * w);
    return `<rect x="${x.toFixed(1)}" y="${y + 2}" width="${rw.toFixed(1)}" height="${ROW_H - 4}" fill="${color}"/>`;
  }).join('');
  const name = a.name || (kind === 'anonymous' ? '[anon]' : '');
  return `<g class="area ${kind}"><title>${esc(`${f.start}-${f.end} ${f.perms} ${name}\n${kind}: ${human(size)}, ${human(f.stored)} stored, ${human(f.zero)} zero`)}</title>` +
    `<text x="0" y="${y + ROW_H - 5}">${hex(a.start).padStart(14)} ${f.perms}</text>` +
    `<rect x="${LABEL_W}" y="${y + 2}" width="${w.toFixed(1)}" height="${ROW_H - 4}" fill="${color}" fill-opacity="0.18" stroke="${color}" stroke-width="0.5"/>${runs}` +
    `<text x="${LABEL_W + BAR_MAX_W + 8}" y="${y + ROW_H - 5}">${esc(`${human(size).padStart(5)} ${human(f.stored).padStart(5)} ${name}`.slice(0, 48))}</text></g>`;
}
