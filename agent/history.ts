// ListMigrations: the journal's records as the coordinator's `ferry history` and `ferry status`
// read them, newest first, each with the time of every phase this host entered.
import { FerryError } from '../common/errors.ts';
import { JOURNAL_PHASE, ROLE } from '../common/wire.ts';
import type { ListMigrationsReply } from '../proto/gen/ferry/v1/ListMigrationsReply.ts';
import type { ListMigrationsRequest__Output as ListMigrationsRequest } from '../proto/gen/ferry/v1/ListMigrationsRequest.ts';
import type { MigrationEntry } from '../proto/gen/ferry/v1/MigrationEntry.ts';
import { validMigrationId, type Journal, type MigrationRecord } from './journal.ts';

export function migrationEntry(record: MigrationRecord): MigrationEntry {
  return {
    migrationId: record.id,
    role: ROLE.toWire(record.role),
    container: record.container,
    containerId: record.containerId,
    peer: record.peer,
    phase: JOURNAL_PHASE.toWire(record.phase),
    outcome: record.outcome ?? '',
    reason: record.reason ?? '',
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    phases: (record.phases ?? []).map((p) => ({ phase: JOURNAL_PHASE.toWire(p.phase), at: p.at })),
    ...(record.downtimeMs === undefined ? {} : { downtimeMs: record.downtimeMs }),
  };
}

export function listMigrations(journal: Journal, request: ListMigrationsRequest): ListMigrationsReply {
  if (request.migrationId) {
    if (!validMigrationId(request.migrationId)) throw new FerryError('BAD_REQUEST', `"${request.migrationId}" is not a valid migration ID`);
    const record = journal.get(request.migrationId);
    return { migrations: record ? [migrationEntry(record)] : [] };
  }
  const records = journal.list();
  return { migrations: (request.limit > 0 ? records.slice(0, request.limit) : records).map(migrationEntry) };
}
