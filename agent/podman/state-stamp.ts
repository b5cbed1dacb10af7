// Whether podman's container state may have changed since the last look, for the agent's own
// periodic checks: asking `podman ps` every two seconds costs a podman process each time, and on
// a quiet host nothing changes. podman writes every container's state change (created, started,
// exited, removed: conmon's clean-up included) to its database, so the database's size and time
// stand for the state. podman 4.3 keeps it in BoltDB (libpod/bolt_state.db), podman 5 in SQLite
// (db.sql and its write-ahead log); where neither is found, every look counts as a change.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { podmanStore } from './info.ts';
import type { Podman } from './podman.ts';

const DATABASES = ['libpod/bolt_state.db', 'db.sql', 'db.sql-wal'];

export class StateStamp {
  readonly #podman: Podman;
  #last: string | undefined;

  constructor(podman: Podman) {
    this.#podman = podman;
  }

  /**
   * Whether podman's state (and `extra`, what else the caller's answer depends on) changed since
   * the last call that said so. The first call, and any call that cannot read the database, say yes.
   */
  async changed(extra = ''): Promise<boolean> {
    const stamp = await this.#stamp();
    if (stamp === undefined) return true;
    const now = `${stamp}|${extra}`;
    if (now === this.#last) return false;
    this.#last = now;
    return true;
  }

  /** Forgets the last stamp: the next call says changed (after a look that failed). */
  reset(): void {
    this.#last = undefined;
  }

  async #stamp(): Promise<string | undefined> {
    const root = await podmanStore(this.#podman).then((store) => store.graphRoot, () => '');
    if (!root) return undefined;
    const parts = await Promise.all(DATABASES.map((file) => stat(join(root, file)).then((st) => `${file}:${st.size}:${st.mtimeMs}`, () => '')));
    const found = parts.filter(Boolean);
    return found.length ? found.join(',') : undefined;
  }
}
