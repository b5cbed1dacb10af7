// Work an agent does on its own every few seconds (settling migrations, keeping service
// addresses): now, then at each interval, never two rounds at once, and never keeping the
// process alive by itself.
export class Periodic {
  readonly #work: () => Promise<void>;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

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

  /** One round now, unless one is under way (then nothing). `work` handles its own errors. */
  async run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#work();
    } finally {
      this.#running = false;
    }
  }
}
