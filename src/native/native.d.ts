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

export interface NativeAddon {
  /** Replaces this process; returns only by throwing (an Error with `errno`). */
  exec(options: ExecOptions): never;
  /** An anonymous, close-on-exec file (memfd_create). */
  memfdCreate(name: string): number;
  /** Clear (true) or set (false) FD_CLOEXEC on fd. */
  setInheritable(fd: number, yes: boolean): void;
}
