// What an agent does, independent of gRPC: server.ts maps RPCs onto these methods. A source
// agent checkpoints and sends; a destination agent prepares, receives and restores; both commit
// or roll back what they did, idempotently, from their journal.
import { mkdir, rename, rm, stat, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, type ErrorCode } from '../common/errors.ts';
import pRetry from 'p-retry';
import { AgentConnection } from '../common/client.ts';
import { agentClient } from '../common/rpc.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../proto/gen/ferry/v1/ContainerInfo.ts';
import type { ContainerSummary__Output as ContainerSummary } from '../proto/gen/ferry/v1/ContainerSummary.ts';
import type { InfoReply } from '../proto/gen/ferry/v1/InfoReply.ts';
import type { MigrationEvent } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import type { PreflightCheck__Output as PreflightCheck } from '../proto/gen/ferry/v1/PreflightCheck.ts';
import type { TransferChunk__Output } from '../proto/gen/ferry/v1/TransferChunk.ts';
import { Journal, SENT_OUTCOME, validMigrationId } from './journal.ts';
import type { Logger } from './log.ts';
import { checkpoint, COMPRESSIONS, restoreInPlace, type Compression } from './podman/checkpoint.ts';
import { cpuinfoCheck, cpuinfoDump } from './criu/cpuinfo.ts';
import { runHook } from './podman/hooks.ts';
import { hostInfo, type HostInfo } from './podman/info.ts';
import { findContainer, hasImage, inspectContainer, listContainers } from './podman/inspect.ts';
import type { Podman } from './podman/podman.ts';
import { removeContainer, restoreImport } from './podman/restore.ts';
import { inSubnet, ipsInUse, networkSubnets } from './podman/network.ts';
import { portFree } from './ports.ts';
import { fileTarget, receiveArchive, streamTarget, type Target } from './transfer/receive.ts';
import { hashPrefix } from './transfer/send.ts';
import { UNKNOWN_SIZE, type ArchiveHeader, type StreamKind } from './transfer/chunks.ts';
import { extractData } from './data/extract.ts';
import { packEntries } from './data/pack.ts';
import { delta, scan, type Entry, type Manifest } from './data/scan.ts';
import { dropReplaced, leftPath, pathState, promote, stagingResolver, unstage } from './data/staging.ts';
import { sendArchive, sendStream } from './transfer/send.ts';

export const AGENT_VERSION = '0.1.0';

export interface AgentConfig {
  name: string;
  listen: string;
  stateDir: string;
  podman: Podman;
  log: Logger;
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

const IMAGE_WILL_BE_SENT = 'image will be sent';

/** The host paths a container bind-mounts: the data that must travel with it. */
export function bindMountPaths(container: ContainerInfo): string[] {
  return [...new Set(container.mounts.filter((m) => m.type === 'bind').map((m) => m.source))].sort();
}

const DEFAULT_RECEIVE_TTL_MS = 10 * 60_000;
const PROGRESS_EVERY_BYTES = 8 * 1024 * 1024;
/** How long a broken transfer keeps being resumed before the migration rolls back. */
export const DEFAULT_TRANSFER_RETRY_MS = 30_000;
const SENT = SENT_OUTCOME;

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
    this.#busy.set(id, (this.#busy.get(id) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const left = (this.#busy.get(id) ?? 1) - 1;
      if (left) this.#busy.set(id, left);
      else this.#busy.delete(id);
    }
  }

  async status(migrationId: string): Promise<{ role: string; phase: string; outcome: string; idleMs: number; busy: boolean; receivedBytes: number }> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
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
      ...host,
    };
  }

  list(all: boolean): Promise<ContainerSummary[]> {
    return listContainers(this.config.podman, all);
  }

  inspect(container: string): Promise<ContainerInfo> {
    requireText(container, 'container');
    return inspectContainer(this.config.podman, container);
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
    const checks = await this.#destinationChecks(container, dataPaths, request.replaceData);
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

  async #destinationChecks(container: ContainerInfo, dataPaths: readonly string[], replaceData: boolean): Promise<PreflightCheck[]> {
    const podman = this.config.podman;
    const checks: PreflightCheck[] = [];
    const info = await this.#info();
    checks.push({
      name: 'criu',
      ok: info.criuCheckOk,
      detail: info.criuCheckOk ? `criu ${info.criuVersion}` : `criu check fails on ${this.config.name}: ${info.criuCheckOutput}`,
    });
    const busy = this.journal.active().find((r) => r.containerId === container.id);
    checks.push({
      name: 'busy',
      ok: !busy,
      detail: busy ? `migration ${busy.id} of this container is already in phase ${busy.phase} here` : 'no other migration',
    });
    const sameName = (await findContainer(podman, container.name)) ?? (await findContainer(podman, container.id));
    checks.push({
      name: 'name',
      ok: !sameName,
      detail: sameName
        ? `${this.config.name} already has a container "${sameName.name}" (${sameName.id.slice(0, 12)}, ${sameName.state}); remove it first`
        : 'no container with this name or ID',
    });
    const image = container.imageId ? await hasImage(podman, container.imageId) : false;
    checks.push({
      name: 'image',
      ok: true,
      detail: image
        ? `image ${container.imageId.slice(0, 12)} present`
        : `${IMAGE_WILL_BE_SENT}: ${container.imageName || container.imageId} (${container.imageId.slice(0, 12)}) is not on ${this.config.name}`,
    });
    for (const path of dataPaths) {
      const state = await pathState(path);
      const ok = state !== 'occupied' || replaceData;
      checks.push({
        name: 'data',
        ok,
        detail:
          state === 'occupied'
            ? replaceData
              ? `${path} exists on ${this.config.name} and will be replaced (kept aside until commit)`
              : `${path} already exists on ${this.config.name} and is not empty; move it away, or pass --replace-data to replace it`
            : `${path} is free`,
      });
    }
    // --tcp-established keeps the container's IP: the destination needs its network, a subnet
    // that holds the IP, and no container of its own on it.
    const [subnets, used] = await Promise.all([networkSubnets(podman), ipsInUse(podman)]);
    for (const network of container.networks) {
      const have = subnets.get(network);
      checks.push({
        name: 'network',
        ok: have !== undefined,
        detail: have ? `network ${network} present (${have.join(', ')})` : `network ${network} does not exist on ${this.config.name}; create it with the same subnet`,
      });
    }
    const allSubnets = [...subnets.values()].flat();
    for (const ip of container.ipAddresses) {
      const holder = used.get(ip);
      const fits = allSubnets.some((cidr) => inSubnet(ip, cidr));
      checks.push({
        name: 'ip',
        ok: fits && !holder,
        detail: holder
          ? `IP ${ip} is used by container ${holder} on ${this.config.name}; the restored container must keep it for its TCP connections`
          : fits
            ? `IP ${ip} free`
            : `IP ${ip} is outside every network subnet on ${this.config.name} (${allSubnets.join(', ') || 'none'})`,
      });
    }
    const published = (await listContainers(podman, false)).flatMap((c) => c.ports.map((p) => ({ ...p, owner: c.name })));
    for (const port of container.ports) {
      const owner = published.find((p) => p.hostPort === port.hostPort && p.protocol === port.protocol);
      const free = !owner && (await portFree(port.hostPort, port.protocol, port.hostIp));
      checks.push({
        name: 'port',
        ok: free,
        detail: free
          ? `${port.protocol} port ${port.hostPort} free`
          : owner
            ? `port ${port.hostPort}/${port.protocol} is already published by container ${owner.owner} on ${this.config.name}`
            : `port ${port.hostPort}/${port.protocol} is in use by a process on ${this.config.name}`,
      });
    }
    return checks;
  }

  /** Source: checkpoint, then send the archive straight to the destination agent. */
  async checkpointAndSend(
    request: {
      migrationId: string;
      container: string;
      destinationHost: string;
      destinationAddress: string;
      compress: string;
      timeoutMs: number;
      sendImage: boolean;
      ignoreBindMounts: boolean;
      noPresync: boolean;
      transferRetryMs: number;
    },
    emit: (event: MigrationEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    requireMigrationId(request.migrationId);
    requireText(request.container, 'container');
    requireText(request.destinationHost, 'destination_host');
    requireText(request.destinationAddress, 'destination_address');
    const compress = (request.compress || 'none') as Compression;
    if (!COMPRESSIONS.includes(compress)) {
      throw new FerryError('BAD_REQUEST', `compress must be one of ${COMPRESSIONS.join(', ')}, not "${request.compress}"`);
    }
    if (request.destinationHost === this.config.name) {
      throw new FerryError('SAME_HOST', `the destination ${request.destinationHost} is this host`);
    }
    const podman = this.config.podman;
    const container = await inspectContainer(podman, request.container, { signal });
    if (container.state !== 'running') {
      throw new FerryError('CONTAINER_NOT_RUNNING', `container ${container.name} is ${container.state}, not running`, { phase: 'checkpoint' });
    }
    const busy = this.journal.active().find((r) => r.containerId === container.id);
    if (busy) throw new FerryError('MIGRATION_BUSY', `container ${container.name} is already being migrated (${busy.id}, ${busy.phase})`);

    const log = this.config.log.child({ migrationId: request.migrationId, container: container.name });
    const record = await this.journal.create({
      id: request.migrationId,
      role: 'source',
      container: container.name,
      containerId: container.id,
      peer: request.destinationHost,
      peerAddress: request.destinationAddress,
      phase: 'checkpoint',
      archivePath: join(this.archiveDir, `${request.migrationId}.tar`),
      touched: true,
      dataPaths: request.ignoreBindMounts ? [] : bindMountPaths(container),
    });
    const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : undefined;
    let phase: 'checkpoint' | 'transfer' = 'checkpoint';
    try {
      const client = agentClient(request.destinationAddress);
      const peer = new AgentConnection({ name: request.destinationHost, agent: request.destinationAddress });
      const retryMs = request.transferRetryMs > 0 ? request.transferRetryMs : DEFAULT_TRANSFER_RETRY_MS;
      /** Runs a transfer again while its errors say a retry may help, for at most retryMs. */
      const retrying = <T>(stream: StreamKind, attempt: (n: number) => Promise<T>) =>
        pRetry(attempt, {
          retries: 1_000,
          minTimeout: 250,
          maxTimeout: 2_000,
          maxRetryTime: retryMs,
          signal,
          shouldRetry: ({ error }) => !signal.aborted && FerryError.from(error).retryable,
          onFailedAttempt: ({ error, attemptNumber }) => {
            log.warn({ stream, attempt: attemptNumber, err: error.message }, 'transfer attempt failed');
            emit({ retrying: { stream, attempt: attemptNumber, error: FerryError.from(error).message } });
          },
        });
      try {
        const send = (kind: StreamKind, round: number, source: AsyncIterable<Buffer>, totalBytes = UNKNOWN_SIZE) =>
          sendStream({
            source,
            totalBytes,
            kind,
            round,
            migrationId: record.id,
            sourceHost: this.config.name,
            destinationHost: request.destinationHost,
            client,
            signal,
          });
        // Everything slow happens while the container still runs: the image, and the bulk of its
        // bind-mounted data. Hooks too: a failure here has frozen nothing.
        if (request.sendImage) {
          const started = performance.now();
          // docker-archive keeps the image's name and its ID (the config digest) through the load.
          const image = container.imageName || container.imageId;
          const sent = await retrying('image', async () => {
            const save = podman.spawn(['image', 'save', '--quiet', '--format', 'docker-archive', image], { signal });
            const [result] = await Promise.all([
              send('image', 0, save.stdout as AsyncIterable<Buffer>).catch((error: unknown) => {
                save.kill();
                throw error;
              }),
              save,
            ]);
            return result;
          });
          emit({ imageSent: { image: container.imageName || container.imageId, bytes: sent.bytes, ms: Math.round(performance.now() - started) } });
        }
        const dataPaths = record.dataPaths ?? [];
        const syncData = async (round: number, entries: Entry[], removals: string[]) => {
          const started = performance.now();
          // A broken data stream is sent again whole: applying it twice gives the same tree.
          const { packed, dirty } = await retrying('data', async () => {
            const packed = packEntries(entries, removals, (entry) => log.warn({ path: entry.path }, 'not a file, directory or link: skipped'));
            const [, dirty] = await Promise.all([send('data', round, packed.stream), packed.done]);
            return { packed, dirty };
          });
          emit({
            dataSynced: {
              round,
              bytes: packed.contentBytes(),
              entries: entries.length,
              removed: removals.length,
              ms: Math.round(performance.now() - started),
              paths: dataPaths,
            },
          });
          return dirty;
        };
        let sentManifest: Manifest | undefined;
        let dirty = new Set<string>();
        if (dataPaths.length && request.noPresync) sentManifest = new Map();
        if (dataPaths.length && !request.noPresync) {
          sentManifest = await scan(dataPaths);
          dirty = await syncData(0, [...sentManifest.values()], []);
        }
        await runHook(podman, container.id, container.labels, 'preCheckpoint', { signal });
        const validation = (await runHook(podman, container.id, container.labels, 'validate', { signal })) ?? '';
        log.info({ phase }, 'checkpointing');
        const started = performance.now();
        const stats = await checkpoint(podman, { container: container.id, exportPath: record.archivePath, compress }, { signal, timeoutMs });
        const checkpointMs = Math.round(performance.now() - started);
        const { size } = await stat(record.archivePath);
        emit({ checkpointed: { checkpointMs, archiveBytes: size, validation, frozenMs: stats.frozenMs ?? 0 } });
        log.info({ phase, checkpointMs, frozenMs: stats.frozenMs, bytes: size }, 'checkpointed');

        phase = 'transfer';
        await this.journal.advance(record.id, 'transfer');
        if (sentManifest) {
          // Frozen now: only what changed since the first round still has to go.
          const change = delta(sentManifest, await scan(dataPaths), dirty);
          await syncData(1, change.send, change.remove);
        }
        let reported = 0;
        const sent = await retrying('checkpoint', async (attempt) => {
          // After a break, continue from what the destination has kept.
          const resumeFrom =
            attempt === 1
              ? 0
              : Number(
                  (
                    await peer.status(record.id, { timeoutMs: 5_000 }).catch((error: unknown) => {
                      throw new FerryError('TRANSFER_FAILED', `cannot resume the transfer: ${FerryError.from(error).message}`, {
                        phase: 'transfer',
                        cause: error,
                      });
                    })
                  ).receivedBytes,
                );
          if (resumeFrom) emit({ retrying: { stream: 'checkpoint', attempt, error: '', resumeFrom } });
          return sendArchive({
            path: record.archivePath,
            migrationId: record.id,
            sourceHost: this.config.name,
            destinationHost: request.destinationHost,
            client,
            signal,
            resumeFrom,
            onProgress: (bytes, total) => {
              if (bytes - reported >= PROGRESS_EVERY_BYTES || bytes === total) {
                reported = bytes;
                emit({ progress: { bytes, totalBytes: total } });
              }
            },
          });
        });
        await this.journal.update(record.id, { outcome: SENT });
        emit({ transferred: { bytes: sent.bytes, transferMs: sent.ms, sha256: sent.sha256 } });
        log.info({ phase, bytes: sent.bytes, ms: sent.ms }, 'archive sent');
      } finally {
        client.close();
        peer.close();
      }
    } catch (error) {
      // Until the destination restores, the source copy is the container: bring it back now
      // rather than wait for a coordinator that may be gone.
      const failure = FerryError.from(error, { phase, host: this.config.name });
      log.error({ phase, code: failure.code, err: failure.message }, 'checkpoint/send failed; rolling back');
      await this.rollback(record.id, failure.message).catch((rollbackError: unknown) => {
        log.error({ err: String(rollbackError) }, 'rollback after failed send failed');
      });
      // The destination may hold staged data or a partial archive; tell it, in case nobody else can.
      const peer = new AgentConnection({ name: request.destinationHost, agent: request.destinationAddress });
      await peer
        .rollback(record.id, failure.message, { timeoutMs: 30_000 })
        .catch((peerError: unknown) => log.warn({ err: String(peerError) }, 'could not roll back the destination'))
        .finally(() => peer.close());
      throw failure;
    }
  }

  /** Destination: a stream of a prepared migration (its image, its data, its checkpoint). */
  async receive(messages: AsyncIterable<TransferChunk__Output>): Promise<{ bytes: number; sha256: string }> {
    let accepted: string | undefined;
    const release = () => {
      if (accepted) this.#busy.set(accepted, (this.#busy.get(accepted) ?? 1) - 1);
      if (accepted && !this.#busy.get(accepted)) this.#busy.delete(accepted);
    };
    try {
      const result = await receiveArchive(messages, async (header) => {
        const target = await this.#accept(header);
        accepted = header.migrationId;
        this.#busy.set(accepted, (this.#busy.get(accepted) ?? 0) + 1);
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
      release();
    }
  }

  #imagePath(id: string): string {
    return join(this.archiveDir, `${id}.image.tar`);
  }

  /** Whether this migration expects this stream now, and where its bytes go. */
  async #accept(header: ArchiveHeader): Promise<Target> {
    requireMigrationId(header.migrationId);
    const record = this.journal.require(header.migrationId);
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
        return streamTarget((input) => extractData(input, resolve));
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

  commit(migrationId: string): Promise<string> {
    return this.#serialize(migrationId, () => this.#commit(migrationId));
  }

  rollback(migrationId: string, reason: string): Promise<string> {
    return this.#serialize(migrationId, () => this.#rollback(migrationId, reason));
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
      if (record.phase !== 'transfer' || record.outcome !== SENT) {
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

function requireText(value: string | undefined, field: string): void {
  if (!value || typeof value !== 'string') throw new FerryError('BAD_REQUEST', `${field} is required`);
  if (value.length > 256) throw new FerryError('BAD_REQUEST', `${field} is longer than 256 characters`);
}

function requireMigrationId(id: string | undefined): void {
  requireText(id, 'migration_id');
  if (!validMigrationId(id as string)) throw new FerryError('BAD_REQUEST', `"${id}" is not a valid migration ID`);
}
