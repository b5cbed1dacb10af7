// What an agent does, independent of gRPC: server.ts maps RPCs onto these methods, the data port
// (dataplane/) hands incoming streams to acceptStream. The service owns the journal, the busy
// bookkeeping and the per-migration locks; each role's steps live in their own rooms (source/,
// destination/) and get a narrow context, not the service. Both roles commit or roll back what
// they did, idempotently, from their journal.
import { mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, type ErrorCode } from '../common/errors.ts';
import { notAfter, type TlsFiles } from '../common/pki.ts';
import type { Caller } from '../common/rpc.ts';
import { hostAddress, silentTcpPorts } from '../common/tcp.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../proto/gen/ferry/v1/ContainerInfo.ts';
import type { ContainerSummary__Output as ContainerSummary } from '../proto/gen/ferry/v1/ContainerSummary.ts';
import type { InfoReply } from '../proto/gen/ferry/v1/InfoReply.ts';
import type { MigrationEvent } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import type { OpenStreamReply } from '../proto/gen/ferry/v1/OpenStreamReply.ts';
import type { OpenStreamRequest__Output } from '../proto/gen/ferry/v1/OpenStreamRequest.ts';
import type { PreflightCheck__Output as PreflightCheck } from '../proto/gen/ferry/v1/PreflightCheck.ts';
import { cpuinfoCheck, cpuinfoDump } from './criu/cpuinfo.ts';
import { bindMountPaths } from './data/bind-mounts.ts';
import { dropReplaced, leftPath, pathState, unstage } from './data/staging.ts';
import { Grants } from './dataplane/grants.ts';
import type { AcceptedStream, StreamOpen } from './dataplane/server.ts';
import { Inbox } from './destination/inbox.ts';
import { restoreArchive, type RestoreOutcome } from './destination/restore.ts';
import { acceptStream, grantStream, imagePath, type StreamsContext } from './destination/streams.ts';
import { Journal, mayBeWholeThere, type MigrationRecord } from './journal.ts';
import type { Logger } from './log.ts';
import { hostInfo, type HostInfo } from './podman/info.ts';
import { findContainer, inspectContainer, listContainers } from './podman/inspect.ts';
import type { Podman } from './podman/podman.ts';
import { removeContainer } from './podman/restore.ts';
import { cgroupMemoryBytes, dataBytes } from './podman/size.ts';
import { destinationChecks, IMAGE_WILL_BE_SENT } from './preflight.ts';
import { checkpointAndSend, type CheckpointAndSendInput, type SourceContext } from './source/checkpoint-and-send.ts';
import { resumeOnSource } from './source/resume.ts';
import { requireMigrationId, requireText } from './validate.ts';

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


const DEFAULT_RECEIVE_TTL_MS = 10 * 60_000;
/** How long each published port gets to answer before a restored container counts as verified. */
const VERIFY_WITHIN_MS = 10_000;

export class AgentService {
  readonly config: AgentConfig;
  readonly journal: Journal;
  readonly grants = new Grants();
  /** The port of this agent's data plane, once it listens (main.ts). */
  dataPort = 0;
  readonly #started = Date.now();
  #hostInfo: Promise<HostInfo> | undefined;
  #cpuinfo: Promise<Buffer> | undefined;
  /** Migrations an RPC or a stream is working on right now: the reconciler leaves them alone. */
  readonly #busy = new Map<string, number>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Destination: what has arrived of each migration, for the restore that follows it. */
  readonly #inboxes = new Map<string, Inbox>();
  /** Destination: restores under way, so that a rollback can stop one before undoing it. */
  readonly #restoring = new Map<string, { controller: AbortController; done: Promise<unknown> }>();
  /** Aborted when a migration is rolled back here: its open streams are cut. */
  readonly #cancels = new Map<string, AbortController>();
  /** Containers here that run but did not answer when resumed (by ID): shown by ps and hosts until a resume answers. */
  readonly #problems = new Map<string, { name: string; problem: string }>();
  readonly #openStreams = new Set<string>();

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

  #inbox(record: MigrationRecord): Inbox {
    let inbox = this.#inboxes.get(record.id);
    if (!inbox) {
      // After a restart: what the journal and the disk say has arrived.
      inbox = new Inbox({ verified: record.received && { ...record.received, at: performance.now() }, dataRound: record.dataRound ?? -1 });
      this.#inboxes.set(record.id, inbox);
      void stat(record.archivePath).then(
        (st) => inbox?.written || inbox?.wrote(st.size),
        () => undefined,
      );
    }
    return inbox;
  }

  #cancelled(id: string): AbortSignal {
    let controller = this.#cancels.get(id);
    if (!controller) {
      controller = new AbortController();
      this.#cancels.set(id, controller);
    }
    return controller.signal;
  }

  get #streams(): StreamsContext {
    return {
      host: this.config.name,
      podman: this.config.podman,
      journal: this.journal,
      log: this.config.log,
      archiveDir: this.archiveDir,
      grants: this.grants,
      dataPort: () => this.dataPort,
      inbox: (record) => this.#inbox(record),
      enter: (id) => this.#enter(id),
      leave: (id) => this.#leave(id),
      cancelled: (id) => this.#cancelled(id),
      openStreams: this.#openStreams,
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
      const id = name.replace(/(\.image\.tar|\.tar|\.import)$/, '');
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
      dataPort: this.dataPort,
      problems: [...this.#problems.values()].map((p) => `${p.name}: ${p.problem}`),
      ...host,
    };
  }

  async list(all: boolean): Promise<ContainerSummary[]> {
    const containers = await listContainers(this.config.podman, all);
    return containers.map((c) => ({ ...c, problem: this.#problems.get(c.id)?.problem ?? '' }));
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

  /** Source: checkpoint, streaming the archive to the destination agent (see source/). */
  checkpointAndSend(request: CheckpointAndSendInput, emit: (event: MigrationEvent) => void, signal: AbortSignal): Promise<void> {
    const context: SourceContext = {
      host: this.config.name,
      podman: this.config.podman,
      tls: this.config.tls,
      log: this.config.log,
      journal: this.journal,
      archiveDir: this.archiveDir,
      rollback: (id, reason, peerRolledBack) => this.rollback(id, reason, undefined, peerRolledBack),
    };
    return checkpointAndSend(context, request, emit, signal);
  }

  /** Destination, asked by the source the migration names: a one-time grant for one stream. */
  openStream(request: OpenStreamRequest__Output, caller?: Caller): Promise<OpenStreamReply> {
    return grantStream(this.#streams, request, caller);
  }

  /** Destination: a connection on the data port presents its grant. */
  acceptStream(open: StreamOpen, caller: Caller | undefined): Promise<AcceptedStream> {
    return acceptStream(this.#streams, open, caller);
  }

  /**
   * Destination: restore the archive. It may be asked before the archive is here: podman's
   * import then runs as the bytes arrive and finishes once the whole archive checked out.
   */
  async restore(migrationId: string, expectedValidation: string, timeoutMs: number, signal: AbortSignal): Promise<RestoreOutcome> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.role !== 'destination' || !['preflight', 'transfer', 'received'].includes(record.phase)) {
      throw new FerryError('BAD_REQUEST', `migration ${migrationId} has no archive to restore here (phase ${record.phase})`, { phase: 'restore' });
    }
    if (this.#restoring.has(migrationId)) {
      throw new FerryError('MIGRATION_BUSY', `a restore of migration ${migrationId} is already under way here`, { phase: 'restore' });
    }
    const controller = new AbortController();
    const context = {
      host: this.config.name,
      podman: this.config.podman,
      journal: this.journal,
      log: this.config.log,
      archiveDir: this.archiveDir,
      inbox: this.#inbox(record),
    };
    const done = restoreArchive(context, record, { expectedValidation, timeoutMs: timeoutMs > 0 ? timeoutMs : undefined }, AbortSignal.any([signal, controller.signal]));
    this.#restoring.set(migrationId, { controller, done });
    try {
      const outcome = await done;
      // Restored, not yet verified: the move is finished only once its ports were seen answering.
      await this.journal.advance(migrationId, 'restored', { ports: outcome.container.ports });
      return outcome;
    } catch (error) {
      const failure = FerryError.from(error, { phase: 'restore', host: this.config.name });
      if (this.journal.get(migrationId)?.phase === 'restore') {
        // podman had the whole archive and the restore failed anyway (or was cut off): what it
        // made here goes now, so that the source, told so, may resume. Nobody needs to come back for it.
        await this.rollback(migrationId, `${failure.code}: ${failure.message}`).catch((rollbackError: unknown) =>
          this.config.log.error({ migrationId, err: FerryError.from(rollbackError).message }, 'could not undo the failed restore'),
        );
      }
      throw failure;
    } finally {
      this.#restoring.delete(migrationId);
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

  /**
   * `peerRolledBack`: the destination confirmed it holds no copy. A source whose whole archive
   * may have reached the destination resumes only with that confirmation.
   */
  rollback(migrationId: string, reason: string, caller?: Caller, peerRolledBack = false): Promise<string> {
    this.#requirePeerOf(migrationId, caller, 'roll back');
    return this.#serialize(migrationId, () => this.#rollback(migrationId, reason, peerRolledBack));
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
    // A commit that a crash cut off (phase commit) goes on from where it was.
    const resumed = record.phase === 'commit';
    let outcome: string;
    if (record.role === 'source') {
      // Sealed without the word that podman's checkpoint succeeded: this agent died after the
      // archive went out whole, and the destination restored it (the reconciler checked).
      if (!resumed && !mayBeWholeThere(record)) {
        throw new FerryError('BAD_REQUEST', `migration ${migrationId} has not sent its archive from here (phase ${record.phase})`, { phase: 'commit' });
      }
      const current = await findContainer(this.config.podman, record.containerId);
      if (current?.state === 'running') {
        // The source copy runs again (someone restored it): deleting it would lose the live one.
        throw new FerryError('COMMIT_INCOMPLETE', `container ${record.container} is running on ${this.config.name}; not removing it`, {
          phase: 'commit',
        });
      }
      if (!resumed) await this.journal.advance(migrationId, 'commit');
      if (current) await removeContainer(this.config.podman, record.containerId);
      outcome = current ? 'removed the checkpointed source copy' : 'no source copy left to remove';
      const moved = await this.#setAsideData(record.dataPaths ?? [], migrationId);
      if (moved.length) outcome += `; its data left here as of the freeze: ${moved.join(', ')}`;
    } else {
      if (!resumed) {
        if (record.phase !== 'restored' && record.phase !== 'verified') {
          throw new FerryError('BAD_REQUEST', `migration ${migrationId} is not restored here (phase ${record.phase})`, { phase: 'commit' });
        }
        if (record.phase === 'restored') await this.#verifyHere(record);
        await this.journal.advance(migrationId, 'commit');
      }
      await dropReplaced(record.dataPaths ?? [], migrationId);
      outcome = 'kept the restored container';
    }
    await this.#removeFiles(migrationId, record);
    await this.journal.advance(migrationId, 'done', { outcome });
    this.#inboxes.delete(migrationId);
    this.#cancels.delete(migrationId);
    return outcome;
  }

  /**
   * Destination: restored becomes verified only when every published TCP port of the restored
   * container answers on this host, whoever asks for the commit (the coordinator checked from
   * outside already; recovery may not have).
   */
  async #verifyHere(record: MigrationRecord): Promise<void> {
    const address = hostAddress(this.config.listen);
    const dead = await silentTcpPorts(record.ports ?? [], (p) => (p.hostIp && p.hostIp !== '0.0.0.0' ? p.hostIp : address), VERIFY_WITHIN_MS);
    if (dead.length) {
      throw new FerryError('NOT_ANSWERING', `${record.container} was restored on ${this.config.name}, but its published port ${dead.join(', ')} does not answer there`, {
        phase: 'verify',
        host: this.config.name,
        hint: 'The move is not committed; roll it back (the source resumes its copy) or find out why the service does not answer.',
      });
    }
    await this.journal.advance(record.id, 'verified');
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
  async #rollback(migrationId: string, reason: string, peerRolledBack: boolean): Promise<string> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.phase === 'failed') return record.outcome ?? 'already rolled back';
    if (record.phase === 'done') {
      throw new FerryError('BAD_REQUEST', `migration ${migrationId} is already committed here; it cannot be rolled back`, { phase: 'rollback' });
    }
    if (mayBeWholeThere(record) && !peerRolledBack) {
      throw new FerryError('ROLLBACK_FAILED', `the whole archive of ${record.container} may have reached ${record.peer}, which did not confirm it holds no copy: the container stays frozen on ${this.config.name} rather than risk two running copies`, {
        phase: 'rollback',
        host: this.config.name,
        hint: `Make sure ${record.peer}'s agent is up; the agents settle it between them. Or check ${record.peer} with \`ferry ps\`: if it has no copy, run the rollback again.`,
      });
    }
    const log = this.config.log.child({ migrationId, phase: 'rollback' });
    if (record.role === 'destination') await this.#stopReceiving(migrationId);
    await this.journal.advance(migrationId, 'rollback', { outcome: reason });
    const podman = this.config.podman;
    let outcome: string;
    try {
      if (record.role === 'source') {
        outcome = await this.#resumeHere(record, log);
      } else {
        const current = await findContainer(podman, record.containerId);
        if (current) await removeContainer(podman, record.containerId);
        await unstage(record.dataPaths ?? [], migrationId, record.promoted ?? []);
        outcome = current ? 'removed the restored copy from the destination' : 'nothing was restored here';
      }
    } catch (error) {
      throw FerryError.from(error, { phase: 'rollback', host: this.config.name }).at('rollback', this.config.name);
    }
    await this.#removeFiles(migrationId, record);
    await this.journal.advance(migrationId, 'failed', { outcome });
    this.#inboxes.delete(migrationId);
    log.info({ outcome }, 'rolled back');
    return outcome;
  }

  /** The source's container, back and answering; one that runs without answering is remembered as a problem. */
  async #resumeHere(record: MigrationRecord, log: Logger): Promise<string> {
    try {
      const outcome = await resumeOnSource({ podman: this.config.podman, host: this.config.name, address: hostAddress(this.config.listen), log }, record);
      this.#problems.delete(record.containerId);
      return outcome;
    } catch (error) {
      const failure = FerryError.from(error);
      if (failure.code === 'NOT_ANSWERING') this.#problems.set(record.containerId, { name: record.container, problem: `${failure.code}: ${failure.message}` });
      throw failure;
    }
  }

  /** The archive, the image and the import's FIFOs (an agent killed mid-import leaves them). */
  async #removeFiles(migrationId: string, record: MigrationRecord): Promise<void> {
    await rm(record.archivePath, { force: true });
    await rm(imagePath(this.archiveDir, migrationId), { force: true });
    await rm(join(this.archiveDir, `${migrationId}.import`), { recursive: true, force: true });
  }

  /** Destination: cut the migration's streams, stop its restore, and wait for both to be gone. */
  async #stopReceiving(migrationId: string): Promise<void> {
    const stopped = new FerryError('CANCELLED', `migration ${migrationId} was rolled back on ${this.config.name}`, { phase: 'rollback' });
    this.grants.revoke(migrationId);
    this.#inboxes.get(migrationId)?.fail(stopped);
    this.#cancelled(migrationId);
    this.#cancels.get(migrationId)?.abort(stopped);
    const restoring = this.#restoring.get(migrationId);
    restoring?.controller.abort(stopped);
    await restoring?.done.catch(() => undefined);
    for (let i = 0; i < 100 && [...this.#openStreams].some((key) => key.startsWith(`${migrationId}:`)); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
