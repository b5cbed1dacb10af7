// What a phase change of the journal means for the metrics: the phase left lasted from its
// timestamp until now; a migration that reached done or failed is counted, a failed one by the
// code of the reason it was rolled back for, a committed one's downtime observed by the
// destination. Called by the journal after each phase change was written.
import { isErrorCode } from '../../common/errors.ts';
import { metrics, safely, type AgentMetrics } from './metrics.ts';
import type { MigrationRecord } from '../record.ts';

/** What of a journal record the metrics read. */
export type PhaseChange = Pick<MigrationRecord, 'role' | 'phase' | 'updatedAt' | 'phases' | 'reason' | 'downtimeMs'>;

/** The stable code at the head of a rollback reason ("TRANSFER_FAILED: ..."), or UNKNOWN. */
export function reasonCode(reason: string | undefined): string {
  const head = /^([A-Z][A-Z_]+):/.exec(reason ?? '')?.[1];
  return isErrorCode(head) ? head : 'UNKNOWN';
}

export function observePhaseChange(before: PhaseChange, after: PhaseChange, into: AgentMetrics = metrics): void {
  safely(() => {
    const entered = before.phases?.at(-1);
    if (entered && entered.phase === before.phase) {
      const seconds = (Date.parse(after.updatedAt) - Date.parse(entered.at)) / 1000;
      if (seconds >= 0) into.phaseSeconds.observe({ role: after.role, phase: before.phase }, seconds);
    }
    if (after.phase === 'done' || after.phase === 'failed') {
      into.migrations.inc({ role: after.role, result: after.phase });
      if (after.phase === 'failed') into.failures.inc({ role: after.role, code: reasonCode(after.reason) });
      if (after.phase === 'done' && after.role === 'destination' && after.downtimeMs !== undefined) {
        into.downtimeSeconds.observe(after.downtimeMs / 1000);
      }
    }
  });
}
