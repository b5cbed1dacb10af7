// The agent's record of each migration it takes part in, one JSON file per migration in its
// state directory, rewritten atomically at every phase change. It is what lets Commit and
// Rollback be idempotent, and what an agent reads back after a restart. Finished records stay
// as the host's history (ferry history, ferry status), the newest HISTORY.keep of them.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../common/errors.ts';
import type { ReachableAgent } from '../common/dial.ts';
import { DESTINATION, SOURCE } from '../common/phases.ts';
import type { JournalPhase, MigrationRecord } from './record.ts';
import { observePhaseChange } from './metrics/migrations.ts';
import { writeDurably } from './durable.ts';

export type { JournalPhase, MigrationRecord, PhaseEntry, Role } from './record.ts';

/** Each role's phases, and which may follow which (common/phases.ts). */
const MACHINES = { source: SOURCE, destination: DESTINATION } as const;

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

/**
 * Journals written before the phases became explicit: the outcome string and the flags that
 * stood for sealed, sent and received, and the destination's one phase for restored.
 */
function upgrade(record: Omit<MigrationRecord, 'phase'> & { phase: string; sealed?: boolean }): MigrationRecord {
  const legacySent = 'archive sent and verified by the destination';
  if (record.role === 'source' && record.phase === 'transfer') {
    if (record.outcome === legacySent) return { ...record, phase: 'sent', outcome: undefined };
    if (record.sealed) return { ...record, phase: 'sealed' };
  }
  if (record.role === 'destination' && record.phase === 'transfer' && record.received) return { ...record, phase: 'received' };
  if (record.role === 'destination' && record.phase === 'verify') return { ...record, phase: 'restored' };
  return record as MigrationRecord;
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
        const record = upgrade(JSON.parse(await readFile(join(this.dir, name), 'utf8')) as MigrationRecord & { sealed?: boolean });
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

  active(): MigrationRecord[] {
    return [...this.#records.values()].filter((r) => !isOver(r));
  }

  /** Every record, under way and finished, newest first. */
  list(): MigrationRecord[] {
    return [...this.#records.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  async create(record: Omit<MigrationRecord, 'createdAt' | 'updatedAt'>): Promise<MigrationRecord> {
    if (this.#records.has(record.id)) {
      throw new FerryError('BAD_REQUEST', `migration "${record.id}" already exists on this host`);
    }
    const first = MACHINES[record.role].phases[0];
    MACHINES[record.role].check(first as never, record.phase as never, `migration ${record.id}`);
    if (record.phase !== first) throw new FerryError('INTERNAL', `a ${record.role} journal begins in phase ${first}, not ${record.phase}`);
    const now = new Date().toISOString();
    const full = { ...record, phases: [{ phase: record.phase, at: now }], createdAt: now, updatedAt: now };
    this.#records.set(full.id, full);
    await this.#write(full);
    return full;
  }

  /**
   * Every phase change of a journal goes through here: the role's machine in common/phases.ts
   * says whether it may happen, and an illegal one throws (IllegalPhaseChange) with nothing written.
   */
  async advance(id: string, phase: JournalPhase, changes: Omit<Partial<MigrationRecord>, 'phase'> = {}): Promise<MigrationRecord> {
    const record = this.require(id);
    MACHINES[record.role].check(record.phase as never, phase as never, `migration ${id}`);
    const at = new Date().toISOString();
    const phases = [...(record.phases ?? []), { phase, at }];
    const reason = phase === 'rollback' ? { reason: changes.outcome } : {};
    const saved = await this.#save(id, { ...changes, ...reason, phase, phases }, at);
    observePhaseChange(record, saved);
    if (isOver(saved)) await this.#prune();
    return saved;
  }

  /** Changes what the record says, never its phase (that is advance's). */
  update(id: string, changes: Omit<Partial<MigrationRecord>, 'phase'>): Promise<MigrationRecord> {
    return this.#save(id, changes);
  }

  async #save(id: string, changes: Partial<MigrationRecord>, at = new Date().toISOString()): Promise<MigrationRecord> {
    const record = { ...this.require(id), ...changes, updatedAt: at };
    this.#records.set(id, record);
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
