// What an agent holds in memory of the migrations it works on right now, beside their journal:
// which are busy (the reconciler leaves those alone), one commit or rollback of each at a time,
// what has arrived of each (a destination's inbox), its restore under way, the signal that cuts
// its streams, and which of its streams are open. It all goes with the agent; after a restart the
// journal and the disk say again what arrived (inboxFor).
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../common/errors.ts';
import type { Grants } from './dataplane/grants.ts';
import { Inbox } from './destination/inbox.ts';
import type { Restoring } from './destination/restore-call.ts';
import type { MigrationRecord } from './journal.ts';

export class InFlight {
  /** Calls and streams at work on each migration: the reconciler leaves those with any alone. */
  readonly #busy = new Map<string, number>();
  /** The last commit or rollback of each migration, which the next one waits for. */
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Destination: what has arrived of each migration, for the restore that follows it. */
  readonly #inboxes = new Map<string, Inbox>();
  /** Destination: restores under way, so that a rollback can stop one before undoing it. */
  readonly restoring: Restoring = new Map();
  /** Aborted when a migration is rolled back here: its open streams are cut. */
  readonly #cancels = new Map<string, AbortController>();
  /** Streams open right now, as `migration:kind`: a resumed stream waits for its predecessor to be gone. */
  readonly openStreams = new Set<string>();

  isBusy(id: string): boolean {
    return (this.#busy.get(id) ?? 0) > 0;
  }

  enter(id: string): void {
    this.#busy.set(id, (this.#busy.get(id) ?? 0) + 1);
  }

  leave(id: string): void {
    const left = (this.#busy.get(id) ?? 1) - 1;
    if (left) this.#busy.set(id, left);
    else this.#busy.delete(id);
  }

  /** Marks the migration busy while `work` runs. */
  async track<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.enter(id);
    try {
      return await work();
    } finally {
      this.leave(id);
    }
  }

  /** Runs one commit or rollback of a migration at a time: the coordinator and the reconciler may both try. */
  serialize<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const settled = next.catch(() => undefined);
    this.#locks.set(id, settled);
    void settled.then(() => {
      if (this.#locks.get(id) === settled) this.#locks.delete(id);
    });
    return next;
  }

  inboxFor(record: MigrationRecord): Inbox {
    let inbox = this.#inboxes.get(record.id);
    if (!inbox) {
      // After a restart: what the journal and the disk say has arrived.
      const received = record.role === 'destination' ? record : undefined;
      inbox = new Inbox({
        verified: received?.received && { ...received.received, at: performance.now() },
        dataRound: received?.dataRound ?? -1,
        pages: received?.pagesReceived,
      });
      this.#inboxes.set(record.id, inbox);
      void stat(record.archivePath).then(
        (st) => inbox?.written || inbox?.wrote(st.size),
        () => undefined,
      );
    }
    return inbox;
  }

  cancelled(id: string): AbortSignal {
    let controller = this.#cancels.get(id);
    if (!controller) {
      controller = new AbortController();
      this.#cancels.set(id, controller);
    }
    return controller.signal;
  }

  /** Destination: cut the migration's streams, stop its restore, and wait for both to be gone. */
  async stopReceiving(id: string, grants: Grants, host: string): Promise<void> {
    const stopped = new FerryError('CANCELLED', `migration ${id} was rolled back on ${host}`, { phase: 'rollback' });
    grants.revoke(id);
    this.#inboxes.get(id)?.fail(stopped);
    this.cancelled(id);
    this.#cancels.get(id)?.abort(stopped);
    const restoring = this.restoring.get(id);
    restoring?.controller.abort(stopped);
    await restoring?.done.catch(() => undefined);
    // A cut stream leaves once its socket closed; 5 s at most, then the rollback goes on anyway.
    for (let i = 0; i < 100 && [...this.openStreams].some((key) => key.startsWith(`${id}:`)); i += 1) await sleep(50);
  }

  /** The migration is over here: what was kept for it goes. */
  over(id: string): void {
    this.#inboxes.delete(id);
    this.#cancels.delete(id);
  }
}
