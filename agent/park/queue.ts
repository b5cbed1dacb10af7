// One park or unpark at a time on a host: both walk its containers, and a second would find the
// first's half-done checkpoints. Each waits for the one before it, whatever that one's end.
import type { ParkResult } from './park.ts';

export class ParkQueue {
  #last: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  /** Whether a park or unpark is under way or waiting (the agent's drain waits for it). */
  get busy(): boolean {
    return this.#waiting > 0;
  }

  run(work: () => Promise<ParkResult[]>): Promise<ParkResult[]> {
    this.#waiting += 1;
    const run = this.#last
      .catch(() => undefined)
      .then(work)
      .finally(() => {
        this.#waiting -= 1;
      });
    this.#last = run;
    return run;
  }
}
