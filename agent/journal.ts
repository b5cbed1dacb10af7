// The agent's record of each migration it takes part in, one JSON file per migration in its
// state directory, rewritten atomically at every phase change. It is what lets Commit and
// Rollback be idempotent, and what an agent reads back after a restart. Finished records stay
// as the host's history (ferry history, ferry status), the newest HISTORY.keep of them.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../common/errors.ts';
import type { ReachableAgent } from '../common/dial.ts';
import { DESTINATION, IllegalPhaseChange, SOURCE } from '../common/phases.ts';
import type { DestinationRecord, JournalPhase, MigrationRecord, RecordChanges, SourceRecord } from './record.ts';
import { observePhaseChange } from './metrics/migrations.ts';
import { writeDurably } from './durable.ts';

export type { DestinationRecord, JournalPhase, MigrationRecord, PhaseEntry, Role, SourceRecord } from './record.ts';

/** A record as its creator gives it: the journal adds the times and the list of phases. */
export type NewRecord<R extends MigrationRecord> = Omit<R, 'createdAt' | 'updatedAt' | 'phases'>;

/**
 * Throws unless `record` may go to `to`, as its role's machine in common/phases.ts says
 * (IllegalPhaseChange). A phase of the other role is refused the same way.
 */
function checkPhaseChange(record: MigrationRecord, to: JournalPhase): void {
  const what = `migration ${record.id}`;
  if (record.role === 'source') {
    if (!SOURCE.has(to)) throw new IllegalPhaseChange(`${what}: a source journal has no phase ${to}`);
    SOURCE.check(record.phase, to, what);
  } else {
    if (!DESTINATION.has(to)) throw new IllegalPhaseChange(`${what}: a destination journal has no phase ${to}`);
    DESTINATION.check(record.phase, to, what);
  }
}

/**
 * How many finished records a journal keeps as history, and for how long at least: a peer that
 * comes back after a long outage still finds the end of a migration it asks about (an unknown
 * one reads as "the destination has no copy").
 */
export const HISTORY = { keep: 500, minAgeMs: 7 * 24 * 3600_000 };

/** The peer of a migration as a dialer reaches it: its agent, and SSH where that was given. */
export function peerRoute(record: MigrationRecord): ReachableAgent {
  return { name: record.peer, agent: record.peerAddress ?? '', ssh: record.peerSsh };
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validMigrationId(id: string): boolean {
  return ID.test(id);
}

/** Whether a migration has ended here, one way or the other. */
export function isOver(record: MigrationRecord): boolean {
  return record.phase === 'done' || record.phase === 'failed';
}

/** The source's archive may be whole at the destination: it resumes only once the destination holds no copy. */
export function mayBeWholeThere(record: MigrationRecord): boolean {
  return record.role === 'source' && (record.phase === 'sealed' || record.phase === 'sent');
}

/** A record as older agents wrote it: flags that stood for what phases and sub-states say now. */
type LegacyRecord = Omit<MigrationRecord, 'phase'> & { phase: string; sealed?: boolean; touched?: boolean; addressTaken?: boolean };

/** The archive, whole here and checked out: from phase received on (a rollback leads nowhere forward). */
export function archiveArrived(record: DestinationRecord): { bytes: number; sha256: string } | undefined {
  return DESTINATION.reached(record.phase, 'received') ? record.received : undefined;
}

/**
 * Journals written before the phases became explicit: the outcome string and the flags that
 * stood for sealed, sent and received, the destination's one phase for restored, `touched` (a
 * destination that bytes reached is in transfer) and `addressTaken` (the address sub-state).
 */
function upgrade(legacy: LegacyRecord): MigrationRecord {
  const { sealed, touched, addressTaken, ...record } = legacy;
  const legacySent = 'archive sent and verified by the destination';
  if (record.role === 'source') {
    if (record.phase === 'transfer' && record.outcome === legacySent) return { ...record, role: 'source', phase: 'sent', outcome: undefined } as SourceRecord;
    if (record.phase === 'transfer' && sealed) return { ...record, role: 'source', phase: 'sealed' } as SourceRecord;
    return record as SourceRecord;
  }
  const destination = { ...record, address: (record as DestinationRecord).address ?? (addressTaken ? 'taken' : undefined) } as DestinationRecord;
  if (destination.phase === 'transfer' && destination.received) return { ...destination, phase: 'received' };
  if ((record.phase as string) === 'verify') return { ...destination, phase: 'restored' };
  if (destination.phase === 'preflight' && touched) return { ...destination, phase: 'transfer' };
  return destination;
}

export class Journal {
  readonly dir: string;
  readonly #records = new Map<string, MigrationRecord>();
  /** The write of each record under way: writes of one record share a .tmp file, so they queue. */
  readonly #writing = new Map<string, Promise<void>>();

  readonly #history: typeof HISTORY;

  constructor(stateDir: string, history: Partial<typeof HISTORY> = {}) {
    this.dir = join(stateDir, 'migrations');
    this.#history = { ...HISTORY, ...history };
  }

  /** Loads every record on disk (after an agent restart). */
  async open(): Promise<MigrationRecord[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const record = upgrade(JSON.parse(await readFile(join(this.dir, name), 'utf8')) as LegacyRecord);
        this.#records.set(record.id, record);
      } catch {
        // A torn write from a crash: the .tmp rename never happened, so nothing is lost.
      }
    }
    await this.#prune();
    return [...this.#records.values()];
  }

  get(id: string): MigrationRecord | undefined {
    return this.#records.get(id);
  }

  require(id: string): MigrationRecord {
    if (!validMigrationId(id)) throw new FerryError('BAD_REQUEST', `"${id}" is not a valid migration ID`);
    const record = this.#records.get(id);
    if (!record) throw new FerryError('MIGRATION_UNKNOWN', `no migration "${id}" on this host`);
    return record;
  }

  /** The migration's record, which must be this host's as its destination. */
  destination(id: string): DestinationRecord {
    const record = this.require(id);
    if (record.role !== 'destination') throw new FerryError('BAD_REQUEST', `migration ${id} is not received on this host: it is the source here`);
    return record;
  }

  /** The migration's record, which must be this host's as its source. */
  source(id: string): SourceRecord {
    const record = this.require(id);
    if (record.role !== 'source') throw new FerryError('BAD_REQUEST', `migration ${id} is not sent from this host: it is the destination here`);
    return record;
  }

  active(): MigrationRecord[] {
    return [...this.#records.values()].filter((r) => !isOver(r));
  }

  /** Every record, under way and finished, newest first. */
  list(): MigrationRecord[] {
    return [...this.#records.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  async create<R extends MigrationRecord>(record: NewRecord<R>): Promise<R> {
    if (this.#records.has(record.id)) {
      throw new FerryError('BAD_REQUEST', `migration "${record.id}" already exists on this host`);
    }
    const first = (record.role === 'source' ? SOURCE : DESTINATION).phases[0];
    if (record.phase !== first) throw new FerryError('INTERNAL', `a ${record.role} journal begins in phase ${first}, not ${record.phase}`);
    const now = new Date().toISOString();
    const full = { ...record, phases: [{ phase: record.phase, at: now }], createdAt: now, updatedAt: now } as R;
    this.#records.set(full.id, full);
    await this.#write(full);
    return full;
  }

  /**
   * Every phase change of a journal goes through here: the role's machine in common/phases.ts
   * says whether it may happen, and an illegal one throws (IllegalPhaseChange) with nothing written.
   */
  async advance<R extends MigrationRecord>(record: R, phase: R['phase'], changes?: RecordChanges<R>): Promise<R> {
    const current = this.#current(record);
    checkPhaseChange(current, phase);
    const at = new Date().toISOString();
    const phases = [...(current.phases ?? []), { phase, at }];
    const reason = phase === 'rollback' ? { reason: changes?.outcome } : {};
    const saved = await this.#save(current, { ...changes, ...reason, phase, phases }, at);
    observePhaseChange(current, saved);
    if (isOver(saved)) await this.#prune();
    return saved;
  }

  /** Changes what the record says, never its phase (that is advance's). */
  update<R extends MigrationRecord>(record: R, changes: RecordChanges<R>): Promise<R> {
    return this.#save(this.#current(record), changes);
  }

  /** The journal's own copy of `record` (the caller's may be older), of the same role. */
  #current<R extends MigrationRecord>(record: R): R {
    const current = this.require(record.id);
    if (current.role !== record.role) throw new FerryError('INTERNAL', `migration ${record.id} is the ${current.role}'s here, not the ${record.role}'s`);
    return current as R;
  }

  /** `changes` were typed by the caller (advance, update) against the record's role. */
  async #save<R extends MigrationRecord>(current: R, changes: object, at = new Date().toISOString()): Promise<R> {
    const record = { ...current, ...changes, updatedAt: at } as R;
    this.#records.set(record.id, record);
    await this.#write(record);
    return record;
  }

  async forget(id: string): Promise<void> {
    this.#records.delete(id);
    await this.#writing.get(id)?.catch(() => undefined); // a queued write would bring the file back
    await rm(join(this.dir, `${id}.json`), { force: true });
  }

  /** Finished records past the newest HISTORY.keep, and older than HISTORY.minAgeMs, go. */
  async #prune(): Promise<void> {
    const finished = [...this.#records.values()].filter(isOver).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    const before = Date.now() - this.#history.minAgeMs;
    for (const record of finished.slice(this.#history.keep)) {
      if (Date.parse(record.updatedAt) < before) await this.forget(record.id);
    }
  }

  /**
   * Two updates of one migration may come at once (the archive and a data round landing
   * together): each waits for the write before it and then writes the record as it is by then,
   * so the file always ends with the last update and no write finds its .tmp file renamed away.
   */
  #write(record: MigrationRecord): Promise<void> {
    const id = record.id;
    const before = this.#writing.get(id) ?? Promise.resolve();
    const write = before
      .catch(() => undefined) // that update's caller hears of its failure; this one tries anew
      .then(async () => {
        const current = this.#records.get(id);
        if (!current) return; // forgotten meanwhile
        const path = join(this.dir, `${id}.json`);
        await writeDurably(path, JSON.stringify(current, null, 2));
      });
    this.#writing.set(id, write);
    const settle = () => {
      if (this.#writing.get(id) === write) this.#writing.delete(id);
    };
    write.then(settle, settle);
    return write;
  }
}
