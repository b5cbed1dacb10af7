// What an agent does, independent of gRPC: server.ts maps RPCs onto these methods. A source
// agent checkpoints and sends; a destination agent prepares, receives and restores; both commit
// or roll back what they did, idempotently, from their journal.
import { mkdir, readdir, rename, rm, stat, statfs, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { join } from 'node:path';
import { FerryError, type ErrorCode } from '../common/errors.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../proto/gen/ferry/v1/ContainerInfo.ts';
import type { ContainerSummary__Output as ContainerSummary } from '../proto/gen/ferry/v1/ContainerSummary.ts';
import type { InfoReply } from '../proto/gen/ferry/v1/InfoReply.ts';
import type { MigrationEvent } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import type { PreflightCheck__Output as PreflightCheck } from '../proto/gen/ferry/v1/PreflightCheck.ts';
import type { TransferChunk__Output } from '../proto/gen/ferry/v1/TransferChunk.ts';
import { cpuinfoCheck, cpuinfoDump } from './criu/cpuinfo.ts';
import { DEFAULT_LIMITS, extractData } from './data/extract.ts';
import { dropReplaced, leftPath, pathState, promote, stagingResolver, unstage } from './data/staging.ts';
import { Journal, SENT_OUTCOME, validMigrationId, type MigrationRecord } from './journal.ts';
import type { Logger } from './log.ts';
import { notAfter, type TlsFiles } from '../common/pki.ts';
import type { Caller } from '../common/rpc.ts';
import { restoreInPlace } from './podman/checkpoint.ts';
import { runHook } from './podman/hooks.ts';
import { hostInfo, type HostInfo } from './podman/info.ts';
import { findContainer, inspectContainer, listContainers } from './podman/inspect.ts';
import type { Podman } from './podman/podman.ts';
import { removeContainer, restoreImport } from './podman/restore.ts';
import { cgroupMemoryBytes, dataBytes } from './podman/size.ts';
import { destinationChecks, IMAGE_WILL_BE_SENT } from './preflight.ts';
import { checkpointAndSend, type CheckpointAndSendInput } from './source.ts';
import type { ArchiveHeader } from './transfer/chunks.ts';
import { fileTarget, receiveArchive, streamTarget, type Target } from './transfer/receive.ts';
import { hashPrefix } from './transfer/send.ts';

export const AGENT_VERSION = '0.1.0';

export interface AgentConfig {
  name: string;
  listen: string;
  stateDir: string;
  podman: Podman;
  log: Logger;
  /** Mutual TLS for this agent's server and its calls to peers; absent with --insecure. */
  tls?: TlsFiles | undefined;
}

/** The error code of a failed destination check; other checks fail as PREFLIGHT_FAILED. */
const CODE_BY_CHECK: Record<string, ErrorCode> = {
  disk: 'DISK_FULL',
  data: 'DEST_DATA_EXISTS',
  port: 'DEST_PORT_BUSY',
  name: 'DEST_NAME_TAKEN',
  criu: 'CRIU_UNAVAILABLE',
  busy: 'MIGRATION_BUSY',
};


/** The host paths a container bind-mounts: the data that must travel with it. */
export function bindMountPaths(container: ContainerInfo): string[] {
  return [...new Set(container.mounts.filter((m) => m.type === 'bind').map((m) => m.source))].sort();
}

const DEFAULT_RECEIVE_TTL_MS = 10 * 60_000;

export class AgentService {
  readonly config: AgentConfig;
  readonly journal: Journal;
  readonly #started = Date.now();
  #hostInfo: Promise<HostInfo> | undefined;
  #cpuinfo: Promise<Buffer> | undefined;
  /** Migrations an RPC is working on right now: the reconciler leaves them alone. */
  readonly #busy = new Map<string, number>();
  readonly #locks = new Map<string, Promise<unknown>>();

  isBusy(id: string): boolean {
    return (this.#busy.get(id) ?? 0) > 0;
  }

  /** Marks the migration busy while `work` runs. */
  async track<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.#enter(id);
    try {
      return await work();
    } finally {
      this.#leave(id);
    }
  }

  #enter(id: string): void {
    this.#busy.set(id, (this.#busy.get(id) ?? 0) + 1);
  }

  #leave(id: string): void {
    const left = (this.#busy.get(id) ?? 1) - 1;
    if (left) this.#busy.set(id, left);
    else this.#busy.delete(id);
  }

  /**
   * An agent (rather than the coordinator) may touch a migration only when the migration names it
   * as the other host: that is the grant the coordinator gave when it announced the migration.
   */
  #requirePeer(record: MigrationRecord, caller: Caller | undefined, what: string): void {
    if (caller && caller.role !== 'coordinator' && caller.name !== record.peer) {
      throw new FerryError('UNAUTHORIZED', `${caller.name} may not ${what} migration ${record.id}: it names ${record.peer}`);
    }
  }

  async status(migrationId: string, caller?: Caller): Promise<{ role: string; phase: string; outcome: string; idleMs: number; busy: boolean; receivedBytes: number }> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    this.#requirePeer(record, caller, 'ask about');
    return {
      role: record.role,
      phase: record.phase,
      outcome: record.outcome ?? '',
      idleMs: Date.now() - Date.parse(record.updatedAt),
      busy: this.isBusy(migrationId),
      receivedBytes: record.role === 'destination' ? await stat(record.archivePath).then((st) => st.size, () => 0) : 0,
    };
  }

  constructor(config: AgentConfig) {
    this.config = config;
    this.journal = new Journal(config.stateDir);
  }

  get archiveDir(): string {
    return join(this.config.stateDir, 'archives');
  }

  async open(): Promise<void> {
    await mkdir(this.config.stateDir, { recursive: true, mode: 0o700 });
    await mkdir(this.archiveDir, { recursive: true, mode: 0o700 });
    const records = await this.journal.open();
    // Archives of migrations that are over (a crash between the end and the clean-up) go now.
    const open = new Set(this.journal.active().map((r) => r.id));
    for (const name of await readdir(this.archiveDir)) {
      const id = name.replace(/(\.image)?\.tar$/, '');
      if (!open.has(id)) await rm(join(this.archiveDir, name), { force: true, recursive: true });
    }
    const unfinished = records.filter((r) => this.journal.active().includes(r));
    if (unfinished.length) {
      this.config.log.warn({ migrations: unfinished.map((r) => `${r.id}:${r.role}:${r.phase}`) }, 'unfinished migrations in the journal');
    }
  }

  #info(): Promise<HostInfo> {
    // Versions do not change while the agent runs; `criu check` takes a second, so ask once.
    this.#hostInfo ??= hostInfo(this.config.podman).catch((error: unknown) => {
      this.#hostInfo = undefined;
      throw error;
    });
    return this.#hostInfo;
  }

  async info(): Promise<InfoReply> {
    const [host, fs, cpuinfo] = await Promise.all([
      this.#info(),
      statfs(this.config.stateDir),
      (this.#cpuinfo ??= cpuinfoDump().catch(() => Buffer.alloc(0))),
    ]);
    return {
      host: this.config.name,
      agentVersion: AGENT_VERSION,
      listen: this.config.listen,
      uptimeMs: Date.now() - this.#started,
      freeDiskBytes: fs.bavail * fs.bsize,
      cpuinfo,
      certNotAfter: this.config.tls ? notAfter(this.config.tls.cert) : '',
      ...host,
    };
  }

  list(all: boolean): Promise<ContainerSummary[]> {
    return listContainers(this.config.podman, all);
  }

  async inspect(container: string): Promise<ContainerInfo> {
    requireText(container, 'container');
    const info = await inspectContainer(this.config.podman, container);
    const [memory, data] = await Promise.all([cgroupMemoryBytes(info.cgroupPath), dataBytes(bindMountPaths(info))]);
    return { ...info, estimatedBytes: memory + data };
  }

  /** Destination: checks that this host can take the container, then expects its archive. */
  async prepareReceive(request: {
    migrationId: string;
    sourceHost: string;
    container: ContainerInfo | null | undefined;
    ttlMs: number;
    replaceData: boolean;
    ignoreBindMounts: boolean;
    sourceCpuinfo?: Buffer | undefined;
    sourceAddress?: string | undefined;
    dryRun?: boolean | undefined;
    archiveBytesEstimate?: number | undefined;
  }): Promise<{ checks: PreflightCheck[]; needsImage: boolean }> {
    requireMigrationId(request.migrationId);
    requireText(request.sourceHost, 'source_host');
    const container = request.container;
    if (!container?.id || !container.name) throw new FerryError('BAD_REQUEST', 'container with id and name is required');
    const ttlMs = request.ttlMs > 0 ? Math.min(request.ttlMs, 60 * 60_000) : DEFAULT_RECEIVE_TTL_MS;

    const dataPaths = request.ignoreBindMounts ? [] : bindMountPaths(container);
    for (const path of dataPaths) {
      if (!path.startsWith('/') || path.split('/').includes('..')) throw new FerryError('BAD_REQUEST', `bind-mount path "${path}" is not absolute and clean`);
    }
    const host = { name: this.config.name, podman: this.config.podman, info: await this.#info(), active: this.journal.active() };
    const checks = await destinationChecks(host, container, dataPaths, request.replaceData);
    if (request.sourceCpuinfo?.length) {
      const cpu = await cpuinfoCheck(request.sourceCpuinfo);
      checks.push({ name: 'cpu', ok: cpu.ok, detail: cpu.ok ? cpu.detail : `CPU of ${this.config.name} lacks features of ${request.sourceHost}'s: ${cpu.detail}` });
    }
    const fs = await statfs(this.archiveDir);
    const free = fs.bavail * fs.bsize;
    const needed = Math.max(0, request.archiveBytesEstimate ?? 0);
    checks.push({
      name: 'disk',
      ok: free > needed * 1.1,
      detail: `${Math.round(free / 1048576)} MiB free in ${this.archiveDir}${needed ? `, about ${Math.round(needed / 1048576)} MiB needed` : ''}`,
    });
    const needsImage = checks.some((c) => c.name === 'image' && c.detail.startsWith(IMAGE_WILL_BE_SENT));
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      const code = CODE_BY_CHECK[failed[0]?.name ?? ''] ?? 'PREFLIGHT_FAILED';
      throw new FerryError(code, failed.map((c) => c.detail).join('; '), {
        phase: 'preflight',
        details: failed.map((c) => `${c.name}: ${c.detail}`),
      });
    }
    if (request.dryRun) return { checks, needsImage };
    await this.journal.create({
      id: request.migrationId,
      role: 'destination',
      container: container.name,
      containerId: container.id,
      peer: request.sourceHost,
      peerAddress: request.sourceAddress || undefined,
      phase: 'preflight',
      archivePath: join(this.archiveDir, `${request.migrationId}.tar`),
      touched: false,
      expiresAt: new Date(Date.now() + ttlMs).toISOString(),
      dataPaths,
      needsImage,
    });
    return { checks, needsImage };
  }

  /** Source: checkpoint, then send the archive straight to the destination agent (see source.ts). */
  checkpointAndSend(request: CheckpointAndSendInput, emit: (event: MigrationEvent) => void, signal: AbortSignal): Promise<void> {
    return checkpointAndSend(this, request, emit, signal);
  }

  /** Destination: a stream of a prepared migration (its image, its data, its checkpoint). */
  async receive(messages: AsyncIterable<TransferChunk__Output>, caller?: Caller): Promise<{ bytes: number; sha256: string }> {
    // Busy from the moment the header names the migration (track() needs the ID up front).
    let accepted: string | undefined;
    try {
      const result = await receiveArchive(messages, async (header) => {
        const target = await this.#accept(header, caller);
        accepted = header.migrationId;
        this.#enter(accepted);
        return target;
      });
      const { migrationId, kind, round } = result.header;
      const log = this.config.log.child({ migrationId, phase: 'transfer' });
      if (kind === 'checkpoint') {
        await this.journal.update(migrationId, { outcome: `received ${result.bytes} bytes sha256 ${result.sha256}` });
      } else if (kind === 'image') {
        const path = this.#imagePath(migrationId);
        try {
          await this.config.podman.run(['load', '--input', path], { timeoutMs: 10 * 60_000 });
        } finally {
          await rm(path, { force: true });
        }
      }
      log.info({ kind, round, bytes: result.bytes }, 'stream received and verified');
      return { bytes: result.bytes, sha256: result.sha256 };
    } catch (error) {
      throw FerryError.from(error, { phase: 'transfer', host: this.config.name });
    } finally {
      if (accepted) this.#leave(accepted);
    }
  }

  #imagePath(id: string): string {
    return join(this.archiveDir, `${id}.image.tar`);
  }

  /** Whether this migration expects this stream now, and where its bytes go. */
  async #accept(header: ArchiveHeader, caller: Caller | undefined): Promise<Target> {
    requireMigrationId(header.migrationId);
    const record = this.journal.require(header.migrationId);
    if (caller && (caller.role !== 'agent' || caller.name !== header.sourceHost)) {
      throw new FerryError('UNAUTHORIZED', `${caller.name} (${caller.role}) may not send as ${header.sourceHost}`);
    }
    const resuming = header.kind === 'checkpoint' && record.phase === 'transfer' && !record.outcome?.startsWith('received');
    if (record.role !== 'destination' || (record.phase !== 'preflight' && !resuming)) {
      throw new FerryError('BAD_REQUEST', `migration ${record.id} is not waiting for a transfer here (phase ${record.phase})`);
    }
    if (this.isBusy(record.id)) {
      // The stream of a previous attempt is still being torn down here; the sender retries.
      throw new FerryError('TRANSFER_FAILED', `a previous stream of migration ${record.id} is still open here`);
    }
    if (record.peer !== header.sourceHost) {
      throw new FerryError('BAD_REQUEST', `migration ${record.id} expects its archive from ${record.peer}, not ${header.sourceHost}`);
    }
    if (record.expiresAt && Date.parse(record.expiresAt) < Date.now()) {
      throw new FerryError('MIGRATION_UNKNOWN', `migration ${record.id} expired at ${record.expiresAt}`);
    }
    const fs = await statfs(this.archiveDir);
    if (header.totalBytes > fs.bavail * fs.bsize) {
      throw new FerryError('DISK_FULL', `the archive needs ${header.totalBytes} bytes and ${this.config.name} has ${fs.bavail * fs.bsize} free`);
    }
    switch (header.kind) {
      case 'checkpoint': {
        const from = header.resumeFrom ?? 0;
        if (record.phase === 'preflight') await this.journal.advance(record.id, 'transfer', { touched: true });
        if (from === 0) return fileTarget(record.archivePath, { resumable: true });
        const have = (await stat(record.archivePath).catch(() => undefined))?.size ?? 0;
        if (from > have) {
          throw new FerryError('INTEGRITY_MISMATCH', `cannot resume at byte ${from}: only ${have} bytes arrived before`, { phase: 'transfer' });
        }
        await truncate(record.archivePath, from);
        this.config.log.info({ migrationId: record.id, from }, 'resuming the archive transfer');
        return fileTarget(record.archivePath, { resumable: true, resumeFrom: from, hash: await hashPrefix(record.archivePath, from) });
      }
      case 'image':
        if (!record.needsImage) throw new FerryError('BAD_REQUEST', `migration ${record.id} did not ask for an image`);
        return fileTarget(this.#imagePath(record.id));
      case 'data': {
        if (!record.dataPaths?.length) throw new FerryError('BAD_REQUEST', `migration ${record.id} declared no bind-mount paths`);
        await this.journal.update(record.id, { touched: true });
        const resolve = stagingResolver(record.dataPaths, record.id);
        // No more than the disk holds, whatever the headers claim.
        const limits = { ...DEFAULT_LIMITS, maxBytes: await freeBytesFor(record.dataPaths) };
        return streamTarget((input) => extractData(input, resolve, limits));
      }
    }
  }

  /** Destination: restore the received archive. */
  async restore(
    migrationId: string,
    expectedValidation: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ container: ContainerInfo; restoreMs: number; validation: string }> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.role !== 'destination' || record.phase !== 'transfer' || !record.outcome?.startsWith('received')) {
      throw new FerryError('BAD_REQUEST', `migration ${migrationId} has no verified archive to restore here (phase ${record.phase})`, {
        phase: 'restore',
      });
    }
    await this.journal.advance(migrationId, 'restore');
    const started = performance.now();
    try {
      // The data goes into place first: the restored processes reopen their files at once.
      if (record.dataPaths?.length) {
        await this.journal.update(migrationId, { promoted: await promote(record.dataPaths, migrationId) });
      }
      const container = await restoreImport(
        this.config.podman,
        { archivePath: record.archivePath, name: record.container },
        { signal, timeoutMs: timeoutMs > 0 ? timeoutMs : undefined },
      );
      const restoreMs = Math.round(performance.now() - started);
      await runHook(this.config.podman, container.id, container.labels, 'postRestore', { signal });
      const validation = (await runHook(this.config.podman, container.id, container.labels, 'validate', { signal })) ?? '';
      if (validation !== expectedValidation) {
        throw new FerryError('VALIDATION_MISMATCH', `${container.name} validates differently after the restore`, {
          details: [`before the checkpoint: ${expectedValidation}`, `after the restore:    ${validation}`],
        });
      }
      await this.journal.advance(migrationId, 'verify');
      return { container, restoreMs, validation };
    } catch (error) {
      throw FerryError.from(error, { phase: 'restore', host: this.config.name });
    }
  }

  /** Runs one commit or rollback of a migration at a time: the coordinator and the reconciler may both try. */
  #serialize<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const settled = next.catch(() => undefined);
    this.#locks.set(id, settled);
    void settled.then(() => {
      if (this.#locks.get(id) === settled) this.#locks.delete(id);
    });
    return next;
  }

  commit(migrationId: string, caller?: Caller): Promise<string> {
    this.#requirePeerOf(migrationId, caller, 'commit');
    return this.#serialize(migrationId, () => this.#commit(migrationId));
  }

  rollback(migrationId: string, reason: string, caller?: Caller): Promise<string> {
    this.#requirePeerOf(migrationId, caller, 'roll back');
    return this.#serialize(migrationId, () => this.#rollback(migrationId, reason));
  }

  #requirePeerOf(migrationId: string, caller: Caller | undefined, what: string): void {
    if (!caller) return;
    requireMigrationId(migrationId);
    this.#requirePeer(this.journal.require(migrationId), caller, what);
  }

  async #commit(migrationId: string): Promise<string> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.phase === 'done') return record.outcome ?? 'already committed';
    if (record.phase === 'failed') {
      throw new FerryError('BAD_REQUEST', `migration ${migrationId} was rolled back here; it cannot be committed`, { phase: 'commit' });
    }
    let outcome: string;
    if (record.role === 'source') {
      if (record.phase !== 'transfer' || record.outcome !== SENT_OUTCOME) {
        throw new FerryError('BAD_REQUEST', `migration ${migrationId} has not sent its archive from here (phase ${record.phase})`, { phase: 'commit' });
      }
      const current = await findContainer(this.config.podman, record.containerId);
      if (current?.state === 'running') {
        // The source copy runs again (someone restored it): deleting it would lose the live one.
        throw new FerryError('COMMIT_INCOMPLETE', `container ${record.container} is running on ${this.config.name}; not removing it`, {
          phase: 'commit',
        });
      }
      await this.journal.advance(migrationId, 'commit');
      if (current) await removeContainer(this.config.podman, record.containerId);
      outcome = current ? 'removed the checkpointed source copy' : 'no source copy left to remove';
      const moved = await this.#setAsideData(record.dataPaths ?? [], migrationId);
      if (moved.length) outcome += `; its data left here as of the freeze: ${moved.join(', ')}`;
    } else {
      if (record.phase !== 'verify') {
        throw new FerryError('BAD_REQUEST', `migration ${migrationId} is not restored here (phase ${record.phase})`, { phase: 'commit' });
      }
      await this.journal.advance(migrationId, 'commit');
      await dropReplaced(record.dataPaths ?? [], migrationId);
      outcome = 'kept the restored container';
    }
    await rm(record.archivePath, { force: true });
    await this.journal.advance(migrationId, 'done', { outcome });
    return outcome;
  }

  /**
   * After the move, the source's copy of the bind-mounted data is stale. It is renamed, not
   * deleted (a last copy, as of the freeze), which frees the path for the container to come back.
   * A path another container here still mounts is left alone.
   */
  async #setAsideData(paths: readonly string[], id: string): Promise<string[]> {
    if (!paths.length) return [];
    const stillUsed = new Set<string>();
    for (const summary of await listContainers(this.config.podman, true)) {
      const other = await findContainer(this.config.podman, summary.id);
      for (const path of other ? bindMountPaths(other) : []) stillUsed.add(path);
    }
    const moved: string[] = [];
    for (const path of paths) {
      if (stillUsed.has(path) || (await pathState(path)) === 'absent') continue;
      await rename(path, leftPath(path, id));
      moved.push(leftPath(path, id));
    }
    return moved;
  }

  /** Undoes what this host did for the migration; safe to call again. */
  async #rollback(migrationId: string, reason: string): Promise<string> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.phase === 'failed') return record.outcome ?? 'already rolled back';
    if (record.phase === 'done') {
      throw new FerryError('BAD_REQUEST', `migration ${migrationId} is already committed here; it cannot be rolled back`, { phase: 'rollback' });
    }
    const log = this.config.log.child({ migrationId, phase: 'rollback' });
    await this.journal.advance(migrationId, 'rollback', { outcome: reason });
    const podman = this.config.podman;
    let outcome: string;
    try {
      if (record.role === 'source') {
        const current = await findContainer(podman, record.containerId);
        if (!current) {
          throw new FerryError('ROLLBACK_FAILED', `container ${record.container} no longer exists on ${this.config.name}`, { phase: 'rollback' });
        }
        if (current.state === 'running') {
          outcome = 'container still running on the source';
        } else {
          await restoreInPlace(podman, record.containerId);
          outcome = 'restored the container on the source from its local checkpoint';
        }
      } else {
        const current = await findContainer(podman, record.containerId);
        if (current) await removeContainer(podman, record.containerId);
        await unstage(record.dataPaths ?? [], migrationId, record.promoted ?? []);
        outcome = current ? 'removed the restored copy from the destination' : 'nothing was restored here';
      }
    } catch (error) {
      throw FerryError.from(error, { phase: 'rollback', host: this.config.name }).at('rollback', this.config.name);
    }
    await rm(record.archivePath, { force: true });
    await this.journal.advance(migrationId, 'failed', { outcome });
    log.info({ outcome }, 'rolled back');
    return outcome;
  }
}

/** Free bytes on the filesystem of the first declared path's nearest existing parent. */
async function freeBytesFor(paths: readonly string[]): Promise<number> {
  let dir = dirname(paths[0] ?? '/');
  for (;;) {
    const fs = await statfs(dir).catch(() => undefined);
    if (fs) return fs.bavail * fs.bsize;
    if (dir === '/') return Number.MAX_SAFE_INTEGER;
    dir = dirname(dir);
  }
}

export function requireText(value: string | undefined, field: string): void {
  if (!value || typeof value !== 'string') throw new FerryError('BAD_REQUEST', `${field} is required`);
  if (value.length > 256) throw new FerryError('BAD_REQUEST', `${field} is longer than 256 characters`);
}

export function requireMigrationId(id: string | undefined): void {
  requireText(id, 'migration_id');
  if (!validMigrationId(id as string)) throw new FerryError('BAD_REQUEST', `"${id}" is not a valid migration ID`);
}
