/**
 * The clients of a coordinator: connected agents with what they told us at HELLO
 * and where they are in the checkpoint protocol.
 */
import * as net from 'net';

/** DMTCP-like worker states as shown by `list`. */
export type AgentState = 'RUNNING' | 'SUSPENDED' | 'CHECKPOINTED' | 'FAILED';

/** Plain data for status/list replies and JSON. */
export interface PeerInfo {
  /** Order of connection, 1-based, as shown by `list`. */
  num: number;
  id: string;
  prog: string;
  pid: number;
  rpid: number;
  ppid: number;
  host: string;
  state: AgentState;
  /** Generation of the image it restarted from (0 at launch). */
  gen: number;
}

/** A connected agent: its peer facts plus the live connection. */
export interface Agent extends PeerInfo {
  restarted: boolean;
  /** It was sent KILL: children it tells of from now on are ended as they join. */
  killed?: boolean;
  socket: net.Socket;
  send(line: string): void;
}

export class Registry {
  private agents = new Map<string, Agent>();
  private nextNum = 1;
  /** Agents ever seen: --exit-on-last waits for at least one. */
  everConnected = 0;

  add(a: Omit<Agent, 'num'>): Agent {
    const agent: Agent = { ...a, num: this.nextNum++ };
    this.agents.set(agent.id, agent);
    this.everConnected++;
    return agent;
  }

  remove(id: string): Agent | undefined {
    const a = this.agents.get(id);
    this.agents.delete(id);
    if (this.agents.size === 0) this.nextNum = 1;
    return a;
  }

  has(id: string): boolean {
    return this.agents.has(id);
  }

  get(id: string): Agent | undefined {
    return this.agents.get(id);
  }

  all(): Agent[] {
    return [...this.agents.values()].sort((a, b) => a.num - b.num);
  }

  get size(): number {
    return this.agents.size;
  }

  /** RUNNING=yes: there are peers and every one of them runs user code. */
  running(): boolean {
    return this.agents.size > 0 && this.all().every((a) => a.state === 'RUNNING');
  }

  info(): PeerInfo[] {
    return this.all().map((a) => ({
      num: a.num, id: a.id, prog: a.prog, pid: a.pid, rpid: a.rpid, ppid: a.ppid, host: a.host, state: a.state, gen: a.gen,
    }));
  }
}
