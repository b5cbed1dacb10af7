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
import { asksPeer, decide, type Action, type Facts, type PeerSays } from './decisions.ts';
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

  /** What the peer says, sorted as the table (decisions.ts) reads it. */
  #sort(peer: PeerView): PeerSays {
    if (peer === 'unreachable' || peer === 'unknown') return peer;
    if (peer.phase === 'failed' || peer.phase === 'done') return peer.phase;
    if (peer.busy || peer.idleMs <= this.#options.settleAfterMs) return 'at work';
    if (peer.phase === 'verified' || peer.phase === 'restored') return `idle in ${peer.phase}`;
    if (peer.phase === 'preflight' || peer.phase === 'transfer' || peer.phase === 'received') return 'idle in preflight, transfer or received';
    return 'idle elsewhere';
  }

  async #settle(record: MigrationRecord): Promise<void> {
    const facts: Facts = {
      orphan: this.#orphans.has(record.id),
      stale: Date.now() - Date.parse(record.updatedAt) > this.#options.settleAfterMs,
      expired: record.role === 'destination' && record.expiresAt !== undefined && Date.parse(record.expiresAt) < Date.now(),
    };
    const peer = asksPeer(record.role, record.phase, facts) ? this.#sort(await this.#peers.view(record)) : 'not asked';
    const row = decide(record.role, record.phase, facts, peer);
    const log = this.#log.child({ migrationId: record.id, role: record.role, phase: record.phase });
    if (!row) {
      if (peer === 'unreachable' && mayBeWholeThere(record)) {
        log.warn({ peer: record.peer }, 'waiting for the destination: it may be running the container, so this copy stays frozen');
      }
      return;
    }
    await this.#act(record, () => {
      log.warn({ peer, because: row.because }, row.action);
      return this.#carryOut(record, row.action);
    });
  }

  /** Each action of the table, with this agent's own commit and rollback and the peer's. */
  async #carryOut(record: MigrationRecord, action: Action): Promise<unknown> {
    const agent = this.#agent;
    const id = record.id;
    switch (action) {
      case 'finish the commit':
      case 'commit: the peer committed':
        return agent.commit(id);
      case 'finish the rollback':
        return agent.rollback(id, record.outcome ?? 'interrupted rollback');
      case 'resume: the send was cut off':
        await this.#peers.tell(record, 'rollback', 'the source agent lost the send').catch(() => undefined);
        return agent.rollback(id, 'the send was cut off (agent restart)');
      case 'resume: the destination holds no copy':
        return agent.rollback(id, 'the destination did not restore it', true);
      case 'commit both: the destination verified':
        await this.#peers.tell(record, 'commit', '');
        return agent.commit(id);
      case 'check the ports at the destination': {
        // The destination checks them again before it counts itself verified.
        const dead = await this.#peers.deadPorts(record);
        if (!dead.length) {
          await this.#peers.tell(record, 'commit', '');
          return agent.commit(id);
        }
        this.#log.warn({ migrationId: id, dead }, 'the published ports do not answer at the destination: rolling back');
        await this.#peers.tell(record, 'rollback', `the published ports do not answer on ${record.peer}: ${dead.join(', ')}`);
        return agent.rollback(id, `the published ports did not answer on ${record.peer}`, true);
      }
      case 'roll back both: the coordinator is gone':
        await this.#peers.tell(record, 'rollback', 'the coordinator is gone');
        return agent.rollback(id, 'the coordinator is gone', true);
      case 'remove the cut-off restore':
        return agent.rollback(id, 'the restore was cut off');
      case 'remove what arrived: the source gave up':
        return agent.rollback(id, 'settled after the source gave up');
      case 'wait':
        return undefined;
    }
  }
}
