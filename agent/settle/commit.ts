// Commit: the move is kept for good. The destination counts itself verified only once its ports
// answer, and keeps the container; the source removes its frozen copy and sets its data aside.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULTS } from '../../common/defaults.ts';
import { FerryError } from '../../common/errors.ts';
import { reachedOn, silentTcpPorts } from '../../common/tcp.ts';
import { forgetFlowsToPorts } from '../address/conntrack.ts';
import { bindMountPaths } from '../data/bind-mounts.ts';
import { dropReplaced, leftPath, pathState } from '../data/staging.ts';
import { mayBeWholeThere, type DestinationRecord } from '../journal.ts';
import { findContainer, listContainers } from '../podman/inspect.ts';
import { removeContainer } from '../podman/restore.ts';
import { installUnit, setUnitAside } from '../systemd/control.ts';
import { requireMigrationId } from '../validate.ts';
import { removeFiles, type SettleContext } from './context.ts';

/** Keeps what the migration made here for good: the source's copy goes, the destination's stays. Safe to call again. */
export async function commitHere(ctx: SettleContext, migrationId: string): Promise<string> {
  requireMigrationId(migrationId);
  const record = ctx.journal.require(migrationId);
  if (record.phase === 'done') return record.outcome ?? 'already committed';
  if (record.phase === 'failed') {
    throw new FerryError('BAD_REQUEST', `migration ${migrationId} was rolled back here; it cannot be committed`, { phase: 'commit' });
  }
  // A commit that a crash cut off (phase commit) goes on from where it was.
  const resumed = record.phase === 'commit';
  let outcome: string;
  if (record.role === 'source') {
    // Sealed without the word that podman's checkpoint succeeded: this agent died after the
    // archive went out whole, and the destination restored it (the reconciler checked).
    if (!resumed && !mayBeWholeThere(record)) {
      throw new FerryError('BAD_REQUEST', `migration ${migrationId} has not sent its archive from here (phase ${record.phase})`, { phase: 'commit' });
    }
    const current = await findContainer(ctx.podman, record.containerId);
    if (current?.state === 'running') {
      // The source copy runs again (someone restored it): deleting it would lose the live one.
      throw new FerryError('COMMIT_INCOMPLETE', `container ${record.container} is running on ${ctx.host}; not removing it`, {
        phase: 'commit',
      });
    }
    if (!resumed) await ctx.journal.advance(record, 'commit');
    if (current) {
      await removeContainer(ctx.podman, record.containerId);
      await forgetFlowsToPorts(current.ports);
    }
    outcome = current ? 'removed the checkpointed source copy' : 'no source copy left to remove';
    // Gone from here: home again, or moved on (which ferry return then says of it).
    await ctx.origins.left(record.containerId, record.peer, migrationId);
    const moved = await setAsideData(ctx, record.dataPaths ?? [], migrationId);
    if (moved.length) outcome += `; its data left here as of the freeze: ${moved.join(', ')}`;
    // Off for good here, so that no boot starts a copy beside the data set aside.
    if (record.unit) outcome += `; ${record.unit.name} disabled, its file kept in ${await setUnitAside(record.unit, join(ctx.stateDir, 'units-aside'), migrationId)}`;
  } else {
    if (!resumed) {
      if (record.phase !== 'restored' && record.phase !== 'verified') {
        throw new FerryError('BAD_REQUEST', `migration ${migrationId} is not restored here (phase ${record.phase})`, { phase: 'commit' });
      }
      if (record.phase === 'restored') await verifyHere(ctx, record);
      await ctx.journal.advance(record, 'commit');
    }
    await dropReplaced(record.dataPaths ?? [], migrationId);
    outcome = 'kept the restored container';
    if (record.evacuatedFrom) {
      await ctx.origins.arrived({ container: record.container, containerId: record.containerId, origin: record.evacuatedFrom, migrationId });
    }
    // Only now: installed before the commit, a rollback would have had to stop the service
    // without the unit restarting a fresh copy.
    if (record.unit) outcome += `; ${await installUnit(ctx.podman, record.unit, record.containerId)}`;
  }
  await removeFiles(ctx, record);
  await ctx.journal.advance(record, 'done', { outcome });
  ctx.over(migrationId);
  return outcome;
}

/**
 * Destination: restored becomes verified only when every published TCP port of the restored
 * container answers on this host, whoever asks for the commit (the coordinator checked from
 * outside already; recovery may not have).
 */
async function verifyHere(ctx: SettleContext, record: DestinationRecord): Promise<void> {
  const address = ctx.address;
  const dead = await silentTcpPorts(record.ports ?? [], reachedOn(address), DEFAULTS.portAnswerMs);
  if (dead.length) {
    throw new FerryError('VERIFY_FAILED', `${record.container} was restored on ${ctx.host}, but its published port ${dead.join(', ')} does not answer there`, {
      phase: 'verify',
      host: ctx.host,
      hint: 'The move is not committed; roll it back (the source resumes its copy) or find out why the service does not answer.',
    });
  }
  await ctx.journal.advance(record, 'verified');
}

/**
 * After the move, the source's copy of the bind-mounted data is stale. It is renamed, not
 * deleted (a last copy, as of the freeze), which frees the path for the container to come back.
 * A path another container here still mounts is left alone.
 */
async function setAsideData(ctx: SettleContext, paths: readonly string[], id: string): Promise<string[]> {
  if (!paths.length) return [];
  const stillUsed = new Set<string>();
  for (const summary of await listContainers(ctx.podman, true)) {
    const other = await findContainer(ctx.podman, summary.id);
    for (const path of other ? bindMountPaths(other) : []) stillUsed.add(path);
  }
  const moved: string[] = [];
  for (const path of paths) {
    if (stillUsed.has(path) || (await pathState(path)) === 'absent') continue;
    await rename(path, leftPath(path, id));
    moved.push(leftPath(path, id));
  }
  return moved;
}
