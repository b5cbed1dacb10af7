// Rollback: undo what this host did for a migration. The destination removes what it restored
// and puts the data paths back; the source resumes its container, repaired where CRIU was cut
// off, and counts it resumed only once its ports answer.
import { FerryError } from '../../common/errors.ts';
import { forgetFlows, giveUpServiceAddress, recreateFlows, takeServiceAddress } from '../address/move.ts';
import { unstage } from '../data/staging.ts';
import { mayBeWholeThere, type SourceRecord } from '../journal.ts';
import type { Logger } from '../log.ts';
import { findContainer } from '../podman/inspect.ts';
import { removeContainer, removeRuntimeLeftover } from '../podman/restore.ts';
import { resumeOnSource } from '../source/resume.ts';
import { restoreUnit } from '../systemd/control.ts';
import { requireMigrationId } from '../validate.ts';
import { removeFiles, type SettleContext } from './context.ts';

/**
 * Undoes what this host did for the migration; safe to call again. `peerRolledBack`: the
 * destination confirmed it holds no copy, without which a source whose whole archive may have
 * reached the destination does not resume.
 */
export async function rollbackHere(ctx: SettleContext, migrationId: string, reason: string, peerRolledBack: boolean): Promise<string> {
  requireMigrationId(migrationId);
  const record = ctx.journal.require(migrationId);
  if (record.phase === 'failed') return record.outcome ?? 'already rolled back';
  if (record.phase === 'done' || record.phase === 'commit') {
    // A commit under way (or cut off, and finished by recovery) has begun removing what a rollback would need.
    throw new FerryError('BAD_REQUEST', `migration ${migrationId} is ${record.phase === 'done' ? 'already committed' : 'committing'} here; it cannot be rolled back`, { phase: 'rollback' });
  }
  if (mayBeWholeThere(record) && !peerRolledBack) {
    throw new FerryError('ROLLBACK_FAILED', `the whole archive of ${record.container} may have reached ${record.peer}, which did not confirm it holds no copy: the container stays frozen on ${ctx.host} rather than risk two running copies`, {
      phase: 'rollback',
      host: ctx.host,
      hint: `Make sure ${record.peer}'s agent is up; the agents settle it between them. Or check ${record.peer} with \`ferry ps\`: if it has no copy, run the rollback again.`,
    });
  }
  const log = ctx.log.child({ migrationId, phase: 'rollback' });
  if (record.role === 'destination') await ctx.stopReceiving(migrationId);
  await ctx.journal.advance(record, 'rollback', { outcome: reason });
  const podman = ctx.podman;
  let outcome: string;
  try {
    if (record.role === 'source') {
      // The flows it gave up before the container is back, the address once it is (see address/move.ts).
      if (record.serviceAddress) await recreateFlows(record.flows ?? []);
      try {
        outcome = await resumeHere(ctx, record, log);
        if (record.unit) outcome += `; ${await restoreUnit(ctx.podman, record.unit, record.containerId)}`;
      } finally {
        if (record.serviceAddress) await takeServiceAddress(ctx.address, record.serviceAddress);
      }
    } else {
      const current = await findContainer(podman, record.containerId);
      if (current) await removeContainer(podman, record.containerId);
      // A restore cut off here leaves runc's state of the ID, which would refuse the next move of it.
      if (await removeRuntimeLeftover(ctx.podman, record.containerId)) log.warn({ containerId: record.containerId }, "removed runc's state a cut-off restore left");
      if (record.address === 'taken' && record.serviceAddress) await giveUpServiceAddress(ctx.address, record.serviceAddress);
      // The flows go back to the source: entries left here would be stale if the container came back.
      await forgetFlows(record.flows ?? []);
      await unstage(record.dataPaths ?? [], migrationId, record.promoted ?? []);
      outcome = current ? 'removed the restored copy from the destination' : 'nothing was restored here';
    }
  } catch (error) {
    throw FerryError.from(error, { phase: 'rollback', host: ctx.host }).at('rollback', ctx.host);
  }
  await removeFiles(ctx, record);
  await ctx.journal.advance(record, 'failed', { outcome });
  ctx.over(migrationId);
  log.info({ outcome }, 'rolled back');
  return outcome;
}

/** The source's container, back and answering; one that runs without answering is remembered as a problem. */
async function resumeHere(ctx: SettleContext, record: SourceRecord, log: Logger): Promise<string> {
  try {
    const outcome = await resumeOnSource({ podman: ctx.podman, host: ctx.host, address: ctx.address, log }, record);
    ctx.problems.delete(record.containerId);
    return outcome;
  } catch (error) {
    const failure = FerryError.from(error);
    if (failure.code === 'NOT_ANSWERING') ctx.problems.set(record.containerId, { name: record.container, problem: `${failure.code}: ${failure.message}` });
    throw failure;
  }
}
