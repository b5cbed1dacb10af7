// Bind-mounted data in two rounds: round 0, the bulk, while the container runs (the pre-sync);
// round 1, after the freeze, only what changed since (and what changed while round 0 read it).
import type { Logger } from '../log.ts';
import { packEntries } from '../data/pack.ts';
import { delta, scan, type Entry, type Manifest } from '../data/scan.ts';
import type { Emit, Sender } from './sender.ts';

export class DataRounds {
  readonly #sender: Sender;
  readonly #paths: readonly string[];
  readonly #log: Logger;
  readonly #emit: Emit;
  /** What round 0 sent, and what changed while it was read; undefined: nothing sent yet. */
  #sent: Manifest | undefined;
  #dirty = new Set<string>();

  constructor(sender: Sender, paths: readonly string[], log: Logger, emit: Emit) {
    this.#sender = sender;
    this.#paths = paths;
    this.#log = log;
    this.#emit = emit;
  }

  /** Round 0, while the container runs; with `skip` (--no-presync) everything waits for round 1. */
  async presync(skip: boolean): Promise<void> {
    if (!this.#paths.length) return;
    if (skip) {
      this.#sent = new Map();
      return;
    }
    this.#sent = await scan(this.#paths);
    this.#dirty = await this.#send(0, [...this.#sent.values()], []);
  }

  /** Round 1, once CRIU is done and the data can no longer change: the difference. */
  async final(): Promise<void> {
    if (!this.#sent) return;
    const change = delta(this.#sent, await scan(this.#paths), this.#dirty);
    await this.#send(1, change.send, change.remove);
  }

  async #send(round: number, entries: Entry[], removals: string[]): Promise<Set<string>> {
    const started = performance.now();
    // A broken data stream is sent again whole: applying it twice gives the same tree.
    const { packed, dirty } = await this.#sender.again('data', async () => {
      const packed = packEntries(entries, removals, (entry) => this.#log.warn({ path: entry.path }, 'not a file, directory or link: skipped'));
      const sent = this.#sender.sendOnce('data', round, packed.stream).catch((error: unknown) => {
        packed.abort(error); // stop packing: its open file and its wait for room go too
        throw error;
      });
      const [, dirty] = await Promise.all([sent, packed.done]);
      return { packed, dirty };
    });
    this.#emit({
      dataSynced: {
        round,
        bytes: packed.contentBytes(),
        entries: entries.length,
        removed: removals.length,
        ms: Math.round(performance.now() - started),
        paths: [...this.#paths],
      },
    });
    return dirty;
  }
}
