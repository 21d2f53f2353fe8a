/**
 * The coordinator's state and operations, independent of sockets: the agents of the
 * computation, its generation and id, the checkpoint in progress, the interval.
 * server.ts feeds it connections; keys.ts and commands.ts call its operations.
 */
import * as os from 'os';
import { AfterImages, CheckpointResult, CheckpointRun, ImageInfo, Newcomers } from './barrier';
import { encodeMessage, Message, PROTOCOL_VERSION } from './codec';
import { StatusInfo } from './format';
import { ExpectedChildren } from './expected';
import { Agent, PeerInfo, Registry } from './registry';
import { KvStore } from './kvdb';
import { writeRestartScript } from './restart-script';
import { freshUniqueId } from './uniqueid';
import { IntervalTimer } from './interval';

export interface CoreConfig {
  bind: string;
  ckptDir: string;
  interval: number;
  exitOnLast: boolean;
  exitAfterCkpt: boolean;
  barrierTimeoutMs: number;
  restartBin?: string;
  log: (line: string) => void;
  /** Called when the coordinator should stop (quit, or --exit-on-last). */
  onShutdown: (why: string) => void;
}

/** A checkpoint that started: its run and the promise of its outcome. */
export interface StartedCheckpoint {
  gen: number;
  done: Promise<CheckpointOutcome>;
}

export interface CheckpointOutcome extends CheckpointResult {
  /** Versioned restart script path, when written. */
  script?: string;
}

export type HelloResult = { ok: true; agent: Agent } | { ok: false; reason: string };

/** How long a connection that said nothing may hold SUSPEND (a hung client must not). */
const NEWCOMER_WAIT_MS = 2000;
/** How long a kill command waits for the told processes to be gone before it answers. */
const KILL_WAIT_MS = 3000;
const GONE_POLL_MS = 20;
/** How often SUSPEND looks again at children told but not here yet (/proc). */
const EXPECTED_POLL_MS = 2;
/** --exit-on-last: how often it looks again while a told child may still come. */
const LAST_POLL_MS = 50;
/**
 * After a process leaves, children it forked but had not told us of yet
 * (their parent tells at SUSPEND: native/agent/core/coord_link.c) join on
 * their own within 10 ms of their fork (lazy_join.c): until this long after a
 * disconnect, no SUSPEND completes and --exit-on-last does not end us.
 */
const ORPHAN_GRACE_MS = 50;

export class Coordinator {
  readonly registry = new Registry();
  /** Children their parents told us of (FORKED) that have not said HELLO yet. */
  readonly expected = new ExpectedChildren((id) => this.registry.has(id));
  /** dmtcp::kvdb: what the computation's processes publish for one another. */
  readonly kv = new KvStore();
  private unidentified = 0;
  private settledWaiters: (() => void)[] = [];
  port = 0;
  gen = 0;
  compId?: string;
  private run?: CheckpointRun;
  private timer: IntervalTimer;
  lastResult?: CheckpointOutcome;

  constructor(private cfg: CoreConfig) {
    this.timer = new IntervalTimer(() => this.onInterval());
    this.timer.set(cfg.interval);
  }

  private userBarriers = new Map<string, { arrived: number; release: (() => void)[] }>();

  /**
   * dmtcp_global_barrier(name): resolves when as many callers as the computation
   * has processes have arrived at `name` (then the barrier is new again), or,
   * false, after the barrier timeout. After a restart the processes reconnect one
   * by one: each says how many the computation has (`count`).
   */
  userBarrier(name: string, count = 0): Promise<boolean> {
    const b = this.userBarriers.get(name) ?? { arrived: 0, release: [] };
    this.userBarriers.set(name, b);
    b.arrived++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { b.release = b.release.filter((r) => r !== go); resolve(false); }, this.cfg.barrierTimeoutMs);
      const go = (): void => { clearTimeout(timer); resolve(true); };
      b.release.push(go);
      if (b.arrived >= Math.max(count, this.registry.size)) {
        this.userBarriers.delete(name);
        for (const r of b.release) r();
      }
    });
  }

  get interval(): number {
    return this.timer.value;
  }

  setInterval(seconds: number): void {
    this.timer.set(seconds);
    this.cfg.log(`checkpoint interval set to ${seconds} s${seconds === 0 ? ' (disabled)' : ''}`);
  }

  status(): StatusInfo {
    return {
      host: os.hostname(),
      bind: this.cfg.bind,
      port: this.port,
      numPeers: this.registry.size,
      running: this.registry.running() && (!this.run || this.run.resumedEarly),
      interval: this.interval,
      gen: this.gen,
      compId: this.compId,
      ckptDir: this.cfg.ckptDir,
      barrier: this.run?.barrier,
      exitOnLast: this.cfg.exitOnLast,
    };
  }

  list(): PeerInfo[] {
    return this.registry.info();
  }

  /** The running checkpoint's outcome, and one asked for while its images were being written. */
  private runDone?: Promise<CheckpointOutcome>;
  private queued?: StartedCheckpoint;

  /**
   * Start a checkpoint of every agent, or say why not. Asked for while forked
   * writers write the previous one's images (the processes run), it starts
   * when that one is over (docs/forked-checkpoint.md); one such at a time.
   */
  checkpoint(after: AfterImages = 'resume'): StartedCheckpoint | { error: string } {
    if (this.run && this.run.resumedEarly && !this.queued && this.runDone) {
      const queued: StartedCheckpoint = {
        gen: this.run.gen + 1,
        done: this.runDone.then(() => {
          this.queued = undefined;
          const r = this.checkpoint(after);
          if ('error' in r) return { ok: false, gen: this.gen + 1, images: [], dropped: [], reason: r.error };
          return r.done;
        }),
      };
      this.queued = queued;
      return queued;
    }
    if (this.run || this.queued) return { error: `a checkpoint is already in progress (barrier ${this.run?.barrier ?? '-'})` };
    if (this.registry.size === 0) return { error: 'no processes connected to the coordinator' };
    const gen = this.gen + 1;
    if (this.cfg.exitAfterCkpt) after = 'kill';
    let script: string | undefined;
    const compId = this.compId ?? this.registry.all()[0].id;
    const run = new CheckpointRun(this.registry, gen, this.cfg.barrierTimeoutMs, async (images: ImageInfo[]) => {
      script = await writeRestartScript({
        dir: this.cfg.ckptDir, compId, gen, host: this.scriptHost(), port: this.port, images,
        restartBin: this.cfg.restartBin, interval: this.interval,
      });
    }, this.cfg.log, compId, this.newcomers());
    this.run = run;
    this.cfg.log(`checkpoint ${gen}: starting (${this.registry.size} process(es))`);
    const done = run.run(after).then((r) => {
      this.run = undefined;
      if (r.ok) {
        this.gen = Math.max(this.gen, r.gen);
        this.cfg.log(`checkpoint ${gen}: done, ${r.images.length} image(s); restart script ${script}`);
      }
      const outcome: CheckpointOutcome = { ...r, script };
      this.lastResult = outcome;
      return outcome;
    });
    this.runDone = done;
    return { gen, done };
  }

  /**
   * The `f` key: the next restart may go on without processes whose images are
   * missing (dmtcp_restart asks with the `take-force` command, which clears it).
   */
  private forced = false;

  forceNextRestart(): void {
    this.forced = true;
    this.cfg.log('force: the next restart may lack processes of its checkpoint');
  }

  takeForce(): boolean {
    const was = this.forced;
    this.forced = false;
    return was;
  }

  /** A connection opened; `identified` is to be called once, at its first line or its close. */
  connectionOpened(): () => void {
    this.unidentified++;
    let once = false;
    return () => {
      if (once) return;
      once = true;
      this.unidentified--;
      // Let this event's HELLO (if it was one) register before SUSPEND is judged complete.
      if (this.unidentified === 0) this.wakeSettledWaiters();
    };
  }

  private wakeSettledWaiters(): void {
    setImmediate(() => this.settledWaiters.slice().forEach((w) => w()));
  }

  /**
   * SUSPEND is complete only when no connection is still to say who it is and
   * no child told of by its parent (FORKED) is still to come (expected.ts):
   * each gets at most NEWCOMER_WAIT_MS.
   */
  private newcomers(): Newcomers {
    const unsettled = () => this.unidentified > 0 || this.orphansMayCome() || this.expected.prune() > 0;
    return {
      unsettled,
      whenSettled: (cb) => {
        let called = false;
        const call = () => {
          if (called) return;
          called = true;
          clearTimeout(t);
          clearInterval(poll);
          this.settledWaiters = this.settledWaiters.filter((w) => w !== check);
          cb();
        };
        const check = () => { if (!unsettled()) call(); };
        const t = setTimeout(() => {
          const late = this.expected.all();
          if (late.length) this.cfg.log(`not waiting any longer for ${late.length} forked child(ren) that did not connect: ${late.map((c) => c.pid).join(', ')}`);
          this.expected.forget(late);
          call();
        }, NEWCOMER_WAIT_MS);
        // a child that ends before it connects says nothing: /proc tells
        const poll = setInterval(check, EXPECTED_POLL_MS);
        this.settledWaiters.push(check);
      },
    };
  }

  /** When a process last left (ORPHAN_GRACE_MS). */
  private lastDisconnect = 0;
  private orphansMayCome(): boolean { return Date.now() - this.lastDisconnect < ORPHAN_GRACE_MS; }

  /** Send KILL to every agent; returns how many were told. */
  kill(): number {
    const agents = this.registry.all();
    for (const a of agents) { a.killed = true; a.send(encodeMessage('KILL')); }
    // children still to connect are told when they do (hello)
    const coming = this.expected.prune() > 0 ? this.expected.doomAll() : 0;
    if (agents.length) this.cfg.log(`killing ${agents.length} process(es)`);
    return agents.length + coming;
  }

  /**
   * Resolves once none of these agents is connected any more (each closes its
   * connection when it ends), or after KILL_WAIT_MS: a job script's
   * `dmtcp_command -k; dmtcp_restart ...` must not find the old processes still
   * there. Returns how many were still connected.
   */
  async gone(ids: string[]): Promise<number> {
    const deadline = Date.now() + KILL_WAIT_MS;
    const left = () => ids.filter((id) => this.registry.has(id)).length + (this.expected.anyDoomed() && this.expected.prune() > 0 ? 1 : 0);
    while (left() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, GONE_POLL_MS));
    return left();
  }

  quit(): number {
    const n = this.kill();
    this.cfg.onShutdown('quit');
    return n;
  }

  stop(): void {
    this.timer.stop();
    if (this.lastPoll) clearTimeout(this.lastPoll);
  }

  /** The host the restart script tells dmtcp_restart to use by default. */
  private scriptHost(): string {
    // Listening everywhere: other hosts know us by name. Otherwise the exact address we
    // listen on (not "localhost", which may resolve to ::1 where nobody listens).
    return this.cfg.bind === '0.0.0.0' || this.cfg.bind === '::' ? os.hostname() : this.cfg.bind;
  }

  private onInterval(): void {
    if (this.run || this.registry.size === 0) return;
    const r = this.checkpoint();
    if ('error' in r) this.cfg.log(`interval checkpoint skipped: ${r.error}`);
  }

  /** HELLO role=agent: register it, reply WELCOME (the caller sends the reply). */
  hello(m: Message, socket: Agent['socket'], send: (line: string) => void): HelloResult {
    const f = m.fields;
    const num = (k: string) => (/^-?\d+$/.test(f[k] ?? '') ? Number(f[k]) : 0);
    const restarted = f.restart === '1';
    const host = f.host || os.hostname();
    let id = f.id;
    // A forked child proposes its own id and hears back only if it must take another.
    const proposed = f.proposed === '1' && !!id && id !== '-';
    if (!id || id === '-' || (proposed && this.registry.has(id))) {
      id = freshUniqueId(num('pid'), host, (x) => this.registry.has(x));
    } else if (this.registry.has(id)) {
      return { ok: false, reason: 'duplicate-id' };
    }
    const told = this.expected.arrived(host, num('rpid'));
    // (a child told of by its parent continues the computation its parent left)
    if (this.registry.size === 0 && (!told || this.compId === undefined)) {
      // A new computation begins: its id is its first process's id (as in DMTCP).
      this.compId = id;
      this.gen = 0;
    }
    const gen = num('gen');
    if (restarted) this.gen = Math.max(this.gen, gen);
    const agent = this.registry.add({
      id, prog: f.prog || '?', pid: num('pid'), rpid: num('rpid'), ppid: num('ppid'), host, gen, restarted,
      state: 'RUNNING', socket, send,
    });
    if (!proposed || id !== f.id) send(encodeMessage('WELCOME', { v: PROTOCOL_VERSION, id, gen: this.gen, interval: this.interval }));
    this.cfg.log(`${restarted ? 'restarted ' : ''}${agent.prog}[${agent.pid}] connected as ${id} (${this.registry.size} process(es))`);
    // A child forked while the computation is being suspended belongs to this
    // checkpoint: its parent told us of it (FORKED) before it reached SUSPEND,
    // and SUSPEND is not complete until the child is here (expected.ts).
    this.run?.joinLate(agent);
    if (told?.doomed) agent.send(encodeMessage('KILL'));
    if (told) this.wakeSettledWaiters();
    return { ok: true, agent };
  }

  /** A message from a registered agent. Returns false for an unknown verb. */
  agentMessage(agent: Agent, m: Message): boolean {
    const name = m.fields.name ?? '';
    if (m.verb === 'REACHED') {
      if (name === 'SUSPEND') agent.state = 'SUSPENDED';
      else if (name === 'CHECKPOINT') agent.state = 'CHECKPOINTED';
      else if (name === 'RESUME') agent.state = 'RUNNING';
      this.run?.reached(agent, name, m.fields);
      return true;
    }
    if (m.verb === 'WRITTEN') {
      // A forked writer finished the image of this process (or failed to).
      if (m.fields.ok !== '1') this.cfg.log(`${agent.prog}[${agent.pid}] could not write its image: ${m.fields.reason ?? 'no reason given'}`);
      this.run?.imageWritten(agent, m.fields);
      return true;
    }
    if (m.verb === 'EXEC') {
      // Same process, new program (the agent kept its connection across exec).
      if (m.fields.prog) agent.prog = m.fields.prog;
      this.cfg.log(`${agent.prog}[${agent.pid}] (${agent.id}) exec'd`);
      // Its id again when it asks: the exec came before the old program read its WELCOME.
      if (m.fields.welcome === '1') agent.send(encodeMessage('WELCOME', { v: PROTOCOL_VERSION, id: agent.id, gen: this.gen, interval: this.interval }));
      this.run?.resend(agent);
      return true;
    }
    if (m.verb === 'FORKED') {
      // Our child, which connects when it first matters (expected.ts), unless it already did.
      const pid = Number(m.fields.pid);
      if (!Number.isInteger(pid) || pid <= 0) return true;
      if (!this.registry.all().some((a) => a.rpid === pid && a.host === agent.host)) {
        // (a parent tells of the children it had not yet as it obeys KILL: they end too)
        this.expected.add({ pid, host: agent.host, parentId: agent.id, parentRpid: agent.rpid }, agent.killed === true);
      }
      return true;
    }
    if (m.verb === 'FAILED') {
      agent.state = 'FAILED';
      this.cfg.log(`${agent.prog}[${agent.pid}] failed barrier ${name}: ${m.fields.reason ?? 'no reason given'}`);
      this.run?.failed(agent, name, m.fields.reason ?? '');
      return true;
    }
    return false;
  }

  /** Commands being answered: --exit-on-last waits for them (kill and
   * kcheckpoint answer once the processes are gone). */
  private commandsRunning = 0;

  async answering<T>(command: () => Promise<T>): Promise<T> {
    this.commandsRunning++;
    try {
      return await command();
    } finally {
      this.commandsRunning--;
      this.exitIfLastLeft();
    }
  }

  private lastPoll?: NodeJS.Timeout;

  private exitIfLastLeft(): void {
    if (this.cfg.exitOnLast && this.registry.everConnected > 0 && this.registry.size === 0 && this.commandsRunning === 0) {
      // A child told of but not connected yet is still to come, or one not told of yet may.
      if (this.expected.prune() > 0 || this.orphansMayCome()) {
        if (!this.lastPoll) this.lastPoll = setTimeout(() => { this.lastPoll = undefined; this.exitIfLastLeft(); }, LAST_POLL_MS);
        return;
      }
      this.cfg.onShutdown('last process exited (--exit-on-last)');
    }
  }

  agentGone(agent: Agent): void {
    if (!this.registry.has(agent.id)) return;
    this.registry.remove(agent.id);
    this.lastDisconnect = Date.now();
    this.cfg.log(`${agent.prog}[${agent.pid}] (${agent.id}) disconnected (${this.registry.size} left)`);
    this.run?.disconnected(agent);
    if (this.registry.size === 0) {
      // the computation goes on in a child still to connect
      if (this.expected.prune() === 0) this.compId = undefined;
      this.exitIfLastLeft();
    }
  }
}
