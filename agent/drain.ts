// A graceful stop (SIGTERM, `systemctl stop`): the agent takes no new work, lets the migrations
// under way finish (the coordinator still commits or rolls them back through this agent), and
// rolls back itself whatever is still open when the time is up, so that a stop never leaves a
// container frozen on its way out. Only then do the servers close.
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../common/errors.ts';
import type { Logger } from './log.ts';
import type { MigrationRecord } from './journal.ts';

/** What a stop needs of the agent (AgentService; a stand-in in tests). */
export interface Drainable {
  stop(): void;
  journal: { active(): MigrationRecord[] };
  readonly parking: boolean;
  rollback(migrationId: string, reason: string): Promise<string>;
}

export interface DrainOptions {
  /** How long migrations under way may take to end on their own. */
  timeoutMs: number;
  log: Logger;
  /** How often to look (tests shorten it). */
  pollMs?: number;
}

export const DEFAULT_DRAIN_MS = 300_000;

/** Resolves once nothing is under way here: every migration ended, or rolled back. */
export async function drain(service: Drainable, options: DrainOptions): Promise<void> {
  service.stop();
  const deadline = Date.now() + options.timeoutMs;
  let said = '';
  for (;;) {
    const open = service.journal.active();
    if (!open.length && !service.parking) return;
    const now = open.map((r) => `${r.id}:${r.role}:${r.phase}`).join(' ');
    if (now !== said) {
      options.log.info({ migrations: open.map((r) => `${r.id}:${r.role}:${r.phase}`), parking: service.parking }, 'stopping: waiting for the work under way');
      said = now;
    }
    if (Date.now() >= deadline) break;
    await sleep(options.pollMs ?? 500);
  }
  for (const record of service.journal.active()) {
    options.log.warn({ migrationId: record.id, role: record.role, phase: record.phase }, 'stopping: rolling back a migration that did not end in time');
    try {
      await service.rollback(record.id, 'the agent is stopping');
    } catch (error) {
      // The reconciler settles it with the peer at the next start; the journal keeps it.
      options.log.error({ migrationId: record.id, err: FerryError.from(error).message }, 'stopping: the rollback did not complete; the next start settles it');
    }
  }
}
