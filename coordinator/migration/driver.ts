// What one migration is to the modules that carry out its steps (preflight.ts, move.ts, settle.ts):
// its ID and options, the two agents, its events, and its phase, which changes only through the
// coordinator's machine (common/phases.ts COORDINATOR). migrate.ts's Migration is the one driver;
// the steps see only this, so that they import nothing of it.
import type { AgentConnection } from '../../common/client.ts';
import type { Dialer } from '../../common/dial.ts';
import type { Phase } from '../../common/phases.ts';
import type { Compression } from '../../common/wire.ts';
import { FerryError } from '../../common/errors.ts';
import type { Emit } from '../events.ts';
import type { HostEntry } from '../inventory.ts';

export interface MigrateOptions {
  from: HostEntry;
  to: HostEntry;
  container: string;
  compress?: Compression | undefined;
  /** Replace bind-mount paths that already hold data on the destination. */
  replaceData?: boolean | undefined;
  /** Shared storage: do not copy bind-mounted data. */
  ignoreBindMounts?: boolean | undefined;
  /** Send bind-mounted data only after the freeze (for measuring what the pre-sync saves). */
  noPresync?: boolean | undefined;
  /** Run the preflight checks on both hosts and stop: nothing is changed. */
  dryRun?: boolean | undefined;
  /**
   * A destination whose container network cannot hold the container's IP restores it with a new
   * one (its established TCP connections closed) instead of refusing it.
   */
  newAddress?: boolean | undefined;
  /** Send it to a cordoned destination anyway (--force). */
  force?: boolean | undefined;
  /** Set by an evacuation: the host it empties, which the destination remembers as the container's origin. */
  evacuatedFrom?: string | undefined;
  /** How long a broken transfer keeps being resumed before the migration rolls back. */
  transferRetryMs?: number | undefined;
  /** Caps every stream of the migration, bytes per second (0 or absent: no cap). */
  bwlimitBytesPerSec?: number | undefined;
  /** Per-phase deadlines. */
  checkpointTimeoutMs?: number | undefined;
  restoreTimeoutMs?: number | undefined;
  verifyTimeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** How the agents are reached: the coordinator's certificate, and SSH tunnels where the inventory says. */
  dialer: Dialer;
}

/** What the migration asks of each agent: an AgentConnection (a stand-in in unit tests). */
export type AgentLink = Pick<AgentConnection<HostEntry>, 'host' | 'info' | 'inspect' | 'prepareReceive' | 'checkpointAndSend' | 'restore' | 'takeAddress' | 'commit' | 'rollback' | 'status'>;

/** A migration as its steps drive it. */
export interface MigrationDriver {
  readonly id: string;
  readonly options: Omit<MigrateOptions, 'dialer'>;
  readonly source: AgentLink;
  readonly destination: AgentLink;
  readonly emit: Emit;
  readonly phase: Phase;
  /** Changes the phase, as COORDINATOR allows. */
  move(phase: Phase): void;
  /** Moves on and says so. */
  enter(phase: Phase, host: string, message: string): void;
}

/** Stops the migration where it stands once the user cancelled it (Ctrl-C, the caller's signal). */
export function throwIfCancelled(m: Pick<MigrationDriver, 'options' | 'phase'>): void {
  if (m.options.signal?.aborted) throw new FerryError('CANCELLED', 'the migration was cancelled', { phase: m.phase });
}
