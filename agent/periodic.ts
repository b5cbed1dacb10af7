// Work an agent does on its own every few seconds (settling migrations, keeping service
// addresses): now, then at each interval, never two rounds at once, and never keeping the
// process alive by itself.
export class Periodic {
  readonly #work: () => Promise<void>;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** The round under way, if any. */
  #round: Promise<void> | undefined;

  constructor(work: () => Promise<void>, intervalMs: number) {
    this.#work = work;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    void this.run();
    this.#timer = setInterval(() => void this.run(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One round now, unless one is under way: then that one. `work` handles its own errors. */
  run(): Promise<void> {
    this.#round ??= this.#work().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }
}
