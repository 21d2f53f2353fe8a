/**
 * The agent reaches a program through LD_PRELOAD, which only the dynamic loader
 * honours: a statically linked executable would run unobserved and could never
 * be checkpointed. dmtcp_launch refuses it up front with a clear line.
 */
import * as fs from 'fs';

const ELF_MAGIC = 0x464c457f; // "\x7fELF"
const PT_INTERP = 3;
const HEADER_BYTES = 4096;

export type ProgramKind = 'dynamic' | 'static' | 'script' | 'other';

export function programKind(file: string): ProgramKind {
  const buf = Buffer.alloc(HEADER_BYTES);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, buf, 0, HEADER_BYTES, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n >= 2 && buf[0] === 0x23 && buf[1] === 0x21) return 'script';
  if (n < 64 || buf.readUInt32LE(0) !== ELF_MAGIC || buf[4] !== 2 /* 64-bit */) return 'other';
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 4 > n) return 'other';
    if (buf.readUInt32LE(ph) === PT_INTERP) return 'dynamic';
  }
  return 'static';
}
