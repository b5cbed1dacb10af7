// The agent's record of each migration it takes part in, one JSON file per migration in its
// state directory, rewritten atomically at every phase change. It is what lets Commit and
// Rollback be idempotent, and what an agent reads back after a restart.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../common/errors.ts';
import { isTerminal, PHASES, type Phase } from '../common/phases.ts';

export type Role = 'source' | 'destination';

export interface MigrationRecord {
  id: string;
  role: Role;
  /** Container name and ID as the source knows them. */
  container: string;
  containerId: string;
  /** The other host of the migration, and its agent's address. */
  peer: string;
  peerAddress?: string | undefined;
  phase: Phase;
  archivePath: string;
  /** Whether this side has changed anything a rollback must undo. */
  touched: boolean;
  createdAt: string;
  updatedAt: string;
  /** Destination: the archive must arrive before this time. */
  expiresAt?: string | undefined;
  outcome?: string | undefined;
  /** Destination: the bind-mount paths this migration may write (its grant), and what it did with them. */
  dataPaths?: string[] | undefined;
  promoted?: string[] | undefined;
  needsImage?: boolean | undefined;
  /**
   * Source: the end of the archive stream went out, so the destination may hold the whole
   * archive and restore it. From then on the source resumes only once the destination says it
   * holds no copy.
   */
  sealed?: boolean | undefined;
  /** Destination: the whole archive arrived and checked out. */
  received?: { bytes: number; sha256: string } | undefined;
  /** Destination: the last round of bind-mounted data fully in staging. */
  dataRound?: number | undefined;
}

/** The source's record stays in phase transfer until commit; this outcome marks the archive delivered. */
export const SENT_OUTCOME = 'archive sent and verified by the destination';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validMigrationId(id: string): boolean {
  return ID.test(id);
}

const order = (phase: Phase) => PHASES.indexOf(phase);

/**
 * One agent sees only part of a migration (the destination has no checkpoint phase, the source
 * no restore), so its journal may skip ahead along preflight..commit, but never goes back; what
 * has not begun committing can be rolled back; done follows commit, failed follows rollback.
 */
export function journalMayMove(from: Phase, to: Phase): boolean {
  if (isTerminal(from)) return false;
  if (to === 'rollback') return order(from) < order('commit');
  if (to === 'failed') return from === 'rollback';
  if (to === 'done') return from === 'commit';
  return from !== 'rollback' && order(to) > order(from) && order(to) <= order('commit');
}

export class Journal {
  readonly dir: string;
  readonly #records = new Map<string, MigrationRecord>();
  /** The write of each record under way: writes of one record share a .tmp file, so they queue. */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'migrations');
  }

  /** Loads every record on disk (after an agent restart). */
  async open(): Promise<MigrationRecord[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const record = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as MigrationRecord;
        this.#records.set(record.id, record);
      } catch {
        // A torn write from a crash: the .tmp rename never happened, so nothing is lost.
      }
    }
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
    return [...this.#records.values()].filter((r) => !isTerminal(r.phase));
  }

  async create(record: Omit<MigrationRecord, 'createdAt' | 'updatedAt'>): Promise<MigrationRecord> {
    if (this.#records.has(record.id)) {
      throw new FerryError('BAD_REQUEST', `migration "${record.id}" already exists on this host`);
    }
    const now = new Date().toISOString();
    const full = { ...record, createdAt: now, updatedAt: now };
    this.#records.set(full.id, full);
    await this.#write(full);
    return full;
  }

  /** Moves a migration to its next phase; the table in common/phases.ts says which are allowed. */
  async advance(id: string, phase: Phase, changes: Partial<MigrationRecord> = {}): Promise<MigrationRecord> {
    const record = this.require(id);
    if (record.phase !== phase && !journalMayMove(record.phase, phase)) {
      throw new FerryError('BAD_REQUEST', `migration "${id}" is in phase ${record.phase} and cannot go to ${phase}`);
    }
    return this.update(id, { ...changes, phase });
  }

  async update(id: string, changes: Partial<MigrationRecord>): Promise<MigrationRecord> {
    const record = { ...this.require(id), ...changes, updatedAt: new Date().toISOString() };
    this.#records.set(id, record);
    await this.#write(record);
    return record;
  }

  async forget(id: string): Promise<void> {
    this.#records.delete(id);
    await this.#writing.get(id)?.catch(() => undefined); // a queued write would bring the file back
    await rm(join(this.dir, `${id}.json`), { force: true });
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
        await writeFile(`${path}.tmp`, JSON.stringify(current, null, 2), { mode: 0o600 });
        await rename(`${path}.tmp`, path);
      });
    this.#writing.set(id, write);
    const settle = () => {
      if (this.#writing.get(id) === write) this.#writing.delete(id);
    };
    write.then(settle, settle);
    return write;
  }
}
