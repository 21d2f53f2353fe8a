/**
 * The restorer must start with the kernel's heap (brk) exactly where the image's
 * was, because glibc's malloc remembers that address. Without privileges the only
 * way to choose brk is the ELF loader: with ADDR_NO_RANDOMIZE the kernel sets
 * start_brk to the end of the highest PT_LOAD segment. So for each restart we copy
 * mtcp_restart and turn its (unneeded) PT_GNU_STACK header into a one-page,
 * zero-filled PT_LOAD that ends at the image's start_brk.
 */
import * as fs from 'fs';

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
const PT_LOAD = 1;
const PT_GNU_STACK = 0x6474e551;
const PF_R = 4;
const PF_W = 2;
const PAGE = 4096n;

const E_PHOFF = 32;
const E_PHENTSIZE = 54;
const E_PHNUM = 56;
const P_TYPE = 0;
const P_FLAGS = 4;
const P_OFFSET = 8;
const P_VADDR = 16;
const P_PADDR = 24;
const P_FILESZ = 32;
const P_MEMSZ = 40;
const P_ALIGN = 48;

export class RestorerError extends Error {}

/** A copy of the restorer whose brk will start at `startBrk`. */
export function patchRestorerForBrk(restorer: Buffer, startBrk: bigint): Buffer {
  if (startBrk % PAGE !== 0n) startBrk = (startBrk + PAGE - 1n) & ~(PAGE - 1n);
  const elf = Buffer.from(restorer);
  if (elf.readUInt32LE(0) !== ELF_MAGIC) throw new RestorerError('mtcp_restart is not an ELF file');
  const phoff = Number(elf.readBigUInt64LE(E_PHOFF));
  const phentsize = elf.readUInt16LE(E_PHENTSIZE);
  const phnum = elf.readUInt16LE(E_PHNUM);
  // The extra page must lie above the restorer's own segments, or the kernel's brk
  // would end at the restorer instead (non-PIE programs have their heap near 4 MiB).
  let restorerEnd = 0n;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph + P_TYPE) !== PT_LOAD) continue;
    const end = elf.readBigUInt64LE(ph + P_VADDR) + elf.readBigUInt64LE(ph + P_MEMSZ);
    if (end > restorerEnd) restorerEnd = end;
  }
  if (startBrk - PAGE < ((restorerEnd + PAGE - 1n) & ~(PAGE - 1n))) {
    throw new RestorerError(`the image's heap starts at 0x${startBrk.toString(16)}, inside the restorer (ends at 0x${restorerEnd.toString(16)})`);
  }
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph + P_TYPE) !== PT_GNU_STACK) continue;
    const vaddr = startBrk - PAGE;
    elf.writeUInt32LE(PT_LOAD, ph + P_TYPE);
    elf.writeUInt32LE(PF_R | PF_W, ph + P_FLAGS);
    elf.writeBigUInt64LE(0n, ph + P_OFFSET);
    elf.writeBigUInt64LE(vaddr, ph + P_VADDR);
    elf.writeBigUInt64LE(vaddr, ph + P_PADDR);
    elf.writeBigUInt64LE(0n, ph + P_FILESZ);
    elf.writeBigUInt64LE(PAGE, ph + P_MEMSZ);
    elf.writeBigUInt64LE(PAGE, ph + P_ALIGN);
    return elf;
  }
  throw new RestorerError('mtcp_restart has no spare program header to patch');
}

export function readRestorer(file: string): Buffer {
  return fs.readFileSync(file);
}
