// Writes N bytes of one kind of bench data to FILE: `node bench/make-data.js
// KIND MIB FILE`. Kinds: random (incompressible), zero, text (pseudo-English
// words: compressible like logs or source), half (even pages random, odd pages
// zero: half of the pages are elided). Deterministic, so runs compare.
'use strict';
const fs = require('fs');
const [kind, mib, file] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const PAGE = 4096;
const PIECE = 1 << 20;
const WORDS = ('the of and to in is was for on that with as by at from his her it an were are which this be or ' +
  'checkpoint restart process memory image page thread signal coordinator barrier heap stack library file ' +
  'compress delta chain hash zero data run area kernel socket pipe descriptor session group terminal').split(' ');
let x = 0x9e3779b9;
const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
function piece() {
  const b = Buffer.alloc(PIECE);
  if (kind === 'zero') return b;
  if (kind === 'random' || kind === 'half') {
    for (let i = 0; i < PIECE; i += 4) b.writeUInt32LE(rnd(), i);
    if (kind === 'half') for (let p = PAGE; p < PIECE; p += 2 * PAGE) b.fill(0, p, p + PAGE);
    return b;
  }
  if (kind === 'text') {
    let o = 0;
    while (o < PIECE) { const w = WORDS[rnd() % WORDS.length] + (rnd() % 13 === 0 ? '.\n' : ' '); o += b.write(w, o); }
    return b;
  }
  throw new Error(`unknown kind ${kind}`);
}
const fd = fs.openSync(file, 'w');
for (let i = 0; i < mib; i++) fs.writeSync(fd, piece());
fs.closeSync(fd);
