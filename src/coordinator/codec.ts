/**
 * The line codec of docs/protocol.md: `VERB key=value ...`, values percent-encoded
 * (% space newline = CR), one message per '\n'-terminated line, 64 KiB at most.
 */

import { StringDecoder } from 'string_decoder';

export const PROTOCOL_VERSION = 1;
/** Longer lines close the connection (a peer that is not speaking our protocol). */
export const MAX_LINE_BYTES = 64 * 1024;

export interface Message {
  verb: string;
  fields: Record<string, string>;
}

export function encodeValue(v: string): string {
  // '%' first so the escapes we add are not themselves escaped.
  return v.replace(/%/g, '%25').replace(/ /g, '%20').replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/=/g, '%3D');
}

export function decodeValue(v: string): string {
  // Decode any %XX (lenient: a peer may escape more than it must); leave junk as is.
  return v.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function encodeMessage(verb: string, fields: Record<string, string | number | boolean | undefined> = {}): string {
  let line = verb;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    line += ` ${k}=${encodeValue(String(v))}`;
  }
  return line + '\n';
}

/** Parse one line (without its '\n'). Returns undefined for an empty line. */
export function decodeMessage(line: string): Message | undefined {
  const trimmed = line.replace(/\r$/, '');
  if (trimmed.trim() === '') return undefined;
  const parts = trimmed.split(' ').filter((p) => p !== '');
  const verb = parts[0];
  const fields: Record<string, string> = {};
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue; // a bare word is not a field: ignore, like unknown keys
    fields[p.slice(0, eq)] = decodeValue(p.slice(eq + 1));
  }
  return { verb, fields };
}

/**
 * Splits a byte stream into lines. Calls onLine for each complete line and
 * onOverflow once if a line grows past MAX_LINE_BYTES (the caller closes).
 */
export class LineSplitter {
  private buf = '';
  private dead = false;
  // A chunk may end inside a multi-byte UTF-8 character: the decoder keeps the tail.
  private decoder = new StringDecoder('utf8');

  constructor(private onLine: (line: string) => void, private onOverflow: () => void) {}

  push(chunk: Buffer | string): void {
    if (this.dead) return;
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (Buffer.byteLength(line) > MAX_LINE_BYTES) return this.overflow();
      this.onLine(line);
      if (this.dead) return;
    }
    if (Buffer.byteLength(this.buf) > MAX_LINE_BYTES) this.overflow();
  }

  /** Stop delivering lines (after the connection is closed or handed over). */
  stop(): void {
    this.dead = true;
  }

  private overflow(): void {
    this.dead = true;
    this.buf = '';
    this.onOverflow();
  }
}
