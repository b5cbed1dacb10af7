// Settling migrations that nobody is driving any more: after an agent restart, or when the
// coordinator died. The source holds the frozen container, so it decides, by asking the
// destination where it stands; it never resumes its copy while the destination might run one.
// A destination undoes what it half made once the source says the migration failed.
import type { AgentConnection } from '../../common/client.ts';
import type { Dialer } from '../../common/dial.ts';
import { DEFAULTS } from '../../common/defaults.ts';
import { FerryError } from '../../common/errors.ts';
import { hostAddress, silentTcpPorts } from '../../common/tcp.ts';
import { JOURNAL_PHASE, type JournalPhase } from '../../common/wire.ts';
import { mayBeWholeThere, peerRoute, type MigrationRecord } from '../journal.ts';
import type { Logger } from '../log.ts';
import { Periodic } from '../periodic.ts';
import { inspectContainer } from '../podman/inspect.ts';
import type { Journal } from '../journal.ts';
import type { Podman } from '../podman/podman.ts';

export interface RecoveryOptions {
  /** How long a migration may sit untouched before its agents settle it themselves. */
  settleAfterMs: number;
  intervalMs: number;
}

export const DEFAULT_RECOVERY: RecoveryOptions = { settleAfterMs: 60_000, intervalMs: 5_000 };


/** What recovery needs of the agent: its journal, its busy marks, and its own commit and rollback. */
export interface RecoveryContext {
  journal: Journal;
  podman: Podman;
  /** How this agent reaches its peers: its certificate, and SSH where a peer needs it. */
  dialer: Dialer;
  isBusy: (id: string) => boolean;
  track: <T>(id: string, work: () => Promise<T>) => Promise<T>;
  commit: (id: string) => Promise<string>;
  /** `peerRolledBack`: the destination confirmed it holds no copy. */
  rollback: (id: string, reason: string, peerRolledBack?: boolean) => Promise<string>;
}

export type PeerView = { phase: JournalPhase; idleMs: number; busy: boolean } | 'unknown' | 'unreachable';

/** The other agent of a migration, as recovery asks it things. */
export interface Peers {
  /** Where the migration stands at the peer. */
  view(record: MigrationRecord): Promise<PeerView>;
  tell(record: MigrationRecord, action: 'commit' | 'rollback', reason: string): Promise<void>;
  /** Source: the container's published TCP ports that do not answer at the destination's address. */
  deadPorts(record: MigrationRecord): Promise<string[]>;
}

/** The peers over gRPC, with this agent's certificate; the ports as this host's podman has them. */
export function grpcPeers(agent: Pick<RecoveryContext, 'dialer' | 'podman'>): Peers {
  const connect = (record: MigrationRecord) => agent.dialer.agent(peerRoute(record));
  return {
    async view(record) {
      if (!record.peerAddress) return 'unreachable';
      let peer: AgentConnection | undefined;
      try {
        peer = await connect(record);
        const status = await peer.status(record.id, { timeoutMs: 5_000 });
        const phase = JOURNAL_PHASE.fromWire(status.phase);
        // A phase this agent does not know (another version): as good as no answer.
        return phase ? { phase, idleMs: Number(status.idleMs), busy: status.busy } : 'unreachable';
      } catch (error) {
        return FerryError.from(error).code === 'MIGRATION_UNKNOWN' ? 'unknown' : 'unreachable';
      } finally {
        peer?.close();
      }
    },
    async tell(record, action, reason) {
      if (!record.peerAddress) return;
      const peer = await connect(record);
      try {
        if (action === 'commit') await peer.commit(record.id, { timeoutMs: 60_000 });
        else await peer.rollback(record.id, reason, { timeoutMs: 300_000 });
      } finally {
        peer.close();
      }
    },
    async deadPorts(record) {
      const address = record.peerHostAddress ?? hostAddress(record.peerAddress ?? '');
      const { ports } = await inspectContainer(agent.podman, record.containerId);
      return silentTcpPorts(ports, () => address, DEFAULTS.portAnswerMs);
    },
  };
}

export class Reconciler {
  readonly #agent: RecoveryContext;
  readonly #log: Logger;
  readonly #options: RecoveryOptions;
  readonly #peers: Peers;
  readonly #periodic: Periodic;
  /** Migrations found unfinished at start: their RPCs died with the previous process. */
  readonly #orphans = new Set<string>();

  constructor(agent: RecoveryContext, log: Logger, options: RecoveryOptions, peers: Peers = grpcPeers(agent)) {
    this.#agent = agent;
    this.#peers = peers;
    this.#periodic = new Periodic(() => this.#settleAll(), options.intervalMs);
    this.#log = log.child({ component: 'recovery' });
    this.#options = options;
  }

  start(): void {
    for (const record of this.#agent.journal.active()) this.#orphans.add(record.id);
    this.#periodic.start();
  }

  stop(): void {
    this.#periodic.stop();
  }

  /** One round of settling, unless one is under way. */
  tick(): Promise<void> {
    return this.#periodic.run();
  }

  async #settleAll(): Promise<void> {
    for (const record of this.#agent.journal.active()) {
      if (this.#agent.isBusy(record.id)) continue;
      await this.#settle(record).catch((error: unknown) =>
        this.#log.warn({ migrationId: record.id, err: FerryError.from(error).message }, 'could not settle the migration yet'),
      );
    }
  }

  /**
   * Does what settling `seen` decided, unless the migration moved on while the peer was asked (a
   * late call of its coordinator, a restore that began meanwhile): a decision made on a record
   * that changed, or one that a call is now working on, waits for the next round. The check and
   * the busy mark happen in one turn of the event loop, so no call can slip in between.
   */
  #act(seen: MigrationRecord, work: () => Promise<unknown>): Promise<unknown> {
    if (this.#agent.journal.get(seen.id) !== seen || this.#agent.isBusy(seen.id)) {
      this.#log.info({ migrationId: seen.id, phase: seen.phase }, 'the migration moved on while its peer was asked: settling it later, if it still needs it');
      return Promise.resolve();
    }
    return this.#agent.track(seen.id, work);
  }

  #idle(record: MigrationRecord): number {
    return Date.now() - Date.parse(record.updatedAt);
  }

  async #settle(record: MigrationRecord): Promise<void> {
    const agent = this.#agent;
    const log = this.#log.child({ migrationId: record.id, role: record.role, phase: record.phase });
    const act = (work: () => Promise<unknown>) => this.#act(record, work);
    // A commit or rollback that a crash interrupted is simply finished.
    if (record.phase === 'commit') {
      await act(() => {
        log.info({}, 'finishing an interrupted commit');
        return agent.commit(record.id);
      });
      return;
    }
    if (record.phase === 'rollback') {
      await act(() => {
        log.info({}, 'finishing an interrupted rollback');
        return agent.rollback(record.id, record.outcome ?? 'interrupted rollback');
      });
      return;
    }
    const stale = this.#idle(record) > this.#options.settleAfterMs;
    if (record.role === 'source') {
      // Sealed or sent: the end of the archive went out, so the destination may have it whole and restore it.
      if (!mayBeWholeThere(record)) {
        // Checkpointing or sending when the agent died: the destination cannot have restored.
        if (!this.#orphans.has(record.id) && !stale) return;
        await act(async () => {
          log.warn({}, 'the checkpoint/send was cut off: resuming the container here');
          await this.#peers.tell(record, 'rollback', 'the source agent lost the send').catch(() => undefined);
          await agent.rollback(record.id, 'the send was cut off (agent restart)');
        });
        return;
      }
      if (!stale) return;
      const peer = await this.#peers.view(record);
      if (peer === 'unreachable') {
        log.warn({ peer: record.peer }, 'waiting for the destination: it may be running the container, so this copy stays frozen');
        return;
      }
      if (peer === 'unknown' || peer.phase === 'failed') {
        await act(() => {
          log.warn({}, 'the destination has no restored copy: resuming the container here');
          return agent.rollback(record.id, 'the destination did not restore it', true);
        });
      } else if (peer.phase === 'done') {
        await act(() => agent.commit(record.id));
      } else if (!peer.busy && peer.idleMs > this.#options.settleAfterMs) {
        if (peer.phase === 'verified') {
          await act(async () => {
            log.warn({}, 'the coordinator is gone after the destination verified the move: committing it');
            await this.#peers.tell(record, 'commit', '');
            await agent.commit(record.id);
          });
        } else if (peer.phase === 'restored') {
          // Restored and validated there, and the coordinator is gone, maybe while it checked the
          // ports: the move is finished only once they answer there, as the coordinator would have.
          // (The destination checks them again before it counts itself verified.)
          await act(async () => {
            const dead = await this.#peers.deadPorts(record);
            if (dead.length) {
              log.warn({ dead }, 'the coordinator is gone after the restore, and the ports do not answer at the destination: rolling back');
              await this.#peers.tell(record, 'rollback', `the published ports do not answer on ${record.peer}: ${dead.join(', ')}`);
              await agent.rollback(record.id, `the published ports did not answer on ${record.peer}`, true);
            } else {
              log.warn({}, 'the coordinator is gone after the restore, and the ports answer at the destination: committing the move');
              await this.#peers.tell(record, 'commit', '');
              await agent.commit(record.id);
            }
          });
        } else if (peer.phase === 'preflight' || peer.phase === 'transfer' || peer.phase === 'received') {
          await act(async () => {
            log.warn({}, 'the coordinator is gone before the restore: rolling back');
            await this.#peers.tell(record, 'rollback', 'the coordinator is gone');
            await agent.rollback(record.id, 'the coordinator is gone', true);
          });
        }
      }
      return;
    }
    // Destination.
    if (record.phase === 'restore' && (this.#orphans.has(record.id) || stale)) {
      // Nothing restores it any more (the agent restarted, or the call that did ended): podman
      // may have half made the container; nobody will finish it.
      await act(() => {
        log.warn({}, 'a restore was cut off: removing what it made');
        return agent.rollback(record.id, 'the restore was cut off');
      });
      return;
    }
    if (!stale) return;
    const peer = await this.#peers.view(record);
    if (record.phase === 'restored' || record.phase === 'verified') {
      // A restored copy follows the source's word. The source commits only after the ports were
      // seen answering here, and resumes only after this copy is gone; nothing else settles it.
      if (peer !== 'unreachable' && peer !== 'unknown' && peer.phase === 'done') {
        await act(() => {
          log.warn({}, 'the source committed the move: committing it here');
          return agent.commit(record.id);
        });
      } else if (peer !== 'unreachable' && peer !== 'unknown' && peer.phase === 'failed') {
        await act(() => {
          log.warn({}, 'the source rolled the move back: removing the restored copy');
          return agent.rollback(record.id, 'the source rolled the migration back');
        });
      }
      return;
    }
    const expired = record.expiresAt !== undefined && Date.parse(record.expiresAt) < Date.now();
    // A source that does not know the migration may simply not have begun it yet: the source
    // journals a migration when its coordinator asks it to checkpoint, after this host prepared
    // (and a loaded coordinator may take a while between the two). Until a stream arrived, or
    // until the grant expires, that is no sign of a source that gave up.
    const sourceGone = peer === 'unknown' && (record.touched || expired);
    if (sourceGone || (peer !== 'unreachable' && peer !== 'unknown' && peer.phase === 'failed') || (peer === 'unreachable' && expired)) {
      await act(() => {
        log.warn({}, 'the migration failed or expired at the source: removing what was received');
        return agent.rollback(record.id, 'settled after the source gave up');
      });
    }
  }
}
