// One live migration, driven phase by phase: preflight, checkpoint + transfer (source agent to
// destination agent directly), restore, verify, commit. The destination's restore is asked for as
// the source starts to freeze, so podman's import runs while the archive streams; it completes
// only once the whole archive checked out. Any failure after preflight rolls back: the
// destination removes what it made first, then the source resumes its frozen copy, so the
// container never runs on two hosts and always on one.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { DEFAULTS } from '../common/defaults.ts';
import { FerryError } from '../common/errors.ts';
import { serviceAddressOf } from '../common/service-address.ts';
import { COORDINATOR, type Phase } from '../common/phases.ts';
import { sshWire } from '../common/dial.ts';
import { COMPRESSION, JOURNAL_PHASE } from '../common/wire.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../proto/gen/ferry/v1/ContainerInfo.ts';
import type { MigrationEvent__Output } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import type { PrepareReceiveReply__Output } from '../proto/gen/ferry/v1/PrepareReceiveReply.ts';
import type { RestoreReply__Output } from '../proto/gen/ferry/v1/RestoreReply.ts';
import type { Emit, MigrationSummary } from './events.ts';
import { sameHost } from './inventory.ts';
import type { AgentLink, MigrateOptions, MigrationDriver } from './driver.ts';

export type { AgentLink, MigrateOptions } from './driver.ts';
import { firstAnswer, verifyPorts } from './verify.ts';
import { preflight, type Checked } from './preflight.ts';
import { translateSourceEvent, type Moved } from './source-events.ts';

/** How long a rollback or the destination's commit keeps trying an agent that does not answer. */
const ROLLBACK_RETRY_MS = 30_000;

/** Retries (up to `retries` times) only an agent out of reach: one that is restarting gets a little while to come back. */
const whileUnreachable = (retries: number) => ({
  retries,
  minTimeout: 500,
  maxTimeout: 5_000,
  maxRetryTime: ROLLBACK_RETRY_MS,
  shouldRetry: ({ error }: { error: unknown }) => FerryError.from(error).code === 'AGENT_UNREACHABLE',
});


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
  /** performance.now() when the archive began to stream (the freeze). */
  #streamingSince = performance.now();
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
    const started = performance.now();
    const from = this.source.host;
    const to = this.destination.host;
    try {
      const checked = await this.preflight();
      if (!checked) return undefined;
      const moved = await this.moveAndRestore(checked.container, checked.prepared);

      this.enter('verify', to.name, `checking published ports on ${to.address}`);
      const verifyStarted = performance.now();
      const restoredPorts = moved.restored.container?.ports ?? [];
      await verifyPorts(to.address, moved.container.ports, restoredPorts, {
        timeoutMs: this.options.verifyTimeoutMs ?? DEFAULTS.portAnswerMs,
        signal: this.options.signal,
        host: to.name,
      });
      // The service address answers as the host's own address does: its clients were promised that.
      const serviceAddress = serviceAddressOf(moved.container.labels);
      if (serviceAddress) {
        await verifyPorts(serviceAddress, moved.container.ports, restoredPorts, {
          timeoutMs: this.options.verifyTimeoutMs ?? DEFAULTS.portAnswerMs,
          signal: this.options.signal,
          host: to.name,
        });
      }
      const verified = performance.now();
      const verifyMs = Math.round(verified - verifyStarted);
      this.emit({ kind: 'verified', migrationId: this.id, host: to.name, address: to.address, ports: restoredPorts });
      this.cancelled();
      // The outage: from CRIU's freeze on the source to the first answer on the destination's
      // ports (or the verified restore, for a container that publishes none). Both agents
      // journal it with their commit (ferry history, the destination's metrics).
      const answeredAt = (await moved.answered) ?? verified;
      const downtimeMs = Math.max(0, Math.round(answeredAt - moved.freezeAt));
      // The destination checks its ports too before it counts itself verified, and keeps the
      // container for good; until it has, a failure still rolls back.
      await this.commitDestination(downtimeMs);

      // commit: the destination is verified and keeps the container, so the source copy can go.
      this.enter('commit', from.name, `removing the frozen copy from ${from.name}`);
      const leftToClean = await this.commitSource(downtimeMs);
      const runtimeRestoreMs = Number(moved.restored.runtimeMs);
      const summary: MigrationSummary = {
        migrationId: this.id,
        container: moved.container.name,
        from: from.name,
        to: to.name,
        checkpointMs: moved.checkpointMs,
        archiveBytes: moved.archiveBytes,
        transferMs: moved.transferMs,
        restoreMs: Number(moved.restored.restoreMs),
        verifyMs,
        totalMs: Math.round(performance.now() - started),
        downtimeMs,
        frozenMs: moved.frozenMs,
        runtimeCheckpointMs: moved.runtimeCheckpointMs,
        runtimeRestoreMs,
        floorMs: moved.runtimeCheckpointMs + runtimeRestoreMs,
        streamedRestore: moved.restored.streamed,
        relayedBytes: Number(moved.restored.relayedBytes),
        pagesBytes: moved.pagesBytes,
        dataBytesLive: moved.dataBytesLive,
        dataBytesFrozen: moved.dataBytesFrozen,
        imageBytes: moved.imageBytes,
        newAddress: moved.restored.newAddress,
        ipAddresses: moved.restored.container?.ipAddresses ?? [],
        sourceIpAddresses: moved.container.ipAddresses,
        leftToClean,
      };
      this.move('done');
      this.emit({ kind: 'done', summary });
      return summary;
    } catch (error) {
      const failure = FerryError.from(error, { phase: this.phase });
      // Past the point of no return the container is the destination's: nothing to roll back.
      if (this.phase === 'commit' || this.phase === 'done') throw failure;
      // A container resumed on the source that does not answer is not rolled back, whatever the steps say.
      const rolledBack = (await this.rollback(failure)) && failure.code !== 'NOT_ANSWERING';
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

  cancelled(): void {
    if (this.options.signal?.aborted) throw new FerryError('CANCELLED', 'the migration was cancelled', { phase: this.phase });
  }

  /** Every check on both hosts; nothing is changed until all have passed. Undefined after a dry run. */
  preflight(): Promise<Checked | undefined> {
    return preflight(this);
  }

  /**
   * checkpoint, transfer and restore, overlapped: one call to the source, which freezes and
   * streams to the destination; as it starts to freeze, the restore is asked of the destination,
   * which imports the archive as it arrives. Either failing stops the other.
   */
  async moveAndRestore(container: ContainerInfo, prepared: PrepareReceiveReply__Output): Promise<Moved> {
    const signal = this.options.signal;
    const from = this.source.host;
    const to = this.destination.host;
    this.enter('checkpoint', from.name, `freezing ${container.name} (${container.id.slice(0, 12)}) with --tcp-established`);
    const sourceCall = new AbortController();
    const sourceSignal = signal ? AbortSignal.any([signal, sourceCall.signal]) : sourceCall.signal;
    const watching = new AbortController();
    const restoreCall = new AbortController();
    const moved: Omit<Moved, 'restored' | 'answered'> = {
      container,
      checkpointMs: 0,
      archiveBytes: 0,
      pagesBytes: 0,
      transferMs: 0,
      frozenMs: 0,
      runtimeCheckpointMs: 0,
      dataBytesLive: 0,
      dataBytesFrozen: 0,
      imageBytes: 0,
      freezeAt: performance.now(),
    };
    let restoring: Promise<RestoreReply__Output> | undefined;
    let restoreFailure: FerryError | undefined;
    let answered: Promise<number | undefined> = Promise.resolve(undefined);
    try {
      const events = this.source.checkpointAndSend(
        {
          migrationId: this.id,
          container: container.id,
          destinationHost: to.name,
          destinationAddress: to.agent,
          destinationSsh: to.ssh ? sshWire(to.ssh) : null,
          compress: COMPRESSION.toWire(this.options.compress ?? 'auto'),
          timeoutMs: this.options.checkpointTimeoutMs ?? DEFAULTS.checkpointTimeoutMs,
          sendImage: prepared.needsImage,
          ignoreBindMounts: this.options.ignoreBindMounts ?? false,
          noPresync: this.options.noPresync ?? false,
          transferRetryMs: this.options.transferRetryMs ?? 0,
          bwlimitBytesPerSec: this.options.bwlimitBytesPerSec ?? 0,
        },
        { signal: sourceSignal },
      );
      for await (const event of events) {
        if (event.freezing) {
          this.#streamingSince = performance.now();
          restoring = this.restore(event.freezing.validation, event.freezing.fileLocks, restoreCall.signal);
          restoring.catch((error: unknown) => {
            // A restore that failed for good stops the source: it rolls back at once. An agent
            // out of reach is the source's business while it sends (it resumes, or gives up).
            const failure = FerryError.from(error).at('restore', to.name);
            // Stopped (by us, or by the source's own rollback when it failed first): the source's
            // error is the one to report, and it follows.
            if (failure.code === 'AGENT_UNREACHABLE' || failure.code === 'CANCELLED' || restoreCall.signal.aborted) return;
            restoreFailure = failure;
            sourceCall.abort(restoreFailure);
          });
        } else if (event.addressReleased) {
          // The destination takes the service address and its flows before it restores (its
          // restore waits for them); failing that, the migration stops and rolls back.
          const { address, flows } = event.addressReleased;
          this.emit({ kind: 'address-moved', migrationId: this.id, address, flows: flows.length, host: to.name });
          await this.destination.takeAddress({ migrationId: this.id, address, flows }, { signal: sourceSignal }).catch((error: unknown) => {
            const failure = FerryError.from(error).at('restore', to.name);
            restoreFailure ??= failure;
            throw failure;
          });
        } else if (event.transferred && restoring) {
          this.onSourceEvent(event, moved);
          // The whole archive is there: from now on the destination may hold a running copy. It
          // cannot answer before; from now on, off the critical path, watch for its first answer.
          this.enter('restore', to.name, `restoring ${container.name} on ${to.name}`);
          answered = firstAnswer(to.address, container.ports, watching.signal);
        } else {
          this.onSourceEvent(event, moved);
        }
      }
      this.cancelled();
      if (!restoring || this.phase !== 'restore') throw new FerryError('INTERNAL', `${from.name} finished without freezing the container and sending its archive`, { phase: 'checkpoint' });
      const restored = await restoring;
      this.emit({
        kind: 'restored',
        migrationId: this.id,
        host: to.name,
        restoreMs: Number(restored.restoreMs),
        runtimeMs: Number(restored.runtimeMs),
        streamed: restored.streamed,
        fallback: restored.fallback,
        relayedBytes: Number(restored.relayedBytes),
        ipAddresses: restored.container?.ipAddresses ?? [],
        newAddress: restored.newAddress,
      });
      if (restored.newAddress) {
        const ips = restored.container?.ipAddresses.join(', ') || 'none';
        this.emit({
          kind: 'warning',
          migrationId: this.id,
          error: new FerryError('CONNECTIONS_CLOSED', `${container.name} has a new IP on ${to.name}, ${ips} (it had ${container.ipAddresses.join(', ') || 'none'} on ${from.name}): its established TCP connections were closed`, {
            phase: 'restore',
            host: to.name,
          }),
        });
      }
      return { ...moved, restored, answered };
    } catch (error) {
      watching.abort();
      sourceCall.abort();
      // The destination's restore waits for an archive that may not come: stop it; the rollback
      // that follows removes whatever it made.
      restoreCall.abort();
      await restoring?.catch(() => undefined);
      throw restoreFailure ?? error;
    }
  }

  /** The source's progress, as events for whoever watches; and what the summary needs of it. */
  onSourceEvent(event: MigrationEvent__Output, moved: Omit<Moved, 'restored' | 'answered'>): void {
    translateSourceEvent(this, event, moved, this.#streamingSince);
  }

  /**
   * The destination's restore, asked while the source freezes. An agent that cannot be reached
   * (it restarts, the link is down) is asked again until it has been out of reach for the
   * transfer's retry budget; any other failure is final.
   */
  async restore(validation: string, fileLocks: boolean, stop: AbortSignal): Promise<RestoreReply__Output> {
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, stop]) : stop;
    const timeoutMs = this.options.restoreTimeoutMs ?? DEFAULTS.restoreTimeoutMs;
    const budgetMs = this.options.transferRetryMs || DEFAULTS.transferRetryMs;
    let unreachableSince: number | undefined;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      try {
        return await this.destination.restore(this.id, validation, timeoutMs, { signal, fileLocks });
      } catch (error) {
        const failure = FerryError.from(error);
        if (failure.code !== 'AGENT_UNREACHABLE' || signal.aborted) throw failure;
        // A call that got through and was cut later starts a new outage.
        if (unreachableSince === undefined || performance.now() - started > 2_000) unreachableSince = started;
        if (performance.now() - unreachableSince > budgetMs) throw failure;
        await sleep(Math.min(2_000, 250 * attempt), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /**
   * The destination checks its ports itself, becomes verified and keeps the container for good.
   * An agent that restarts gets a little while to come back, as in a rollback.
   */
  async commitDestination(downtimeMs?: number): Promise<void> {
    const to = this.destination.host.name;
    try {
      await pRetry(() => this.destination.commit(this.id, { downtimeMs }), whileUnreachable(10));
    } catch (error) {
      const failure = FerryError.from(error).at('verify', to);
      // The commit may have happened with only its answer lost (the agent restarted, the link
      // dropped, a step after the point of no return failed): the destination keeps the
      // container then, and a rollback it must refuse would report a finished move as
      // ROLLBACK_FAILED. Its journal says which.
      const phase = await this.destination.status(this.id).then((s) => JOURNAL_PHASE.fromWire(s.phase), () => undefined);
      if (phase !== 'commit' && phase !== 'done') throw failure;
      this.emit({
        kind: 'warning',
        migrationId: this.id,
        error: new FerryError('COMMIT_INCOMPLETE', `${to} committed the move (its journal says ${phase}), but its answer was lost: ${failure.message}`, { phase: 'commit', host: to }),
      });
    }
  }

  /**
   * Past the point of no return: a source copy that cannot be removed is a warning, not a
   * failure, and the summary says what is left. (Its agent finishes an interrupted commit when it
   * can, docs: recovery.)
   */
  async commitSource(downtimeMs?: number): Promise<string[]> {
    try {
      await this.source.commit(this.id, { downtimeMs });
      return [];
    } catch (error) {
      this.emit({
        kind: 'warning',
        migrationId: this.id,
        error: new FerryError('COMMIT_INCOMPLETE', `the container runs on ${this.destination.host.name}, but removing the source copy failed: ${FerryError.from(error).message}`, {
          phase: 'commit',
          host: this.source.host.name,
        }),
      });
      return [`${this.source.host.name}: the frozen copy of the container and its archive (${FerryError.from(error).code}); \`ferry status ${this.id}\` shows whether its agent finished the commit since`];
    }
  }

  /**
   * Destination first (so there are never two copies), then the source, told whether the
   * destination confirmed it holds nothing: a source whose whole archive may have reached the
   * destination resumes only then. True when the container runs on the source again.
   */
  async rollback(failure: FerryError): Promise<boolean> {
    // Before the source was asked to freeze nothing was changed; a destination that prepared
    // for the archive forgets it once it expires.
    if (this.phase === 'preflight') return true;
    // Once the whole archive reached the destination, it may hold a running copy.
    const archiveThere = COORDINATOR.reached(this.phase, 'restore');
    this.enter('rollback', this.source.host.name, `rolling back: ${failure.describe()}`);
    const reason = `${failure.code}: ${failure.message}`;
    const step = async (agent: AgentLink, peerRolledBack = false): Promise<boolean> => {
      try {
        // An agent that is restarting gets a little while to come back; nothing else is retried.
        // The destination matters only once it may have restored; before that it settles on its own.
        const patient = agent === this.source || archiveThere;
        const outcome = await pRetry(() => agent.rollback(this.id, reason, { peerRolledBack }), whileUnreachable(patient ? 10 : 0));
        this.emit({ kind: 'rollback', migrationId: this.id, host: agent.host.name, outcome, ok: true });
        return true;
      } catch (error) {
        const e = FerryError.from(error);
        // The agent never heard of the migration: it changed nothing, so there is nothing to undo.
        if (e.code === 'MIGRATION_UNKNOWN') {
          this.emit({ kind: 'rollback', migrationId: this.id, host: agent.host.name, outcome: 'nothing to undo', ok: true });
          return true;
        }
        this.emit({ kind: 'rollback', migrationId: this.id, host: agent.host.name, outcome: `${e.code}: ${e.message}`, ok: false });
        return false;
      }
    };
    const destinationClean = await step(this.destination);
    return step(this.source, destinationClean);
  }
}
