// What an agent does, independent of gRPC: server.ts maps RPCs onto these methods, the data port
// (dataplane/) hands incoming streams to acceptStream. The service owns the journal, the busy
// bookkeeping and the per-migration locks; each role's steps live in their own rooms (source/,
// destination/) and get a narrow context, not the service. Both roles commit or roll back what
// they did, idempotently, from their journal.
import { mkdir, readdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../common/errors.ts';
import { notAfter, type TlsFiles } from '../common/pki.ts';
import type { Caller } from '../common/rpc.ts';
import { Dialer } from '../common/dial.ts';
import { ParkBook } from './park/book.ts';
import { Cordon } from './fleet/cordon.ts';
import { Origins, type OriginView } from './fleet/origins.ts';
import { parkContainers, unparkContainers, type ParkContext, type ParkProgress, type ParkResult } from './park/park.ts';
import { hostAddress } from '../common/tcp.ts';
import { JOURNAL_PHASE, ROLE } from '../common/wire.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../proto/gen/ferry/v1/ContainerInfo.ts';
import type { ContainerSummary__Output as ContainerSummary } from '../proto/gen/ferry/v1/ContainerSummary.ts';
import type { InfoReply } from '../proto/gen/ferry/v1/InfoReply.ts';
import type { MigrationEvent } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import type { MigrationStatusReply } from '../proto/gen/ferry/v1/MigrationStatusReply.ts';
import type { OpenStreamReply } from '../proto/gen/ferry/v1/OpenStreamReply.ts';
import type { OpenStreamRequest__Output } from '../proto/gen/ferry/v1/OpenStreamRequest.ts';
import type { PreflightCheck } from './destination/checks.ts';
import type { PrepareReceiveRequest__Output as PrepareReceiveRequest } from '../proto/gen/ferry/v1/PrepareReceiveRequest.ts';
import type { TakeAddressRequest__Output as TakeAddressRequest } from '../proto/gen/ferry/v1/TakeAddressRequest.ts';
import { cpuinfoDump } from './criu/cpuinfo.ts';
import { bindMountPaths } from './data/bind-mounts.ts';
import { Grants } from './dataplane/grants.ts';
import type { AcceptedStream, StreamOpen } from './dataplane/server.ts';
import { Inbox } from './destination/inbox.ts';
import { releaseOrphanedImport } from './destination/import-feed.ts';
import type { RestoreOutcome } from './destination/restore.ts';
import { restoreCall, type Restoring } from './destination/restore-call.ts';
import { recreateFlows } from './address/move.ts';
import { prepareReceive } from './destination/prepare.ts';
import { acceptStream, grantStream, type StreamsContext } from './destination/streams.ts';
import type { HostContext } from './context.ts';
import { Journal, type MigrationRecord } from './journal.ts';
import { listMigrations } from './history.ts';
import type { ListMigrationsReply } from '../proto/gen/ferry/v1/ListMigrationsReply.ts';
import type { ListMigrationsRequest__Output as ListMigrationsRequest } from '../proto/gen/ferry/v1/ListMigrationsRequest.ts';
import type { Logger } from './log.ts';
import { memAvailableBytes } from './meminfo.ts';
import { hostInfo, type HostInfo } from './podman/info.ts';
import { inspectContainer, listContainers } from './podman/inspect.ts';
import { examine as examineContainer } from './criu/obstacles.ts';
import type { Podman } from './podman/podman.ts';
import { cgroupMemoryBytes, dataBytes } from './podman/size.ts';
import { checkpointAndSend, type SourceContext } from './source/checkpoint-and-send.ts';
import type { CheckpointAndSendRequest__Output as CheckpointAndSendRequest } from '../proto/gen/ferry/v1/CheckpointAndSendRequest.ts';
import { commitHere } from './settle/commit.ts';
import type { SettleContext } from './settle/context.ts';
import { rollbackHere } from './settle/rollback.ts';
import { requireMigrationId, requireText } from './validate.ts';
import { containerUnit, unitObstacle } from './systemd/unit.ts';
import { describePolicy, loadPolicy, POLICY_PATH } from './admission/policy.ts';
import { containerDirectory } from './podman/inspect.ts';

export const AGENT_VERSION = '0.1.0';

export interface AgentConfig {
  name: string;
  listen: string;
  stateDir: string;
  podman: Podman;
  log: Logger;
  /** Mutual TLS for this agent's server and its calls to peers; absent with --insecure. */
  tls?: TlsFiles | undefined;
  /** This host's own address (where its published ports answer); the --listen host when absent. */
  address?: string | undefined;
  /** How this agent reaches its peers (with `tls`); plain connections when absent. */
  dialer?: Dialer | undefined;
  /** This host's admission policy file (admission/policy.ts); /etc/ferry/policy.json when absent. */
  policyPath?: string | undefined;
}


export class AgentService {
  readonly config: AgentConfig;
  readonly journal: Journal;
  readonly grants = new Grants();
  /** The port of this agent's data plane, once it listens (main.ts). */
  dataPort = 0;
  readonly #started = Date.now();
  readonly #dialer: Dialer;
  #hostInfo: Promise<HostInfo> | undefined;
  #cpuinfo: Promise<Buffer> | undefined;
  /** Migrations an RPC or a stream is working on right now: the reconciler leaves them alone. */
  readonly #busy = new Map<string, number>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Destination: what has arrived of each migration, for the restore that follows it. */
  readonly #inboxes = new Map<string, Inbox>();
  /** Destination: restores under way, so that a rollback can stop one before undoing it. */
  readonly #restoring: Restoring = new Map();
  /** Aborted when a migration is rolled back here: its open streams are cut. */
  readonly #cancels = new Map<string, AbortController>();
  /** Containers here that run but did not answer when resumed (by ID): shown by ps and hosts until a resume answers. */
  readonly #problems = new Map<string, { name: string; problem: string }>();
  readonly #openStreams = new Set<string>();
  /** Where this host's published ports answer (from --listen; it does not change while the agent runs). */
  readonly #address: string;

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

  /** The journal's migrations, newest first, with their phases' times: ferry history and ferry status (history.ts). */
  listMigrations(request: ListMigrationsRequest): ListMigrationsReply {
    return listMigrations(this.journal, request);
  }

  async status(migrationId: string, caller?: Caller): Promise<MigrationStatusReply> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    this.#requirePeer(record, caller, 'ask about');
    return {
      role: ROLE.toWire(record.role),
      phase: JOURNAL_PHASE.toWire(record.phase),
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
      inbox = new Inbox({ verified: record.received && { ...record.received, at: performance.now() }, dataRound: record.dataRound ?? -1, pages: record.pagesReceived });
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

  /** What every step gets of this agent; each adds what it alone needs. */
  get #hostContext(): HostContext {
    return { host: this.config.name, address: this.#address, podman: this.config.podman, journal: this.journal, log: this.config.log, archiveDir: this.archiveDir, stateDir: this.config.stateDir, policyPath: this.config.policyPath ?? POLICY_PATH };
  }

  get #streams(): StreamsContext {
    return {
      ...this.#hostContext,
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
    this.#address = config.address ?? hostAddress(config.listen);
    this.#dialer = config.dialer ?? new Dialer({ tls: config.tls, preferDirect: true });
    this.journal = new Journal(config.stateDir);
    this.parked = new ParkBook(config.stateDir);
    this.cordon = new Cordon(config.stateDir);
    this.origins = new Origins(config.stateDir);
  }

  /** Whether placement keeps away from this host (fleet/cordon.ts). */
  readonly cordon: Cordon;
  /** The containers here that an evacuation of another host brought (fleet/origins.ts). */
  readonly origins: Origins;

  /** ferry return: this host's containers evacuated from `origin`, each with whether it is still here. */
  async listOrigins(origin: string, forgetEnded = false): Promise<OriginView[]> {
    const present = new Set((await listContainers(this.config.podman, true)).map((c) => c.id));
    return this.origins.list(origin, async (id) => present.has(id), forgetEnded);
  }

  /** Containers parked on this host's disk across a reboot (park/). */
  readonly parked: ParkBook;
  /** Set once the agent is stopping: in-flight work goes on, new work is refused (main.ts). */
  #stopping = false;
  /** One park or unpark at a time: both walk this host's containers. */
  #parking: Promise<unknown> = Promise.resolve();
  #parkingNow = 0;

  /** Whether a park or unpark is under way. */
  get parking(): boolean {
    return this.#parkingNow > 0;
  }

  #queueParking(work: () => Promise<ParkResult[]>): Promise<ParkResult[]> {
    this.#parkingNow += 1;
    const run = this.#parking.catch(() => undefined).then(work).finally(() => { this.#parkingNow -= 1; });
    this.#parking = run;
    return run;
  }

  /** From now on new migrations and parks are refused; those under way are finished or rolled back. */
  stop(): void {
    this.#stopping = true;
  }

  #refuseWhenStopping(what: string): void {
    if (this.#stopping) {
      throw new FerryError('AGENT_STOPPING', `the agent on ${this.config.name} is stopping and takes no new ${what}`, { host: this.config.name });
    }
  }

  get #parkContext(): ParkContext {
    return { ...this.#hostContext, book: this.parked };
  }

  /** Checkpoints running containers to this host's disk (park/park.ts), one result each as it is done. */
  park(names: readonly string[], progress: ParkProgress): Promise<ParkResult[]> {
    this.#refuseWhenStopping('park');
    return this.#queueParking(() => parkContainers(this.#parkContext, names, progress));
  }

  /** Restores parked containers, checks them and drops their checkpoints (park/park.ts). */
  unpark(names: readonly string[], progress: ParkProgress): Promise<ParkResult[]> {
    this.#refuseWhenStopping('unpark');
    return this.#queueParking(() => unparkContainers(this.#parkContext, names, progress));
  }

  get archiveDir(): string {
    return join(this.config.stateDir, 'archives');
  }

  async open(): Promise<void> {
    await mkdir(this.config.stateDir, { recursive: true, mode: 0o700 });
    await mkdir(this.archiveDir, { recursive: true, mode: 0o700 });
    const records = await this.journal.open();
    await this.parked.open();
    await this.cordon.open();
    await this.origins.open();
    const open = new Set(this.journal.active().map((r) => r.id));
    for (const name of await readdir(this.archiveDir)) {
      const id = name.replace(/(\.image\.tar|\.tar|\.import)$/, '');
      // First, before any podman command: an import the previous agent was feeding may still wait
      // on one of its FIFOs, holding its container's lock (destination/import-feed.ts). Removing
      // the FIFO would not free it: podman's open(2) already holds the inode.
      if (name.endsWith('.import') && (await releaseOrphanedImport(join(this.archiveDir, name)))) {
        this.config.log.warn({ migrationId: id }, "released a podman import the agent's previous run left waiting for its archive");
      }
      // Archives of migrations that are over (a crash between the end and the clean-up) go now.
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
    const [host, fs, cpuinfo, freeMemoryBytes] = await Promise.all([
      this.#info(),
      statfs(this.config.stateDir),
      (this.#cpuinfo ??= cpuinfoDump().catch(() => Buffer.alloc(0))),
      memAvailableBytes(),
    ]);
    return {
      host: this.config.name,
      agentVersion: AGENT_VERSION,
      listen: this.config.listen,
      uptimeMs: Date.now() - this.#started,
      freeDiskBytes: fs.bavail * fs.bsize,
      freeMemoryBytes,
      cpuinfo,
      certNotAfter: this.config.tls ? notAfter(this.config.tls.cert) : '',
      cordon: this.cordon.state,
      admission: await loadPolicy(this.#hostContext.policyPath).then(describePolicy, (error: unknown) => `BROKEN: ${(error as Error).message}`),
      dataPort: this.dataPort,
      problems: [...this.#problems.values()].map((p) => `${p.name}: ${p.problem}`),
      ...host,
    };
  }

  async list(all: boolean): Promise<ContainerSummary[]> {
    const containers = await listContainers(this.config.podman, all);
    return containers.map((c) => ({ ...c, problem: this.#problems.get(c.id)?.problem ?? '' }));
  }

  /** `examine`: also read its processes for what would stop CRIU (criu/obstacles.ts), as a preflight does. */
  async inspect(container: string, examine = false): Promise<ContainerInfo> {
    requireText(container, 'container');
    const info = await inspectContainer(this.config.podman, container);
    const [memory, data, readiness, unit, runtimeSpec] = await Promise.all([
      cgroupMemoryBytes(info.cgroupPath),
      dataBytes(bindMountPaths(info)),
      examine && info.state === 'running' ? examineContainer(this.config.podman, info.id) : Promise.resolve(null),
      containerUnit(this.config.podman, info),
      // What runc runs it with: the destination's admission policy judges it in the preflight.
      containerDirectory(this.config.podman, info.id).then((dir) => readFile(join(dir, 'config.json')), () => Buffer.alloc(0)).catch(() => Buffer.alloc(0)),
    ]);
    const refused = unitObstacle(unit);
    if (readiness && refused) readiness.obstacles.push(refused);
    return { ...info, estimatedBytes: memory + data, readiness, unit, runtimeSpec };
  }

  /** Destination: checks that this host can take the container, then expects its archive (destination/prepare.ts). */
  async prepareReceive(request: PrepareReceiveRequest): Promise<{ checks: PreflightCheck[]; needsImage: boolean }> {
    if (!request.dryRun) {
      this.#refuseWhenStopping('migrations');
      await this.#dropAbandoned(request);
    }
    return prepareReceive({ ...this.#hostContext, info: await this.#info(), cordon: this.cordon.state }, request);
  }

  /**
   * A receive of the same container that was prepared and never began (no stream came, nobody
   * works on it) was abandoned by its coordinator between preflight and checkpoint: the new
   * request replaces it rather than wait for its grant to expire. Should that coordinator go on
   * after all, its source finds the grant gone and resumes the container.
   */
  async #dropAbandoned(request: PrepareReceiveRequest): Promise<void> {
    const containerId = request.container?.id;
    if (!containerId) return;
    for (const old of this.journal.active()) {
      if (old.id === request.migrationId || old.role !== 'destination' || old.containerId !== containerId || old.phase !== 'preflight' || old.touched || this.isBusy(old.id)) continue;
      await this.track(old.id, () => this.rollback(old.id, `replaced by migration ${request.migrationId} of the same container before any of it arrived`));
    }
  }

  /** Source: checkpoint, streaming the archive to the destination agent (see source/). */
  checkpointAndSend(request: CheckpointAndSendRequest, emit: (event: MigrationEvent) => void, signal: AbortSignal): Promise<void> {
    this.#refuseWhenStopping('migrations');
    const context: SourceContext = {
      ...this.#hostContext,
      dialer: this.#dialer,
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
  restore(migrationId: string, expectedValidation: string, timeoutMs: number, signal: AbortSignal, fileLocks = false): Promise<RestoreOutcome> {
    requireMigrationId(migrationId);
    const context = { ...this.#hostContext, restoring: this.#restoring, inbox: (record: MigrationRecord) => this.#inbox(record), rollback: (id: string, reason: string) => this.rollback(id, reason) };
    return restoreCall(context, { migrationId, expectedValidation, timeoutMs, fileLocks }, signal);
  }

  /**
   * Destination: the source gave up the container's service address at the freeze. Its flows'
   * conntrack entries go in now, and the restore waits for them; the address itself comes once
   * the container is restored (restore.ts), because a client's packet that reached the
   * container's network before CRIU put its sockets back would be answered with a reset.
   */
  async takeAddress(request: TakeAddressRequest, caller?: Caller): Promise<void> {
    requireMigrationId(request.migrationId);
    const record = this.journal.require(request.migrationId);
    this.#requirePeer(record, caller, 'move the address of');
    if (record.role !== 'destination' || !record.serviceAddress || record.serviceAddress !== request.address) {
      throw new FerryError('BAD_REQUEST', `migration ${record.id} has no service address ${request.address} to take here`, { phase: 'restore' });
    }
    if (!['preflight', 'transfer', 'received', 'restore'].includes(record.phase)) {
      throw new FerryError('BAD_REQUEST', `migration ${record.id} is in phase ${record.phase}: too late to take its address`, { phase: 'restore' });
    }
    // Kept in the journal first: a rollback forgets them again, even after a restart.
    await this.journal.update(record.id, { flows: request.flows });
    await recreateFlows(request.flows);
    this.#inbox(record).takenAddress();
    this.config.log.info({ migrationId: record.id, address: request.address, flows: request.flows.length }, "recreated the service address's flows");
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

  /** `downtimeMs`: the outage as the coordinator measured it, journaled (and observed by a destination's metrics). */
  commit(migrationId: string, caller?: Caller, downtimeMs?: number): Promise<string> {
    this.#requirePeerOf(migrationId, caller, 'commit');
    return this.#serialize(migrationId, async () => {
      if (downtimeMs !== undefined) await this.#noteDowntime(migrationId, downtimeMs);
      return commitHere(this.#settle, migrationId);
    });
  }

  async #noteDowntime(migrationId: string, downtimeMs: number): Promise<void> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.phase === 'failed' || !Number.isSafeInteger(downtimeMs) || downtimeMs < 0) return;
    await this.journal.update(migrationId, { downtimeMs });
  }

  /**
   * `peerRolledBack`: the destination confirmed it holds no copy. A source whose whole archive
   * may have reached the destination resumes only with that confirmation.
   */
  rollback(migrationId: string, reason: string, caller?: Caller, peerRolledBack = false): Promise<string> {
    this.#requirePeerOf(migrationId, caller, 'roll back');
    return this.#serialize(migrationId, () => rollbackHere(this.#settle, migrationId, reason, peerRolledBack));
  }

  #requirePeerOf(migrationId: string, caller: Caller | undefined, what: string): void {
    if (!caller) return;
    requireMigrationId(migrationId);
    this.#requirePeer(this.journal.require(migrationId), caller, what);
  }

  get #settle(): SettleContext {
    return {
      ...this.#hostContext,
      stopReceiving: (id) => this.#stopReceiving(id),
      over: (id) => {
        this.#inboxes.delete(id);
        this.#cancels.delete(id);
      },
      problems: this.#problems,
      origins: this.origins,
    };
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
