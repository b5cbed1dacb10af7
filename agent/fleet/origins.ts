// Where the containers on this host came from when an evacuation brought them: ferry evacuate
// names the host it empties in each move's preflight, and the destination writes it down here
// once the move commits; ferry return asks every host for the containers of one origin and moves
// those still here back. Kept in STATE/origins.json (durable.ts), beside the journal, whose
// records end and are pruned, while an origin lasts until its container goes home.
//
// A container that moves on from here is marked with where it went (ferry return skips it and
// says so); one that goes back to its origin is forgotten; one removed by hand is found gone at
// the next look.
import { join } from 'node:path';
import type { OriginState } from '../../common/wire.ts';
import { readDurable, writeDurably } from '../durable.ts';

export interface OriginEntry {
  container: string;
  containerId: string;
  /** The host it was evacuated from. */
  origin: string;
  migrationId: string;
  arrivedAt: string;
  /** Set once it moved on from here to another host than its origin. */
  movedTo?: string | undefined;
  movedBy?: string | undefined;
}

export interface OriginView extends OriginEntry {
  state: OriginState;
  detail: string;
}

export class Origins {
  readonly #path: string;
  #entries: OriginEntry[] = [];
  /** Writes one after the other: the commits of a parallel evacuation land at once. */
  #writing: Promise<unknown> = Promise.resolve();

  constructor(stateDir: string) {
    this.#path = join(stateDir, 'origins.json');
  }

  async open(): Promise<void> {
    const saved = (await readDurable(this.#path)) as { entries?: unknown } | undefined;
    if (Array.isArray(saved?.entries)) this.#entries = saved.entries as OriginEntry[];
  }

  /** The container arrived here from an evacuation of `origin` (the destination's commit). */
  arrived(entry: Omit<OriginEntry, 'arrivedAt' | 'movedTo' | 'movedBy'>): Promise<void> {
    return this.#change((entries) => [...entries.filter((e) => e.containerId !== entry.containerId), { ...entry, arrivedAt: new Date().toISOString() }]);
  }

  /** The container left this host for `to` (the source's commit): home again, or moved on. */
  left(containerId: string, to: string, migrationId: string): Promise<void> {
    return this.#change((entries) => {
      const entry = entries.find((e) => e.containerId === containerId && !e.movedTo);
      if (!entry) return entries;
      if (entry.origin === to) return entries.filter((e) => e !== entry);
      return entries.map((e) => (e === entry ? { ...e, movedTo: to, movedBy: migrationId } : e));
    });
  }

  /**
   * The entries of `origin` (all when empty), each with what became of it; `exists` asks podman by
   * ID. `forgetEnded`: those no longer here are dropped once listed, so that they are said once.
   */
  async list(origin: string, exists: (containerId: string) => Promise<boolean>, forgetEnded = false): Promise<OriginView[]> {
    const chosen = this.#entries.filter((e) => !origin || e.origin === origin);
    const views = await Promise.all(
      chosen.map(async (e): Promise<OriginView> => {
        if (e.movedTo) return { ...e, state: 'moved', detail: `moved on to ${e.movedTo} by ${e.movedBy ?? 'a later migration'}` };
        return (await exists(e.containerId)) ? { ...e, state: 'here', detail: '' } : { ...e, state: 'gone', detail: 'it no longer exists here' };
      }),
    );
    const ended = new Set(views.filter((v) => v.state !== 'here').map((v) => v.containerId));
    // A container ID has one entry at most (arrived replaces it), so the IDs name the entries.
    if (forgetEnded && ended.size) await this.#change((entries) => entries.filter((e) => !ended.has(e.containerId)));
    return views;
  }

  #change(edit: (entries: OriginEntry[]) => OriginEntry[]): Promise<void> {
    const run = this.#writing.catch(() => undefined).then(async () => {
      const next = edit(this.#entries);
      await writeDurably(this.#path, `${JSON.stringify({ entries: next }, null, 2)}\n`);
      this.#entries = next;
    });
    this.#writing = run;
    return run;
  }
}
