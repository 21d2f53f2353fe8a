/** The automatic checkpoint timer (--interval, DMTCP_CHECKPOINT_INTERVAL, `dmtcp_command -i`). */

export class IntervalTimer {
  private timer?: NodeJS.Timeout;
  private seconds = 0;

  constructor(private fire: () => void) {}

  get value(): number {
    return this.seconds;
  }

  /** Re-arm with a new period; 0 turns automatic checkpoints off. */
  set(seconds: number): void {
    this.stop();
    this.seconds = seconds;
    if (seconds > 0) {
      this.timer = setInterval(() => this.fire(), seconds * 1000);
      // The timer alone must not keep a closing coordinator alive.
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
