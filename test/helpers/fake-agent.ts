/**
 * A TypeScript stand-in for the C agent: speaks the agent side of docs/protocol.md
 * and can be told, per barrier, to answer REACHED, FAILED, never answer (hang) or
 * disconnect. At CHECKPOINT it reports (and optionally writes) an image path.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { decodeMessage, encodeMessage, LineSplitter, Message } from '../../src/coordinator/codec';

export type BarrierBehavior = 'reach' | 'fail' | 'hang' | 'disconnect';

export interface FakeAgentOptions {
  host?: string;
  port: number;
  prog?: string;
  pid?: number;
  rpid?: number;
  ppid?: number;
  hostname?: string;
  /** '-' (default) asks the coordinator for a new id; restart=1 keeps this one. */
  id?: string;
  restart?: boolean;
  gen?: number;
  /** Per barrier name; default 'reach'. */
  behavior?: Record<string, BarrierBehavior>;
  /** Delay before answering, per barrier name (ms). */
  delayMs?: Record<string, number>;
  /** Directory of the reported image (default: os tmp); the path is ckpt_<prog>_<id>.dmtcp. */
  imageDir?: string;
  /** Write a small file at the image path, as a real agent would. */
  writeImage?: boolean;
  /** Connect, then wait this long before HELLO (a process that just forked). */
  helloDelayMs?: number;
  /** After KILL, keep the connection this long (a process slow to end). */
  killDelayMs?: number;
  /**
   * Forked checkpointing: answer CHECKPOINT with writing=1, then after
   * `writeMs` write the image and say WRITTEN (ok=0 with `fail` as the reason).
   */
  forked?: { writeMs: number; fail?: string };
}

let nextFakePid = 40000;

export class FakeAgent {
  id = '';
  gen = 0;
  interval = 0;
  readonly barriers: string[] = [];
  readonly received: Message[] = [];
  readonly images: string[] = [];
  /** For each WRITTEN sent (forked): the barriers seen by then. */
  readonly written: string[][] = [];
  killed = false;
  closed = false;
  private socket!: net.Socket;
  private waiters: Array<() => void> = [];

  private constructor(readonly opts: FakeAgentOptions) {}

  get prog(): string {
    return this.opts.prog ?? 'a.out';
  }

  static async connect(opts: FakeAgentOptions): Promise<FakeAgent> {
    const a = new FakeAgent(opts);
    await a.start();
    return a;
  }

  private start(): Promise<void> {
    const o = this.opts;
    const pid = o.pid ?? nextFakePid++;
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host: o.host ?? '127.0.0.1', port: o.port });
      this.socket = socket;
      let welcomed = false;
      const splitter = new LineSplitter((line) => {
        const m = decodeMessage(line);
        if (!m) return;
        this.received.push(m);
        if (m.verb === 'WELCOME') {
          this.id = m.fields.id;
          this.gen = Number(m.fields.gen);
          this.interval = Number(m.fields.interval);
          welcomed = true;
          resolve();
        } else if (m.verb === 'ERROR' && !welcomed) {
          reject(new Error(`refused: ${m.fields.reason}`));
        } else if (m.verb === 'BARRIER') {
          this.onBarrier(m.fields.name, Number(m.fields.gen));
        } else if (m.verb === 'KILL') {
          // The real agent SIGKILLs its process: the connection just drops.
          this.killed = true;
          if (o.killDelayMs) setTimeout(() => socket.destroy(), o.killDelayMs);
          else socket.destroy();
        }
        this.notify();
      }, () => socket.destroy());
      socket.on('connect', () => {
        const hello = () => socket.write(encodeMessage('HELLO', {
          v: 1, role: 'agent', prog: this.prog, pid, rpid: o.rpid ?? pid + 1, ppid: o.ppid ?? 1,
          host: o.hostname ?? 'fakehost', id: o.id ?? '-', restart: o.restart ? 1 : 0, gen: o.gen ?? 0,
        }));
        if (o.helloDelayMs) setTimeout(hello, o.helloDelayMs);
        else hello();
      });
      socket.on('data', (c) => splitter.push(c));
      socket.on('error', (e) => { if (!welcomed) reject(e); });
      socket.on('close', () => {
        this.closed = true;
        if (!welcomed) reject(new Error('closed before WELCOME'));
        this.notify();
      });
    });
  }

  private onBarrier(name: string, gen: number): void {
    this.barriers.push(name);
    const behavior = this.opts.behavior?.[name] ?? 'reach';
    const act = () => {
      if (this.closed) return;
      if (behavior === 'hang') return;
      if (behavior === 'disconnect') { this.socket.destroy(); return; }
      if (behavior === 'fail') { this.send('FAILED', { name, reason: `fake failure at ${name}` }); return; }
      if (name === 'CHECKPOINT') {
        const dir = this.opts.imageDir ?? os.tmpdir();
        const image = path.join(dir, `ckpt_${this.prog}_${this.id}.dmtcp`);
        const write = () => { if (this.opts.writeImage) fs.writeFileSync(image, `fake image gen ${gen}\n`, { mode: 0o600 }); };
        this.images.push(image);
        const forked = this.opts.forked;
        if (forked) {
          this.send('REACHED', { name, image, writing: 1 });
          setTimeout(() => {
            if (this.closed) return;
            if (forked.fail) { this.send('WRITTEN', { gen, ok: 0, reason: forked.fail }); return; }
            write();
            this.written.push(this.barriers.slice());
            this.send('WRITTEN', { gen, ok: 1, image });
          }, forked.writeMs);
          return;
        }
        write();
        this.send('REACHED', { name, image });
      } else {
        this.send('REACHED', { name });
      }
    };
    const delay = this.opts.delayMs?.[name] ?? 0;
    if (delay > 0) setTimeout(act, delay);
    else act();
  }

  send(verb: string, fields: Record<string, string | number>): void {
    if (!this.socket.destroyed) this.socket.write(encodeMessage(verb, fields));
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Wait until pred() holds (checked after every message and at close). */
  waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fake agent: timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (pred()) { clearTimeout(t); resolve(); } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    if (this.socket && !this.socket.destroyed) this.socket.destroy();
  }
}
