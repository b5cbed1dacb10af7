// Settling migrations that nobody is driving any more: after an agent restart, or when the
// coordinator died. The source holds the frozen container, so it decides, by asking the
// destination where it stands; it never resumes its copy while the destination might run one.
// A destination undoes what it half made once the source says the migration failed.
import { AgentConnection } from '../common/client.ts';
import { FerryError } from '../common/errors.ts';
import { hostAddress, silentTcpPorts } from '../common/tcp.ts';
import { mayBeWholeThere, type MigrationRecord } from './journal.ts';
import type { Logger } from './log.ts';
import { inspectContainer } from './podman/inspect.ts';
import type { AgentService } from './service.ts';

export interface RecoveryOptions {
  /** How long a migration may sit untouched before its agents settle it themselves. */
  settleAfterMs: number;
  intervalMs: number;
}

export const DEFAULT_RECOVERY: RecoveryOptions = { settleAfterMs: 60_000, intervalMs: 5_000 };

/** How long each published port gets to answer at the destination before recovery commits a move. */
const PEER_ANSWER_WITHIN_MS = 10_000;

type PeerView = { phase: string; idleMs: number; busy: boolean } | 'unknown' | 'unreachable';

export class Reconciler {
  readonly #service: AgentService;
  readonly #log: Logger;
  readonly #options: RecoveryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Migrations found unfinished at start: their RPCs died with the previous process. */
  readonly #orphans = new Set<string>();

  constructor(service: AgentService, log: Logger, options: RecoveryOptions) {
    this.#service = service;
    this.#log = log.child({ component: 'recovery' });
    this.#options = options;
  }

  start(): void {
    for (const record of this.#service.journal.active()) this.#orphans.add(record.id);
    void this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (const record of this.#service.journal.active()) {
        if (this.#service.isBusy(record.id)) continue;
        await this.#service.track(record.id, () => this.#settle(record)).catch((error: unknown) =>
          this.#log.warn({ migrationId: record.id, err: FerryError.from(error).message }, 'could not settle the migration yet'),
        );
      }
    } finally {
      this.#running = false;
    }
  }

  #idle(record: MigrationRecord): number {
    return Date.now() - Date.parse(record.updatedAt);
  }

  async #peer(record: MigrationRecord): Promise<PeerView> {
    if (!record.peerAddress) return 'unreachable';
    const peer = new AgentConnection({ name: record.peer, agent: record.peerAddress }, this.#service.config.tls);
    try {
      const status = await peer.status(record.id, { timeoutMs: 5_000 });
      return { phase: status.phase, idleMs: Number(status.idleMs), busy: status.busy };
    } catch (error) {
      const e = FerryError.from(error);
      if (e.code === 'MIGRATION_UNKNOWN') return 'unknown';
      return 'unreachable';
    } finally {
      peer.close();
    }
  }

  async #tellPeer(record: MigrationRecord, action: 'commit' | 'rollback', reason: string): Promise<void> {
    if (!record.peerAddress) return;
    const peer = new AgentConnection({ name: record.peer, agent: record.peerAddress }, this.#service.config.tls);
    try {
      if (action === 'commit') await peer.commit(record.id, { timeoutMs: 60_000 });
      else await peer.rollback(record.id, reason, { timeoutMs: 300_000 });
    } finally {
      peer.close();
    }
  }

  /** The container's published TCP ports (as the source has them) that do not answer at the destination's address. */
  async #deadOnPeer(record: MigrationRecord): Promise<string[]> {
    const address = hostAddress(record.peerAddress ?? '');
    const { ports } = await inspectContainer(this.#service.config.podman, record.containerId);
    return silentTcpPorts(ports, () => address, PEER_ANSWER_WITHIN_MS);
  }

  async #settle(record: MigrationRecord): Promise<void> {
    const service = this.#service;
    const log = this.#log.child({ migrationId: record.id, role: record.role, phase: record.phase });
    // A commit or rollback that a crash interrupted is simply finished.
    if (record.phase === 'commit') {
      log.info({}, 'finishing an interrupted commit');
      await service.commit(record.id);
      return;
    }
    if (record.phase === 'rollback') {
      log.info({}, 'finishing an interrupted rollback');
      await service.rollback(record.id, record.outcome ?? 'interrupted rollback');
      return;
    }
    const stale = this.#idle(record) > this.#options.settleAfterMs;
    if (record.role === 'source') {
      // Sealed or sent: the end of the archive went out, so the destination may have it whole and restore it.
      if (!mayBeWholeThere(record)) {
        // Checkpointing or sending when the agent died: the destination cannot have restored.
        if (!this.#orphans.has(record.id) && !stale) return;
        log.warn({}, 'the checkpoint/send was cut off: resuming the container here');
        await this.#tellPeer(record, 'rollback', 'the source agent lost the send').catch(() => undefined);
        await service.rollback(record.id, 'the send was cut off (agent restart)');
        return;
      }
      if (!stale) return;
      const peer = await this.#peer(record);
      if (peer === 'unreachable') {
        log.warn({ peer: record.peer }, 'waiting for the destination: it may be running the container, so this copy stays frozen');
        return;
      }
      if (peer === 'unknown' || peer.phase === 'failed') {
        log.warn({}, 'the destination has no restored copy: resuming the container here');
        await service.rollback(record.id, 'the destination did not restore it', undefined, true);
      } else if (peer.phase === 'done') {
        await service.commit(record.id);
      } else if (!peer.busy && peer.idleMs > this.#options.settleAfterMs) {
        if (peer.phase === 'verified') {
          log.warn({}, 'the coordinator is gone after the destination verified the move: committing it');
          await this.#tellPeer(record, 'commit', '');
          await service.commit(record.id);
        } else if (peer.phase === 'restored') {
          // Restored and validated there, and the coordinator is gone, maybe while it checked the
          // ports: the move is finished only once they answer there, as the coordinator would have.
          // (The destination checks them again before it counts itself verified.)
          const dead = await this.#deadOnPeer(record);
          if (dead.length) {
            log.warn({ dead }, 'the coordinator is gone after the restore, and the ports do not answer at the destination: rolling back');
            await this.#tellPeer(record, 'rollback', `the published ports do not answer on ${record.peer}: ${dead.join(', ')}`);
            await service.rollback(record.id, `the published ports did not answer on ${record.peer}`, undefined, true);
          } else {
            log.warn({}, 'the coordinator is gone after the restore, and the ports answer at the destination: committing the move');
            await this.#tellPeer(record, 'commit', '');
            await service.commit(record.id);
          }
        } else if (peer.phase === 'preflight' || peer.phase === 'transfer' || peer.phase === 'received') {
          log.warn({}, 'the coordinator is gone before the restore: rolling back');
          await this.#tellPeer(record, 'rollback', 'the coordinator is gone');
          await service.rollback(record.id, 'the coordinator is gone', undefined, true);
        }
      }
      return;
    }
    // Destination.
    if (record.phase === 'restore' && (this.#orphans.has(record.id) || stale)) {
      // Nothing restores it any more (the agent restarted, or the call that did ended): podman
      // may have half made the container; nobody will finish it.
      log.warn({}, 'a restore was cut off: removing what it made');
      await service.rollback(record.id, 'the restore was cut off');
      return;
    }
    if (!stale) return;
    const peer = await this.#peer(record);
    if (record.phase === 'restored' || record.phase === 'verified') {
      // A restored copy follows the source's word. The source commits only after the ports were
      // seen answering here, and resumes only after this copy is gone; nothing else settles it.
      if (peer !== 'unreachable' && peer !== 'unknown' && peer.phase === 'done') {
        log.warn({}, 'the source committed the move: committing it here');
        await service.commit(record.id);
      } else if (peer !== 'unreachable' && peer !== 'unknown' && peer.phase === 'failed') {
        log.warn({}, 'the source rolled the move back: removing the restored copy');
        await service.rollback(record.id, 'the source rolled the migration back');
      }
      return;
    }
    const expired = record.expiresAt !== undefined && Date.parse(record.expiresAt) < Date.now();
    if (peer === 'unknown' || (peer !== 'unreachable' && peer.phase === 'failed') || (peer === 'unreachable' && expired)) {
      log.warn({}, 'the migration failed or expired at the source: removing what was received');
      await service.rollback(record.id, 'settled after the source gave up');
    }
  }
}
