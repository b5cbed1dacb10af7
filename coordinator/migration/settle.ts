// How the coordinator ends a migration on both agents: the commit (the destination first, which
// checks its own ports and keeps the container; then the source, whose copy goes) or the
// rollback (the destination first, so that there are never two copies, then the source).
import { FerryError } from '../../common/errors.ts';
import { COORDINATOR } from '../../common/phases.ts';
import { JOURNAL_PHASE } from '../../common/wire.ts';
import type { AgentLink, MigrationDriver } from './driver.ts';
import { SETTLE_BUDGET_MS, whileUnreachable } from './retry.ts';

/** An agent that is restarting gets a little while to come back, as long as in a rollback. */
const PATIENT = { retries: 20, budgetMs: SETTLE_BUDGET_MS };

/** The destination checks its ports itself, becomes verified and keeps the container for good. */
export async function commitDestination(m: MigrationDriver, downtimeMs?: number): Promise<void> {
  const to = m.destination.host.name;
  try {
    await whileUnreachable(() => m.destination.commit(m.id, { downtimeMs }), PATIENT);
  } catch (error) {
    const failure = FerryError.from(error).at('verify', to);
    // The commit may have happened with only its answer lost (the agent restarted, the link
    // dropped, a step after the point of no return failed): the destination keeps the
    // container then, and a rollback it must refuse would report a finished move as
    // ROLLBACK_FAILED. Its journal says which.
    const phase = await m.destination.status(m.id).then((s) => JOURNAL_PHASE.fromWire(s.phase), () => undefined);
    if (phase !== 'commit' && phase !== 'done') throw failure;
    m.emit({
      kind: 'warning',
      migrationId: m.id,
      error: new FerryError('COMMIT_INCOMPLETE', `${to} committed the move (its journal says ${phase}), but its answer was lost: ${failure.message}`, { phase: 'commit', host: to }),
    });
  }
}

/**
 * Past the point of no return: a source copy that cannot be removed is a warning, not a
 * failure, and the summary says what is left (returned). Its agent finishes an interrupted
 * commit when it can (docs: recovery).
 */
export async function commitSource(m: MigrationDriver, downtimeMs?: number): Promise<string[]> {
  const from = m.source.host.name;
  try {
    await m.source.commit(m.id, { downtimeMs });
    return [];
  } catch (error) {
    const failure = FerryError.from(error);
    m.emit({
      kind: 'warning',
      migrationId: m.id,
      error: new FerryError('COMMIT_INCOMPLETE', `the container runs on ${m.destination.host.name}, but removing the source copy failed: ${failure.message}`, { phase: 'commit', host: from }),
    });
    return [`${from}: the frozen copy of the container and its archive (${failure.code}); \`ferry status ${m.id}\` shows whether its agent finished the commit since`];
  }
}

/**
 * Destination first (so there are never two copies), then the source, told whether the
 * destination confirmed it holds nothing: a source whose whole archive may have reached the
 * destination resumes only then. True when the container runs on the source again.
 */
export async function rollBack(m: MigrationDriver, failure: FerryError): Promise<boolean> {
  // Before the source was asked to freeze nothing was changed; a destination that prepared
  // for the archive forgets it once it expires.
  if (m.phase === 'preflight') return true;
  // Once the whole archive reached the destination, it may hold a running copy.
  const archiveThere = COORDINATOR.reached(m.phase, 'restore');
  m.enter('rollback', m.source.host.name, `rolling back: ${failure.describe()}`);
  const reason = `${failure.code}: ${failure.message}`;
  const step = async (agent: AgentLink, peerRolledBack = false): Promise<boolean> => {
    try {
      // The destination matters only once it may have restored; before that it settles on its own.
      const patient = agent === m.source || archiveThere;
      const outcome = await whileUnreachable(() => agent.rollback(m.id, reason, { peerRolledBack }), patient ? PATIENT : { retries: 0, budgetMs: 0 });
      m.emit({ kind: 'rollback', migrationId: m.id, host: agent.host.name, outcome, ok: true });
      return true;
    } catch (error) {
      const e = FerryError.from(error);
      // The agent never heard of the migration: it changed nothing, so there is nothing to undo.
      if (e.code === 'MIGRATION_UNKNOWN') {
        m.emit({ kind: 'rollback', migrationId: m.id, host: agent.host.name, outcome: 'nothing to undo', ok: true });
        return true;
      }
      m.emit({ kind: 'rollback', migrationId: m.id, host: agent.host.name, outcome: `${e.code}: ${e.message}`, ok: false });
      return false;
    }
  };
  const destinationClean = await step(m.destination);
  return step(m.source, destinationClean);
}
