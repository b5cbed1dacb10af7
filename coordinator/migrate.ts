// One live migration, driven phase by phase: preflight, checkpoint + transfer (source agent to
// destination agent directly), restore, verify, commit. Any failure after preflight rolls back:
// the destination removes what it made first, then the source resumes its frozen copy, so the
// container never runs on two hosts and always on one.
import { randomBytes } from 'node:crypto';
import pRetry from 'p-retry';
import { FerryError } from '../common/errors.ts';
import type { TlsFiles } from '../common/pki.ts';
import type { Phase } from '../common/phases.ts';
import { AgentConnection } from '../common/client.ts';
import type { Emit, MigrationSummary } from './events.ts';
import type { HostEntry } from './inventory.ts';
import { deadPorts, verifyPorts } from './verify.ts';

export interface MigrateOptions {
  from: HostEntry;
  to: HostEntry;
  container: string;
  compress?: 'none' | 'gzip' | 'zstd' | undefined;
  /** Replace bind-mount paths that already hold data on the destination. */
  replaceData?: boolean | undefined;
  /** Shared storage: do not copy bind-mounted data. */
  ignoreBindMounts?: boolean | undefined;
  /** Send bind-mounted data only after the freeze (for measuring what the pre-sync saves). */
  noPresync?: boolean | undefined;
  /** Run the preflight checks on both hosts and stop: nothing is changed. */
  dryRun?: boolean | undefined;
  /** How long a broken transfer keeps being resumed before the migration rolls back. */
  transferRetryMs?: number | undefined;
  /** Per-phase deadlines. */
  checkpointTimeoutMs?: number | undefined;
  restoreTimeoutMs?: number | undefined;
  verifyTimeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The coordinator's certificate, CA and key; plaintext without. */
  tls?: TlsFiles | undefined;
}

/** How long a rollback keeps trying an agent that does not answer. */
const ROLLBACK_RETRY_MS = 30_000;

export function newMigrationId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `m-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Moves the container; resolves with the summary, or undefined after a dry run. */
export async function migrate(options: MigrateOptions, emit: Emit): Promise<MigrationSummary | undefined> {
  const { from, to } = options;
  if (from.name === to.name || from.agent === to.agent) {
    throw new FerryError('SAME_HOST', `--from and --to are both ${from.name}`, { phase: 'preflight' });
  }
  const migrationId = newMigrationId();
  const source = new AgentConnection(from, options.tls);
  const destination = new AgentConnection(to, options.tls);
  try {
    return await new Migration(migrationId, options, source, destination, emit).run();
  } finally {
    source.close();
    destination.close();
  }
}

class Migration {
  readonly id: string;
  readonly options: MigrateOptions;
  readonly source: AgentConnection<HostEntry>;
  readonly destination: AgentConnection<HostEntry>;
  readonly emit: Emit;
  phase: Phase = 'preflight';
  /** Whether the source has frozen the container: from here on, failure means rollback. */
  frozen = false;
  prepared = false;
  /** Whether the destination was asked to restore: only then can it hold a running copy. */
  restoreRequested = false;

  constructor(id: string, options: MigrateOptions, source: AgentConnection<HostEntry>, destination: AgentConnection<HostEntry>, emit: Emit) {
    this.id = id;
    this.options = options;
    this.source = source;
    this.destination = destination;
    this.emit = emit;
  }

  enter(phase: Phase, host: string, message: string): void {
    this.phase = phase;
    this.emit({ kind: 'phase', migrationId: this.id, phase, host, message });
  }

  async run(): Promise<MigrationSummary | undefined> {
    const started = performance.now();
    const { signal } = this.options;
    const from = this.source.host;
    const to = this.destination.host;
    try {
      // preflight: nothing is changed until every check has passed.
      this.enter('preflight', from.name, `checking ${this.options.container} on ${from.name} and room for it on ${to.name}`);
      const [sourceInfo, destinationInfo] = await Promise.all([
        this.source.info({ signal }).catch((e: unknown) => { throw FerryError.from(e).at('preflight', from.name); }),
        this.destination.info({ signal }).catch((e: unknown) => { throw FerryError.from(e).at('preflight', to.name); }),
      ]);
      for (const [info, host] of [[sourceInfo, from.name], [destinationInfo, to.name]] as const) {
        if (!info.criuCheckOk) {
          throw new FerryError('CRIU_UNAVAILABLE', `criu check fails on ${host}: ${info.criuCheckOutput}`, { phase: 'preflight', host });
        }
      }
      if (sourceInfo.ociRuntime !== destinationInfo.ociRuntime) {
        throw new FerryError('PREFLIGHT_FAILED', `OCI runtimes differ: ${from.name} uses ${sourceInfo.ociRuntime}, ${to.name} uses ${destinationInfo.ociRuntime}`, {
          phase: 'preflight',
          hint: 'Run both agents with the same --runtime (runc on these machines).',
        });
      }
      const container = await this.source.inspect(this.options.container, { signal }).catch((e: unknown) => {
        throw FerryError.from(e).at('preflight', from.name);
      });
      if (container.state !== 'running') {
        throw new FerryError('CONTAINER_NOT_RUNNING', `container ${container.name} is ${container.state} on ${from.name}, not running`, {
          phase: 'preflight',
          host: from.name,
        });
      }
      // A port that is dead before the move would fail verification after it, with the container
      // frozen for nothing: find out now.
      const dead = await deadPorts(from.address, container.ports);
      if (dead.length) {
        throw new FerryError('PREFLIGHT_FAILED', `published port ${dead.join(', ')} of ${container.name} does not answer on ${from.name} (${from.address})`, {
          phase: 'preflight',
          host: from.name,
          hint: 'Ferry verifies every published TCP port after the move; start the service inside the container, or check the inventory address of the host.',
        });
      }
      const prepared = await this.destination
        .prepareReceive(
          {
            migrationId: this.id,
            sourceHost: from.name,
            container,
            ttlMs: 30 * 60_000,
            replaceData: this.options.replaceData ?? false,
            ignoreBindMounts: this.options.ignoreBindMounts ?? false,
            sourceCpuinfo: sourceInfo.cpuinfo,
            sourceAddress: from.agent,
            archiveBytesEstimate: Number(container.estimatedBytes),
            dryRun: this.options.dryRun ?? false,
          },
          { signal },
        )
        .catch((e: unknown) => { throw FerryError.from(e).at('preflight', to.name); });
      this.emit({
        kind: 'checks',
        migrationId: this.id,
        host: from.name,
        checks: [
          { name: 'criu', ok: true, detail: `criu ${sourceInfo.criuVersion} check passes on ${from.name}` },
          { name: 'runtime', ok: true, detail: `${sourceInfo.ociRuntime} on both hosts` },
          { name: 'container', ok: true, detail: `${container.name} (${container.id.slice(0, 12)}) runs on ${from.name}` },
          { name: 'ports', ok: true, detail: container.ports.length ? `published ports answer on ${from.address}` : 'no published ports' },
        ],
      });
      this.emit({ kind: 'checks', migrationId: this.id, host: to.name, checks: prepared.checks });
      if (this.options.dryRun) {
        this.emit({ kind: 'preflight-ok', migrationId: this.id, container: container.name, from: from.name, to: to.name });
        return undefined;
      }
      this.prepared = true;

      // checkpoint and transfer: one call to the source, which streams to the destination.
      this.enter('checkpoint', from.name, `freezing ${container.name} (${container.id.slice(0, 12)}) with --tcp-established`);
      let checkpointMs = 0;
      let archiveBytes = 0;
      let transferMs = 0;
      let validation = '';
      let dataBytesLive = 0;
      let dataBytesFrozen = 0;
      let imageBytes = 0;
      let frozenAt = performance.now();
      this.frozen = true;
      const events = this.source.checkpointAndSend(
        {
          migrationId: this.id,
          container: container.id,
          destinationHost: to.name,
          destinationAddress: to.agent,
          compress: this.options.compress ?? 'none',
          timeoutMs: this.options.checkpointTimeoutMs ?? 10 * 60_000,
          sendImage: prepared.needsImage,
          ignoreBindMounts: this.options.ignoreBindMounts ?? false,
          noPresync: this.options.noPresync ?? false,
          transferRetryMs: this.options.transferRetryMs ?? 0,
        },
        { signal },
      );
      for await (const event of events) {
        if (event.checkpointed) {
          checkpointMs = Number(event.checkpointed.checkpointMs);
          archiveBytes = Number(event.checkpointed.archiveBytes);
          validation = event.checkpointed.validation;
          // The freeze began when podman's checkpoint did; downtime runs from there to the verify.
          frozenAt = performance.now() - checkpointMs;
          this.emit({ kind: 'checkpointed', migrationId: this.id, host: from.name, checkpointMs, archiveBytes });
          this.enter('transfer', from.name, `sending ${archiveBytes} bytes from ${from.name} to ${to.name}`);
        } else if (event.imageSent) {
          imageBytes = Number(event.imageSent.bytes);
          this.emit({ kind: 'image-sent', migrationId: this.id, image: event.imageSent.image, bytes: imageBytes, ms: Number(event.imageSent.ms) });
        } else if (event.dataSynced) {
          const d = event.dataSynced;
          if (d.round === 0) dataBytesLive = Number(d.bytes);
          else dataBytesFrozen = Number(d.bytes);
          this.emit({
            kind: 'data-synced',
            migrationId: this.id,
            round: d.round,
            bytes: Number(d.bytes),
            entries: Number(d.entries),
            removed: Number(d.removed),
            ms: Number(d.ms),
            paths: d.paths,
          });
        } else if (event.retrying) {
          const r = event.retrying;
          this.emit({ kind: 'retrying', migrationId: this.id, stream: r.stream, attempt: r.attempt, error: r.error, resumeFrom: Number(r.resumeFrom) });
        } else if (event.progress) {
          this.emit({ kind: 'progress', migrationId: this.id, bytes: Number(event.progress.bytes), totalBytes: Number(event.progress.totalBytes) });
        } else if (event.transferred) {
          transferMs = Number(event.transferred.transferMs);
          this.emit({
            kind: 'transferred',
            migrationId: this.id,
            bytes: Number(event.transferred.bytes),
            transferMs,
            sha256: event.transferred.sha256,
          });
        }
      }
      if (signal?.aborted) throw new FerryError('CANCELLED', 'the migration was cancelled', { phase: this.phase });

      this.enter('restore', to.name, `restoring ${container.name} on ${to.name}`);
      this.restoreRequested = true;
      const restored = await this.destination
        .restore(this.id, validation, this.options.restoreTimeoutMs ?? 10 * 60_000, { signal })
        .catch((e: unknown) => { throw FerryError.from(e).at('restore', to.name); });
      const restoreMs = Number(restored.restoreMs);
      this.emit({ kind: 'restored', migrationId: this.id, host: to.name, restoreMs });

      this.enter('verify', to.name, `checking published ports on ${to.address}`);
      const verifyStarted = performance.now();
      const restoredPorts = restored.container?.ports ?? [];
      await verifyPorts(to.address, container.ports, restoredPorts, {
        timeoutMs: this.options.verifyTimeoutMs ?? 10_000,
        signal,
        host: to.name,
      });
      const verifyMs = Math.round(performance.now() - verifyStarted);
      this.emit({ kind: 'verified', migrationId: this.id, host: to.name, address: to.address, ports: restoredPorts });
      if (signal?.aborted) throw new FerryError('CANCELLED', 'the migration was cancelled', { phase: this.phase });

      // commit: the destination is verified, so the source copy can go.
      this.enter('commit', from.name, `removing the frozen copy from ${from.name}`);
      await this.commit();
      const totalMs = Math.round(performance.now() - started);
      const summary: MigrationSummary = {
        migrationId: this.id,
        container: container.name,
        from: from.name,
        to: to.name,
        checkpointMs,
        archiveBytes,
        transferMs,
        restoreMs,
        verifyMs,
        totalMs,
        downtimeMs: Math.round(performance.now() - frozenAt),
        dataBytesLive,
        dataBytesFrozen,
        imageBytes,
      };
      this.phase = 'done';
      this.emit({ kind: 'done', summary });
      return summary;
    } catch (error) {
      const failure = FerryError.from(error, { phase: this.phase });
      const rolledBack = await this.rollback(failure);
      this.phase = 'failed';
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

  async commit(): Promise<void> {
    try {
      await this.source.commit(this.id);
    } catch (error) {
      this.emit({
        kind: 'warning',
        migrationId: this.id,
        error: new FerryError('COMMIT_INCOMPLETE', `the container runs on ${this.destination.host.name}, but removing the source copy failed: ${FerryError.from(error).message}`, {
          phase: 'commit',
          host: this.source.host.name,
        }),
      });
    }
    await this.destination.commit(this.id).catch((error: unknown) => {
      this.emit({ kind: 'warning', migrationId: this.id, error: FerryError.from(error, { phase: 'commit', host: this.destination.host.name }) });
    });
  }

  /** Destination first (so there are never two copies), then the source. True when the container runs on the source again. */
  async rollback(failure: FerryError): Promise<boolean> {
    if (!this.prepared || this.options.dryRun) return true; // nothing was changed anywhere
    this.phase = 'rollback';
    this.emit({ kind: 'phase', migrationId: this.id, phase: 'rollback', host: this.source.host.name, message: `rolling back: ${failure.describe()}` });
    const reason = `${failure.code}: ${failure.message}`;
    const step = async (agent: AgentConnection): Promise<boolean> => {
      try {
        // An agent that is restarting gets a little while to come back; nothing else is retried.
        // The destination matters only once it may have restored; before that it settles on its own.
        const patient = agent === this.source || this.restoreRequested;
        const outcome = await pRetry(() => agent.rollback(this.id, reason), {
          retries: patient ? 10 : 0,
          minTimeout: 500,
          maxTimeout: 5_000,
          maxRetryTime: ROLLBACK_RETRY_MS,
          shouldRetry: ({ error }) => FerryError.from(error).code === 'AGENT_UNREACHABLE',
        });
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
    if (!destinationClean && this.restoreRequested) {
      // The destination may hold a running copy: resuming the source could make two. Better one
      // stopped copy, reported loudly, than two diverging databases.
      return false;
    }
    if (!this.frozen) return true;
    return step(this.source);
  }
}
