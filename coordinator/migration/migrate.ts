// One live migration, driven phase by phase: preflight, checkpoint + transfer (source agent to
// destination agent directly), restore, verify, commit. The destination's restore is asked for as
// the source starts to freeze, so podman's import runs while the archive streams; it completes
// only once the whole archive checked out. Any failure after preflight rolls back: the
// destination removes what it made first, then the source resumes its frozen copy, so the
// container never runs on two hosts and always on one.
import { randomBytes } from 'node:crypto';
import { DEFAULTS } from '../../common/defaults.ts';
import { FerryError } from '../../common/errors.ts';
import { serviceAddressOf } from '../../common/service-address.ts';
import { COORDINATOR, type Phase } from '../../common/phases.ts';
import type { Emit, MigrationSummary } from '../events.ts';
import { sameHost } from '../inventory.ts';
import { throwIfCancelled, type AgentLink, type MigrateOptions, type MigrationDriver } from './driver.ts';
import { moveAndRestore } from './move.ts';
import { preflight, type Checked } from './preflight.ts';
import { commitDestination, commitSource, rollBack } from './settle.ts';
import { summarize } from './summary.ts';
import { verifyPorts } from './verify.ts';

export type { AgentLink, MigrateOptions } from './driver.ts';

export function newMigrationId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `m-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Moves the container; resolves with the summary, or undefined after a dry run. */
export async function migrate(options: MigrateOptions, emit: Emit): Promise<MigrationSummary | undefined> {
  const { from, to } = options;
  if (sameHost(from, to)) {
    throw new FerryError('SAME_HOST', `--from and --to are both ${from.name}`, { phase: 'preflight' });
  }
  const migrationId = newMigrationId();
  const source = await options.dialer.agent(from).catch((e: unknown) => { throw FerryError.from(e).at('preflight', from.name); });
  const destination = await options.dialer.agent(to).catch((e: unknown) => {
    source.close();
    throw FerryError.from(e).at('preflight', to.name);
  });
  try {
    return await new Migration(migrationId, options, source, destination, emit).run();
  } finally {
    source.close();
    destination.close();
  }
}

export class Migration implements MigrationDriver {
  readonly id: string;
  readonly options: Omit<MigrateOptions, 'dialer'>;
  readonly source: AgentLink;
  readonly destination: AgentLink;
  readonly emit: Emit;
  /** Where the migration stands; only `move` and `enter` change it, as COORDINATOR allows. */
  #phase: Phase = 'preflight';

  constructor(id: string, options: Omit<MigrateOptions, 'dialer'>, source: AgentLink, destination: AgentLink, emit: Emit) {
    this.id = id;
    this.options = options;
    this.source = source;
    this.destination = destination;
    this.emit = emit;
  }

  get phase(): Phase {
    return this.#phase;
  }

  move(phase: Phase): void {
    COORDINATOR.check(this.#phase, phase, `migration ${this.id}`);
    this.#phase = phase;
  }

  /** Moves on and says so. */
  enter(phase: Phase, host: string, message: string): void {
    this.move(phase);
    this.emit({ kind: 'phase', migrationId: this.id, phase, host, message });
  }

  async run(): Promise<MigrationSummary | undefined> {
    const startedAt = performance.now();
    const from = this.source.host;
    const to = this.destination.host;
    try {
      const checked = await this.preflight();
      if (!checked) return undefined;
      const moved = await moveAndRestore(this, checked.container, checked.prepared);

      this.enter('verify', to.name, `checking published ports on ${to.address}`);
      const verifyStarted = performance.now();
      const restoredPorts = moved.restored.container?.ports ?? [];
      const portChecks = { timeoutMs: this.options.verifyTimeoutMs ?? DEFAULTS.portAnswerMs, signal: this.options.signal, host: to.name };
      await verifyPorts(to.address, moved.container.ports, restoredPorts, portChecks);
      // The service address answers as the host's own address does: its clients were promised that.
      const serviceAddress = serviceAddressOf(moved.container.labels);
      if (serviceAddress) await verifyPorts(serviceAddress, moved.container.ports, restoredPorts, portChecks);
      const verified = performance.now();
      this.emit({ kind: 'verified', migrationId: this.id, host: to.name, address: to.address, ports: restoredPorts });
      throwIfCancelled(this);
      // The outage: from CRIU's freeze on the source to the first answer on the destination's
      // ports (or the verified restore, for a container that publishes none). Both agents
      // journal it with their commit (ferry history, the destination's metrics).
      const answeredAt = (await moved.answered) ?? verified;
      const downtimeMs = Math.max(0, Math.round(answeredAt - moved.freezeAt));
      // The destination checks its ports too before it counts itself verified, and keeps the
      // container for good; until it has, a failure still rolls back.
      await commitDestination(this, downtimeMs);

      // commit: the destination is verified and keeps the container, so the source copy can go.
      this.enter('commit', from.name, `removing the frozen copy from ${from.name}`);
      const leftToClean = await commitSource(this, downtimeMs);
      const verifyMs = Math.round(verified - verifyStarted);
      const summary = summarize(moved, { migrationId: this.id, from: from.name, to: to.name, startedAt, verifyMs, downtimeMs, leftToClean });
      this.move('done');
      this.emit({ kind: 'done', summary });
      return summary;
    } catch (error) {
      const failure = FerryError.from(error, { phase: this.phase });
      // Past the point of no return the container is the destination's: nothing to roll back.
      if (this.phase === 'commit' || this.phase === 'done') throw failure;
      // A container resumed on the source that does not answer is not rolled back, whatever the steps say.
      const rolledBack = (await rollBack(this, failure)) && failure.code !== 'NOT_ANSWERING';
      this.move('failed');
      this.emit({ kind: 'failed', migrationId: this.id, error: failure, rolledBack });
      if (!rolledBack) {
        throw new FerryError('ROLLBACK_FAILED', `${failure.describe()}; then the rollback failed too`, {
          phase: 'rollback',
          cause: failure,
          details: [`${failure.code}: ${failure.message}`, ...failure.details],
        });
      }
      throw failure;
    }
  }

  /** Every check on both hosts; nothing is changed until all have passed. Undefined after a dry run. */
  preflight(): Promise<Checked | undefined> {
    return preflight(this);
  }
}
