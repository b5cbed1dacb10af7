// The Restore call on the destination: which migrations may be restored here and now, one restore
// of each at a time (a rollback stops it through `restoring`), the journal's restored phase once
// podman is done, and the undoing of a restore that failed after podman had the whole archive.
// The restore itself is restore.ts.
import { FerryError } from '../../common/errors.ts';
import type { MigrationRecord } from '../journal.ts';
import type { HostContext } from '../context.ts';
import type { Inbox } from './inbox.ts';
import { restoreArchive, type RestoreOutcome } from './restore.ts';

/** Restores under way here, so that a rollback can stop one before undoing it. */
export type Restoring = Map<string, { controller: AbortController; done: Promise<unknown> }>;

export interface RestoreCallContext extends HostContext {
  restoring: Restoring;
  inbox: (record: MigrationRecord) => Inbox;
  rollback: (migrationId: string, reason: string) => Promise<unknown>;
}

export interface RestoreRequest {
  migrationId: string;
  expectedValidation: string;
  timeoutMs: number;
  fileLocks: boolean;
}

export async function restoreCall(ctx: RestoreCallContext, request: RestoreRequest, signal: AbortSignal): Promise<RestoreOutcome> {
  const { migrationId, fileLocks } = request;
  const record = ctx.journal.require(migrationId);
  if (record.role === 'destination' && record.phase === 'failed') {
    // Rolled back here meanwhile, by this agent's recovery (it restarted while it restored,
    // and removed what the cut-off restore made) or by the source's word: not the caller's mistake.
    throw new FerryError('RESTORE_FAILED', `migration ${migrationId} was rolled back on ${ctx.host} before its restore finished: ${record.outcome ?? 'no reason kept'}`, {
      phase: 'restore',
      hint: 'The source resumes the container; run the migration again.',
    });
  }
  if (record.role !== 'destination' || !['preflight', 'transfer', 'received'].includes(record.phase)) {
    throw new FerryError('BAD_REQUEST', `migration ${migrationId} has no archive to restore here (phase ${record.phase})`, { phase: 'restore' });
  }
  if (ctx.restoring.has(migrationId)) {
    throw new FerryError('MIGRATION_BUSY', `a restore of migration ${migrationId} is already under way here`, { phase: 'restore' });
  }
  const controller = new AbortController();
  if (fileLocks) await ctx.journal.update(record, { fileLocks });
  const options = { expectedValidation: request.expectedValidation, timeoutMs: request.timeoutMs > 0 ? request.timeoutMs : undefined, fileLocks };
  const done = restoreArchive({ ...ctx, inbox: ctx.inbox(record) }, record, options, AbortSignal.any([signal, controller.signal]));
  ctx.restoring.set(migrationId, { controller, done });
  try {
    const outcome = await done;
    // Restored, not yet verified: the move is finished only once its ports were seen answering.
    await ctx.journal.advance(record, 'restored', { ports: outcome.container.ports });
    return outcome;
  } catch (error) {
    const failure = FerryError.from(error, { phase: 'restore', host: ctx.host });
    if (ctx.journal.get(migrationId)?.phase === 'restore') {
      // podman had the whole archive and the restore failed anyway (or was cut off): what it
      // made here goes now, so that the source, told so, may resume. Nobody needs to come back for it.
      await ctx.rollback(migrationId, `${failure.code}: ${failure.message}`).catch((rollbackError: unknown) =>
        ctx.log.error({ migrationId, err: FerryError.from(rollbackError).message }, 'could not undo the failed restore'),
      );
    }
    throw failure;
  } finally {
    ctx.restoring.delete(migrationId);
  }
}
