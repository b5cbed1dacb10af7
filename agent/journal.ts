// The agent's record of each migration it takes part in, one JSON file per migration in its
// state directory, rewritten atomically at every phase change. It is what lets Commit and
// Rollback be idempotent, and what an agent reads back after a restart. Finished records stay
// as the host's history (ferry history, ferry status), the newest HISTORY.keep of them.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../common/errors.ts';
import type { ReachableAgent } from '../common/dial.ts';
import { DESTINATION, SOURCE, type DestinationPhase, type SourcePhase } from '../common/phases.ts';
import type { Flow__Output as Flow } from '../proto/gen/ferry/v1/Flow.ts';
import type { PortMapping__Output as PortMapping } from '../proto/gen/ferry/v1/PortMapping.ts';
import { observePhaseChange } from './metrics/migrations.ts';
import type { UnitRecord } from './systemd/control.ts';
import { writeDurably } from './durable.ts';

export type Role = 'source' | 'destination';
export type JournalPhase = SourcePhase | DestinationPhase;

/** Each role's phases, and which may follow which (common/phases.ts). */
const MACHINES = { source: SOURCE, destination: DESTINATION } as const;

export interface MigrationRecord {
  id: string;
  role: Role;
  /** Container name and ID as the source knows them. */
  container: string;
  containerId: string;
  /** The other host of the migration, and its agent's address. */
  peer: string;
  peerAddress?: string | undefined;
  /** The SSH login that reaches the peer when its agent port does not answer (no key: this agent's own). */
  peerSsh?: { host: string; port: number; user: string } | undefined;
  /** The peer host's own address, where its published ports answer (peerAddress's host when absent). */
  peerHostAddress?: string | undefined;
  phase: JournalPhase;
  archivePath: string;
  /** Whether this side has changed anything a rollback must undo. */
  touched: boolean;
  createdAt: string;
  updatedAt: string;
  /** Destination: the host an evacuation moves the container from (ferry evacuate); its origin once committed. */
  evacuatedFrom?: string | undefined;
  /** Destination: the archive must arrive before this time. */
  expiresAt?: string | undefined;
  outcome?: string | undefined;
  /** Destination: the bind-mount paths this migration may write (its grant), and what it did with them. */
  dataPaths?: string[] | undefined;
  promoted?: string[] | undefined;
  needsImage?: boolean | undefined;
  /** Destination: the whole archive arrived and checked out (phase received and after). */
  received?: { bytes: number; sha256: string } | undefined;
  /** Destination: the last round of bind-mounted data fully in staging. */
  dataRound?: number | undefined;
  /** The container's service address (io.ferry.service-address), when it has one. */
  serviceAddress?: string | undefined;
  /**
   * The flows of the service address: on the source, those it gave up at the freeze (a rollback
   * recreates them); on the destination, those it recreated (a rollback forgets them).
   */
  flows?: Flow[] | undefined;
  /** Destination: this host took the service address for the migration (a rollback gives it up). */
  addressTaken?: boolean | undefined;
  /** Destination: the restored container's published ports, checked before it counts as verified. */
  ports?: PortMapping[] | undefined;
  /**
   * Destination: this host cannot hold the container's IP and the migration allows a new one
   * (--new-address): podman restores it with an IP of this host's network, its TCP connections closed.
   */
  newAddress?: boolean | undefined;
  /** The checkpoint was made with --file-locks: every restore of it (the destination's, the source's rollback) needs the flag too. */
  fileLocks?: boolean | undefined;
  /**
   * Source: the container's directory, whose memory pages Ferry's CRIU action script moves aside
   * for this checkpoint (source/pages.ts); a rollback moves them back before restoring.
   */
  pagesDir?: string | undefined;
  /**
   * Source: the container runs with --rm, so podman removes it once its checkpoint is exported;
   * a rollback then restores it from the archive kept here (which carries its pages).
   */
  autoRemove?: boolean | undefined;
  /**
   * The systemd unit that runs the container (systemd/control.ts). Source: held from before the
   * freeze until the move is settled. Destination: installed and running it after the commit.
   */
  unit?: UnitRecord | undefined;
  /** Destination: where the pages stream lands, and its size and SHA-256 once whole and checked. */
  pagesPath?: string | undefined;
  pagesReceived?: { bytes: number; sha256: string } | undefined;
  /**
   * Every phase this host entered, with when: phase durations for the metrics, and `ferry status`.
   * Absent in records written before it was kept.
   */
  phases?: PhaseEntry[] | undefined;
  /** Why the migration was rolled back here: the outcome it entered rollback with (the outcome then says what the rollback did). */
  reason?: string | undefined;
  /** How long the service was gone, as the coordinator measured it and passed it in Commit. */
  downtimeMs?: number | undefined;
}

export interface PhaseEntry {
  phase: JournalPhase;
  /** ISO 8601. */
  at: string;
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
