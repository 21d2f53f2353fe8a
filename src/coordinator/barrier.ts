/**
 * Runs one checkpoint as a script of named barriers (docs/protocol.md): each barrier
 * is sent to every agent, and the next one only when all have answered. Agents that
 * disconnect are dropped and the rest go on; a FAILED answer or a barrier that waits
 * past the timeout fails the checkpoint, and the survivors are sent RESUME so that no
 * process stays suspended because of another one.
 */
import { encodeMessage } from './codec';
import { Agent, Registry } from './registry';

export const BARRIER_SUSPEND = 'SUSPEND';
/** Every process marks its open file descriptions; the last to mark one owns it (fd_share.c). */
export const BARRIER_ELECT = 'ELECT';
/** Every process reads the owners; the owner of a pipe's read end drains it. */
export const BARRIER_DRAIN = 'DRAIN';
export const BARRIER_CHECKPOINT = 'CHECKPOINT';
export const BARRIER_RESUME = 'RESUME';
/** DMTCP_BARRIER_TIMEOUT default, seconds. */
export const DEFAULT_BARRIER_TIMEOUT_S = 120;

export interface ImageInfo {
  id: string;
  prog: string;
  host: string;
  path: string;
  /** Written by a forked copy of the process while it ran on (docs/forked-checkpoint.md). */
  forked?: boolean;
}

/** While forked images are written the computation runs: status shows this name. */
export const WRITING_IMAGES = 'WRITTEN';

export interface CheckpointResult {
  ok: boolean;
  gen: number;
  images: ImageInfo[];
  /** Ids of agents that disconnected during the checkpoint. */
  dropped: string[];
  /** One line for the user when !ok. */
  reason?: string;
}

/**
 * Processes on their way in: connections that have not said who they are yet,
 * and children whose parents told us of them (FORKED) before they reached
 * SUSPEND but that have not connected yet (expected.ts). SUSPEND is not
 * complete while any is still to come, so that the child joins.
 */
export interface Newcomers {
  unsettled(): boolean;
  whenSettled(cb: () => void): void;
}

const NO_NEWCOMERS: Newcomers = { unsettled: () => false, whenSettled: (cb) => cb() };

/** What to do once every image is written. */
export type AfterImages = 'resume' | 'kill';

interface Pending {
  name: string;
  waiting: Set<string>;
  reached: Set<string>;
  failures: string[];
  done: () => void;
}

export class CheckpointRun {
  private pending?: Pending;
  private images = new Map<string, ImageInfo>();
  private dropped: string[] = [];
  /** Agents that did not answer in time: they get RESUME but nobody waits for them again. */
  private hung = new Set<string>();
  /** Agents present at SUSPEND: one that connects later is not part of this checkpoint. */
  private members?: Set<string>;
  /** Agents whose image a forked writer is still writing, and what they said when done. */
  private writing = new Set<string>();
  private written = new Map<string, string | undefined>();
  private onWritten?: () => void;
  private awaitingWrites = false;
  /** RESUME was sent before the images were all written (forked checkpoints). */
  resumedEarly = false;

  constructor(
    private registry: Registry,
    readonly gen: number,
    private timeoutMs: number,
    /** Called after the CHECKPOINT barrier succeeded, before RESUME/KILL (the restart script). */
    private onImages: (images: ImageInfo[]) => Promise<void>,
    private log: (line: string) => void = () => {},
    /** The computation's id, told to every process at CHECKPOINT for its image. */
    private compId = '-',
    private newcomers: Newcomers = NO_NEWCOMERS,
  ) {}

  /** Name of the barrier being waited on, for status. */
  get barrier(): string | undefined {
    return this.pending?.name ?? (this.awaitingWrites ? WRITING_IMAGES : undefined);
  }

  async run(after: AfterImages): Promise<CheckpointResult> {
    const fail = async (reason: string): Promise<CheckpointResult> => {
      // Never leave a process suspended because another one failed.
      const all = this.participants();
      const waitFor = all.filter((a) => !this.hung.has(a.id));
      const notify = all.filter((a) => this.hung.has(a.id));
      if (all.length) await this.barrierStep(BARRIER_RESUME, waitFor, notify);
      this.log(`checkpoint ${this.gen} failed: ${reason}`);
      return { ok: false, gen: this.gen, images: [...this.images.values()], dropped: this.dropped, reason };
    };

    this.members = new Set(this.registry.all().map((a) => a.id));
    for (const name of [BARRIER_SUSPEND, BARRIER_ELECT, BARRIER_DRAIN, BARRIER_CHECKPOINT]) {
      const participants = this.participants();
      if (participants.length === 0) return fail('no processes left (all disconnected)');
      const err = await this.barrierStep(name, participants, [], name === BARRIER_CHECKPOINT ? this.checkpointFields(participants, after) : {});
      if (err) return fail(err);
    }
    const images = [...this.images.values()];
    if (images.length === 0) return fail('no processes left (all disconnected)');
    if (this.writing.size > 0) {
      // Forked checkpoints: the processes run on while their copies write;
      // the restart script and -bc's answer wait for every image.
      if (after === 'resume') await this.resume();
      const err = await this.imagesWritten();
      if (err) {
        if (!this.resumedEarly) return fail(err);
        this.log(`checkpoint ${this.gen} failed: ${err}`);
        return { ok: false, gen: this.gen, images, dropped: this.dropped, reason: err };
      }
    }
    try {
      await this.onImages(images);
    } catch (e) {
      return fail(`could not write the restart script: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (after === 'kill') {
      for (const a of this.registry.all()) a.send(encodeMessage('KILL'));
    } else if (!this.resumedEarly) {
      await this.resume();
    }
    return { ok: true, gen: this.gen, images, dropped: this.dropped };
  }

  private async resume(): Promise<void> {
    this.resumedEarly = this.writing.size > 0;
    const rest = this.participants();
    const err = rest.length ? await this.barrierStep(BARRIER_RESUME, rest) : undefined;
    // Images are written (or being written): a late RESUME problem does not undo the checkpoint, but is reported.
    if (err) this.log(`checkpoint ${this.gen}: ${err}`);
  }

  /**
   * Resolves when every forked writer said WRITTEN (undefined), or with an
   * error line: a writer failed, its process left without a word, or the
   * barrier timeout passed (the writing counts as one more barrier).
   */
  private imagesWritten(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.awaitingWrites = true;
      const timer = setTimeout(() => {
        const late = [...this.writing].filter((id) => !this.written.has(id)).map((id) => this.describe(id)).join(', ');
        finish(`images not written after ${+(this.timeoutMs / 1000).toFixed(1)} s: ${late}`);
      }, this.timeoutMs);
      const finish = (err?: string) => {
        clearTimeout(timer);
        this.awaitingWrites = false;
        this.onWritten = undefined;
        resolve(err);
      };
      this.onWritten = () => {
        if ([...this.writing].some((id) => !this.written.has(id))) return;
        const failures = [...this.writing].filter((id) => this.written.get(id) !== undefined)
          .map((id) => `${this.describe(id)}: ${this.written.get(id)}`);
        finish(failures.length ? `writing an image failed: ${failures.join('; ')}` : undefined);
      };
      this.onWritten();
    });
  }

  /** WRITTEN gen=<g> ok=1|0 [reason=]: a forked writer is done. */
  imageWritten(agent: Agent, fields: Record<string, string>): void {
    if (Number(fields.gen) !== this.gen || !this.writing.has(agent.id) || this.written.has(agent.id)) return;
    this.written.set(agent.id, fields.ok === '1' ? undefined : (fields.reason || 'no reason given'));
    this.onWritten?.();
  }

  /**
   * What each image records of the whole checkpoint, so that dmtcp_restart can
   * name a process whose image is missing: `members` lists `<prog>/<id>` with
   * the program name URI-encoded (it may hold commas).
   */
  private membership(participants: Agent[]): Record<string, string> {
    const members = participants.map((a) => `${encodeURIComponent(a.prog)}/${a.id}`).join(',');
    return { comp: this.compId, members };
  }

  /**
   * CHECKPOINT's fields: the membership, and `resume=1` when RESUME follows
   * without waiting for the images (a forked writer may wait for it to start;
   * with kcheckpoint no RESUME comes: it starts at once).
   */
  private checkpointFields(participants: Agent[], after: AfterImages): Record<string, string> {
    return { ...this.membership(participants), resume: after === 'resume' ? '1' : '0' };
  }

  /** Connected agents that started this checkpoint. */
  private participants(): Agent[] {
    return this.registry.all().filter((a) => this.members?.has(a.id));
  }

  /** One barrier: send, wait for every answer (or timeout); returns an error line or undefined. */
  private barrierStep(
    name: string, participants: Agent[], notifyOnly: Agent[] = [], fields: Record<string, string> = {},
  ): Promise<string | undefined> {
    return new Promise((resolve) => {
      const p: Pending = {
        name,
        waiting: new Set(participants.map((a) => a.id)),
        reached: new Set(),
        failures: [],
        done: () => {},
      };
      const timer = setTimeout(() => {
        for (const id of p.waiting) this.hung.add(id);
        const late = [...p.waiting].map((id) => this.describe(id)).join(', ');
        finish(`barrier ${name} timed out after ${+(this.timeoutMs / 1000).toFixed(1)} s waiting for ${late}`);
      }, this.timeoutMs);
      const finish = (err?: string) => {
        clearTimeout(timer);
        if (this.pending === p) this.pending = undefined;
        resolve(err);
      };
      p.done = () => {
        if (p.waiting.size > 0) return;
        if (name === BARRIER_SUSPEND && this.newcomers.unsettled()) {
          this.newcomers.whenSettled(() => p.done());
          return;
        }
        finish(p.failures.length ? `barrier ${name} failed: ${p.failures.join('; ')}` : undefined);
      };
      this.pending = p;
      for (const a of [...participants, ...notifyOnly]) a.send(encodeMessage('BARRIER', { name, gen: this.gen, ...fields }));
      p.done(); // nothing to wait for if every participant vanished meanwhile
    });
  }

  private describe(id: string): string {
    const a = this.registry.get(id);
    return a ? `${a.prog}[${a.pid}] (${id})` : id;
  }

  /**
   * A process that connected during the checkpoint: one forked while SUSPEND is
   * awaited takes part (its parent's gate waits for it); later ones do not.
   */
  joinLate(agent: Agent): void {
    const p = this.pending;
    if (!p || p.name !== BARRIER_SUSPEND || !this.members) return;
    this.members.add(agent.id);
    p.waiting.add(agent.id);
    agent.send(encodeMessage('BARRIER', { name: p.name, gen: this.gen }));
  }

  /** After an exec the agent's new program may not have seen the barrier sent to the old one. */
  resend(agent: Agent): void {
    const p = this.pending;
    if (p && p.waiting.has(agent.id)) agent.send(encodeMessage('BARRIER', { name: p.name, gen: this.gen }));
  }

  /** An agent answered REACHED. Answers to other barriers (late ones) are ignored. */
  reached(agent: Agent, name: string, fields: Record<string, string>): void {
    const p = this.pending;
    if (!p || p.name !== name || !p.waiting.has(agent.id)) return;
    if (name === BARRIER_CHECKPOINT) {
      if (!fields.image) {
        p.failures.push(`${this.describe(agent.id)} reported no image`);
      } else {
        const forked = fields.writing === '1';
        this.images.set(agent.id, { id: agent.id, prog: agent.prog, host: agent.host, path: fields.image, forked });
        if (forked) this.writing.add(agent.id);
      }
    }
    p.waiting.delete(agent.id);
    p.reached.add(agent.id);
    p.done();
  }

  failed(agent: Agent, name: string, reason: string): void {
    const p = this.pending;
    if (!p || p.name !== name || !p.waiting.has(agent.id)) return;
    p.failures.push(`${this.describe(agent.id)}: ${reason || 'no reason given'}`);
    p.waiting.delete(agent.id);
    p.done();
  }

  /** An agent disconnected: drop it and let the barrier go on without it. */
  disconnected(agent: Agent): void {
    this.dropped.push(agent.id);
    // Its writer holds the connection until it said WRITTEN: gone without it, the image is not there.
    if (this.writing.has(agent.id) && !this.written.has(agent.id)) {
      this.written.set(agent.id, 'disconnected before its image was written');
      this.onWritten?.();
    }
    const p = this.pending;
    if (!p || !p.waiting.has(agent.id)) return;
    this.log(`${agent.prog}[${agent.pid}] (${agent.id}) disconnected during barrier ${p.name}; continuing without it`);
    p.waiting.delete(agent.id);
    p.done();
  }
}
