// Whether this host is cordoned: placement keeps away from it (ferry evacuate, ferry return
// choose other hosts) and it refuses to receive a migration unless the coordinator forces it.
// Kept by the agent, in STATE/cordon.json, so that every coordinator sees it and a reboot (the
// usual reason to cordon a host) keeps it.
import { join } from 'node:path';
import type { CordonState } from '../../common/cordon.ts';
import { readDurable, writeDurably } from '../durable.ts';

const OPEN: CordonState = { cordoned: false, reason: '', since: '' };

export class Cordon {
  readonly #path: string;
  #state: CordonState = OPEN;

  constructor(stateDir: string) {
    this.#path = join(stateDir, 'cordon.json');
  }

  async open(): Promise<void> {
    const saved = (await readDurable(this.#path)) as Partial<CordonState> | undefined;
    if (saved) this.#state = { cordoned: saved.cordoned === true, reason: String(saved.reason ?? ''), since: String(saved.since ?? '') };
  }

  get state(): CordonState {
    return this.#state;
  }

  /** Cordons or uncordons; cordoning again keeps the first `since` and takes the new reason. */
  async set(cordoned: boolean, reason: string): Promise<CordonState> {
    const next: CordonState = cordoned
      ? { cordoned, reason: reason.trim(), since: this.#state.cordoned ? this.#state.since : new Date().toISOString() }
      : OPEN;
    await writeDurably(this.#path, `${JSON.stringify(next, null, 2)}\n`);
    this.#state = next;
    return next;
  }
}
