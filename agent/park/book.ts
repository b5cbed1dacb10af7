// The record of every container parked on this host: one JSON file per container beside its
// checkpoint archive, under STATE/parked/. Apart from the migration journal because a park has
// no peer and no coordinator to settle with; like it, every phase change goes through one
// machine (common/phases.ts PARK) and every write goes through agent/durable.ts, so a reboot at
// any moment finds each record either as it was or as it became.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../common/errors.ts';
import { PARK, type ParkPhase } from '../../common/phases.ts';
import { writeDurably } from '../durable.ts';
import type { UnitRecord } from '../systemd/control.ts';
import type { PortMapping__Output as PortMapping } from '../../proto/gen/ferry/v1/PortMapping.ts';

export interface ParkRecord {
  id: string;
  container: string;
  containerId: string;
  phase: ParkPhase;
  /** The checkpoint, complete once the phase is parked (written beside as .partial until then). */
  archivePath: string;
  /** The validation hook's output before the checkpoint: the restored container's must equal it. */
  validation: string;
  ports: PortMapping[];
  /** When the park began; several containers parked together share it. */
  batch: string;
  createdAt: string;
  updatedAt: string;
  outcome?: string | undefined;
  /** Checkpointed with --file-locks (its processes held locks): restored with it too. */
  fileLocks?: boolean | undefined;
  /** The systemd unit that runs it: held (disabled) while parked, so that no boot starts a fresh copy first. */
  unit?: UnitRecord | undefined;
}

export class ParkBook {
  readonly dir: string;
  readonly #records = new Map<string, ParkRecord>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'parked');
  }

  async open(): Promise<ParkRecord[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const record = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as ParkRecord;
        this.#records.set(record.id, record);
      } catch {
        // A .json is only ever renamed into place whole; an unreadable one was never ours.
      }
    }
    return this.all();
  }

  all(): ParkRecord[] {
    return [...this.#records.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.container.localeCompare(b.container));
  }

  /** Records that still hold something: a container to bring back or a park under way. */
  unfinished(): ParkRecord[] {
    return this.all().filter((r) => !PARK.isTerminal(r.phase));
  }

  async create(fields: Pick<ParkRecord, 'container' | 'containerId' | 'batch' | 'ports'>): Promise<ParkRecord> {
    const id = `park-${fields.containerId.slice(0, 12)}-${randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const record: ParkRecord = { ...fields, id, phase: 'pending', archivePath: join(this.dir, `${id}.tar`), validation: '', createdAt: now, updatedAt: now };
    this.#records.set(id, record);
    await writeDurably(join(this.dir, `${id}.json`), JSON.stringify(record, null, 2));
    return record;
  }

  /** Every phase change goes through here, as PARK allows it. */
  async advance(id: string, phase: ParkPhase, changes: Partial<Omit<ParkRecord, 'id' | 'phase'>> = {}): Promise<ParkRecord> {
    const record = this.#records.get(id);
    if (!record) throw new FerryError('INTERNAL', `no park record ${id}`);
    PARK.check(record.phase, phase, `park ${id}`);
    const next = { ...record, ...changes, phase, updatedAt: new Date().toISOString() };
    this.#records.set(id, next);
    await writeDurably(join(this.dir, `${id}.json`), JSON.stringify(next, null, 2));
    return next;
  }

  /** A finished record and its archive go; what is left of a park is only ever what still matters. */
  async forget(id: string): Promise<void> {
    const record = this.#records.get(id);
    this.#records.delete(id);
    if (record) await rm(record.archivePath, { force: true });
    await rm(join(this.dir, `${id}.json`), { force: true });
  }
}
