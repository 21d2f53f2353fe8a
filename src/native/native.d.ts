/** The whole surface of the Node addon (native/addon/addon.cc). */
export interface ExecOptions {
  /** Program to run (ignored when fd is given). */
  path?: string;
  /** Run the executable open at this descriptor (execveat with AT_EMPTY_PATH). */
  fd?: number;
  argv: string[];
  env: string[];
  /** Exec with ADDR_NO_RANDOMIZE (the restorer needs an exact brk). */
  noRandomize?: boolean;
}

/** startService: the resident encoder, detached (see native/common/encoder_service.h). */
export interface ServiceStartOptions {
  path: string;
  argv: string[];
  env: string[];
  /** Where the presence pipe's write end is left in this process (inherited by exec). */
  presenceFd: number;
}

/** One checkpoint's request, as the agent sent it. */
export interface ServiceRequest {
  /** The encoder's arguments (as for encoder-main). */
  args: string[];
  /** The read end of the pipe the raw capture stream arrives on (close-on-exec). */
  fd: number;
}

/** fillPlan: the chunks to copy into a restore plan (src/image/plan.ts). */
export interface PlanFillOptions {
  /** The image, open for reading. */
  imageFd: number;
  /** The plan, open for writing. */
  planFd: number;
  /** The image is gzip members (needs planFillGzip()); else raw. */
  gzip: boolean;
  /**
   * Six numbers per chunk, in chunk order: its file offset, its stored length
   * (the member's; the length again for raw), its length, its XXH64, where in
   * the plan its bytes go, and flags: 1, the restorer reads this gzip chunk
   * from the image's stored blocks (full 65535-byte blocks but the last):
   * check that layout and the XXH64, write nothing.
   */
  jobs: BigUint64Array;
  /** Threads that fill at once. */
  threads: number;
}

/** The lowest-numbered chunk fillPlan could not copy, and why. */
export interface PlanFillFailure {
  /** Its position in the jobs (not the chunk's index in the image). */
  index: number;
  /** read: the file; member: not our DMTCPDAT member of those lengths; layout: not the stored blocks
   * flag 1 said; corrupt: bad deflate data, CRC or ISIZE; length: inflates to another length (detail:
   * that length); checksum: XXH64; write: the plan. */
  kind: 'read' | 'member' | 'layout' | 'corrupt' | 'length' | 'checksum' | 'write';
  detail: string;
}

export interface NativeAddon {
  /** Replaces this process; returns only by throwing (an Error with `errno`). */
  exec(options: ExecOptions): never;
  /** An anonymous, close-on-exec file (memfd_create). */
  memfdCreate(name: string): number;
  /** Clear (true) or set (false) FD_CLOEXEC on fd. */
  setInheritable(fd: number, yes: boolean): void;

  /** Starts the resident encoder outside this process tree; returns its pid. */
  startService(options: ServiceStartOptions): number;
  /** A listening Unix stream socket at `path` (close-on-exec). */
  listenUnix(path: string): number;
  /** Blocks until a client connects; -1 once the listener was shut down. */
  acceptConnection(listenFd: number): number;
  /** Wakes every thread blocked in acceptConnection(listenFd). */
  shutdownListener(listenFd: number): void;
  /** Reads one request (and its pipe) from a connection; throws on a bad one. */
  receiveRequest(connFd: number): ServiceRequest;
  /** Sends `text` on a connection with `fd` attached (SCM_RIGHTS); throws unless all of it went. */
  sendWithFd(options: { conn: number; text: string; fd: number }): void;
  /** Closes a descriptor this addon handed out (accepted or received). */
  closeFd(fd: number): void;
  /** "isa-l" when gzipMemberBody can run (ISA-L found at run time), else "" (deflate with node:zlib). */
  gzipEngine(): string;
  /** Bytes gzipMemberBody's output buffer needs for `len` input bytes (stored blocks and footer). */
  storedMemberBound(len: number): number;
  /**
   * On the thread pool: the body of one gzip member for `input` (raw deflate
   * data, level 1 or, when `stored` or no smaller, stored blocks; then CRC32
   * and ISIZE) into `out`; `cb` gets its length. `input` must not move or
   * change until then.
   */
  gzipMemberBody(input: Uint8Array, stored: boolean, out: Buffer, cb: (err: Error | null, bytes: number) => void): void;
  /**
   * Off Node's threads: reads, inflates, verifies and writes every job's
   * chunk (native/addon/plan_fill.cc); `cb` gets the lowest-numbered failure,
   * or null when every chunk is in the plan.
   */
  fillPlan(options: PlanFillOptions, cb: (err: Error | null, failure: PlanFillFailure | null) => void): void;
  /** Whether fillPlan reads gzip images here (ISA-L found at run time). */
  planFillGzip(): boolean;
}
