// What an agent does, independent of gRPC: server.ts maps RPCs onto these methods, the data port
// (dataplane/) hands incoming streams to acceptStream. The service is the facade: it owns the
// journal and what is held in memory of the migrations under way (in-flight.ts), and hands each
// role's steps (source/, destination/, settle/, park/) a narrow context, never itself.
import { mkdir, stat, statfs } from 'node:fs/promises';
import { sweepArchives } from './archives.ts';
import { InFlight } from './in-flight.ts';
import { ParkQueue } from './park/queue.ts';
import { takeAddress } from './address/take.ts';
import { listContainers } from './podman/inspect.ts';
import { inspectForMove } from './source/inspect.ts';
import { requireMigrationId } from './validate.ts';
import { dropAbandoned, prepareReceive } from './destination/prepare.ts';
import { restoreCall } from './destination/restore-call.ts';
import { isOver, Journal, type MigrationRecord } from './journal.ts';
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
import { HostFacts } from './host-facts.ts';
import { Grants } from './dataplane/grants.ts';
import type { AcceptedStream, StreamOpen } from './dataplane/server.ts';
import type { RestoreOutcome } from './destination/restore.ts';
import { acceptStream, grantStream, type StreamsContext } from './destination/streams.ts';
import type { HostContext } from './context.ts';
import { listMigrations } from './history.ts';
import type { ListMigrationsReply } from '../proto/gen/ferry/v1/ListMigrationsReply.ts';
import type { ListMigrationsRequest__Output as ListMigrationsRequest } from '../proto/gen/ferry/v1/ListMigrationsRequest.ts';
import type { Logger } from './log.ts';
import { memAvailableBytes } from './meminfo.ts';
import type { Podman } from './podman/podman.ts';
import { checkpointAndSend, type SourceContext } from './source/checkpoint-and-send.ts';
import type { CheckpointAndSendRequest__Output as CheckpointAndSendRequest } from '../proto/gen/ferry/v1/CheckpointAndSendRequest.ts';
import { commitHere } from './settle/commit.ts';
import type { SettleContext } from './settle/context.ts';
import { rollbackHere } from './settle/rollback.ts';
import { describePolicy, loadPolicy, POLICY_PATH } from './admission/policy.ts';

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
  /** Whether placement keeps away from this host (fleet/cordon.ts). */
  readonly cordon: Cordon;
  /** The containers here that an evacuation of another host brought (fleet/origins.ts). */
  readonly origins: Origins;
  /** Containers parked on this host's disk across a reboot (park/). */
  readonly parked: ParkBook;
  readonly #started = Date.now();
  readonly #dialer: Dialer;
  /** Where this host's published ports answer (from --listen; it does not change while the agent runs). */
  readonly #address: string;
  readonly #facts: HostFacts;
  /** What the agent holds in memory of the migrations under way (in-flight.ts). */
  readonly #inFlight = new InFlight();
  readonly #parking = new ParkQueue();
  /** Containers here that run but did not answer when resumed (by ID): shown by ps and hosts until a resume answers. */
  readonly #problems = new Map<string, { name: string; problem: string }>();
  /** Set once the agent is stopping: in-flight work goes on, new work is refused (main.ts). */
  #stopping = false;

  constructor(config: AgentConfig) {
    this.config = config;
    this.#address = config.address ?? hostAddress(config.listen);
    this.#dialer = config.dialer ?? new Dialer({ tls: config.tls, preferDirect: true });
    this.#facts = new HostFacts(config.podman);
    this.journal = new Journal(config.stateDir);
    this.parked = new ParkBook(config.stateDir);
    this.cordon = new Cordon(config.stateDir);
    this.origins = new Origins(config.stateDir);
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
    const unfinished = records.filter((r) => !isOver(r));
    await sweepArchives(this.archiveDir, new Set(unfinished.map((r) => r.id)), this.config.log);
    if (unfinished.length) {
      this.config.log.warn({ migrations: unfinished.map((r) => `${r.id}:${r.role}:${r.phase}`) }, 'unfinished migrations in the journal');
    }
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

  isBusy(id: string): boolean {
    return this.#inFlight.isBusy(id);
  }

  /** Marks the migration busy while `work` runs: the reconciler leaves it alone. */
  track<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.#inFlight.track(id, work);
  }

  /** Whether a park or unpark is under way. */
  get parking(): boolean {
    return this.#parking.busy;
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

  #requirePeerOf(migrationId: string, caller: Caller | undefined, what: string): MigrationRecord {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    this.#requirePeer(record, caller, what);
    return record;
  }

  /** What every step gets of this agent; each adds what it alone needs. */
  get #hostContext(): HostContext {
    return { host: this.config.name, address: this.#address, podman: this.config.podman, journal: this.journal, log: this.config.log, archiveDir: this.archiveDir, stateDir: this.config.stateDir, policyPath: this.config.policyPath ?? POLICY_PATH };
  }

  get #streams(): StreamsContext {
    const inFlight = this.#inFlight;
    return {
      ...this.#hostContext,
      grants: this.grants,
      dataPort: () => this.dataPort,
      inbox: (record) => inFlight.inboxFor(record),
      enter: (id) => inFlight.enter(id),
      leave: (id) => inFlight.leave(id),
      cancelled: (id) => inFlight.cancelled(id),
      openStreams: inFlight.openStreams,
    };
  }

  get #settle(): SettleContext {
    return {
      ...this.#hostContext,
      stopReceiving: (id) => this.#inFlight.stopReceiving(id, this.grants, this.config.name),
      over: (id) => this.#inFlight.over(id),
      problems: this.#problems,
      origins: this.origins,
    };
  }

  get #parkContext(): ParkContext {
    return { ...this.#hostContext, book: this.parked };
  }

  async info(): Promise<InfoReply> {
    const [host, fs, cpuinfo, freeMemoryBytes] = await Promise.all([
      this.#facts.versions(),
      statfs(this.config.stateDir),
      this.#facts.cpuinfo(),
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

  /** What the coordinator learns of a container before moving it (source/inspect.ts). */
  inspect(container: string, examine = false): Promise<ContainerInfo> {
    return inspectForMove(this.config.podman, container, examine);
  }

  /** The journal's migrations, newest first, with their phases' times: ferry history and ferry status (history.ts). */
  listMigrations(request: ListMigrationsRequest): ListMigrationsReply {
    return listMigrations(this.journal, request);
  }

  async status(migrationId: string, caller?: Caller): Promise<MigrationStatusReply> {
    const record = this.#requirePeerOf(migrationId, caller, 'ask about');
    return {
      role: ROLE.toWire(record.role),
      phase: JOURNAL_PHASE.toWire(record.phase),
      outcome: record.outcome ?? '',
      idleMs: Date.now() - Date.parse(record.updatedAt),
      busy: this.isBusy(migrationId),
      receivedBytes: record.role === 'destination' ? await stat(record.archivePath).then((st) => st.size, () => 0) : 0,
    };
  }

  /** ferry return: this host's containers evacuated from `origin`, each with whether it is still here. */
  async listOrigins(origin: string, forgetEnded = false): Promise<OriginView[]> {
    const present = new Set((await listContainers(this.config.podman, true)).map((c) => c.id));
    return this.origins.list(origin, async (id) => present.has(id), forgetEnded);
  }

  /** Checkpoints running containers to this host's disk (park/park.ts), one result each as it is done. */
  park(names: readonly string[], progress: ParkProgress): Promise<ParkResult[]> {
    this.#refuseWhenStopping('park');
    return this.#parking.run(() => parkContainers(this.#parkContext, names, progress));
  }

  /** Restores parked containers, checks them and drops their checkpoints (park/park.ts). */
  unpark(names: readonly string[], progress: ParkProgress): Promise<ParkResult[]> {
    this.#refuseWhenStopping('unpark');
    return this.#parking.run(() => unparkContainers(this.#parkContext, names, progress));
  }

  /** Destination: checks that this host can take the container, then expects its archive (destination/prepare.ts). */
  async prepareReceive(request: PrepareReceiveRequest): Promise<{ checks: PreflightCheck[]; needsImage: boolean }> {
    if (!request.dryRun) {
      this.#refuseWhenStopping('migrations');
      const rollback = (id: string, reason: string) => this.track(id, () => this.rollback(id, reason));
      await dropAbandoned({ ...this.#hostContext, isBusy: (id) => this.isBusy(id), rollback }, request);
    }
    return prepareReceive({ ...this.#hostContext, info: await this.#facts.versions(), cordon: this.cordon.state }, request);
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
    const context = {
      ...this.#hostContext,
      restoring: this.#inFlight.restoring,
      inbox: (record: MigrationRecord) => this.#inFlight.inboxFor(record),
      rollback: (id: string, reason: string) => this.rollback(id, reason),
    };
    return restoreCall(context, { migrationId, expectedValidation, timeoutMs, fileLocks }, signal);
  }

  /** Destination: the source gave up the container's service address at the freeze (address/take.ts). */
  takeAddress(request: TakeAddressRequest, caller?: Caller): Promise<void> {
    const record = this.#requirePeerOf(request.migrationId, caller, 'move the address of');
    return takeAddress({ ...this.#hostContext, inbox: (r) => this.#inFlight.inboxFor(r) }, record, request);
  }

  /** `downtimeMs`: the outage as the coordinator measured it, journaled (and observed by a destination's metrics). */
  commit(migrationId: string, caller?: Caller, downtimeMs?: number): Promise<string> {
    if (caller) this.#requirePeerOf(migrationId, caller, 'commit');
    return this.#inFlight.serialize(migrationId, async () => {
      if (downtimeMs !== undefined) await this.#noteDowntime(migrationId, downtimeMs);
      return commitHere(this.#settle, migrationId);
    });
  }

  async #noteDowntime(migrationId: string, downtimeMs: number): Promise<void> {
    requireMigrationId(migrationId);
    const record = this.journal.require(migrationId);
    if (record.phase === 'failed' || !Number.isSafeInteger(downtimeMs) || downtimeMs < 0) return;
    await this.journal.update(record, { downtimeMs });
  }

  /**
   * `peerRolledBack`: the destination confirmed it holds no copy. A source whose whole archive
   * may have reached the destination resumes only with that confirmation.
   */
  rollback(migrationId: string, reason: string, caller?: Caller, peerRolledBack = false): Promise<string> {
    if (caller) this.#requirePeerOf(migrationId, caller, 'roll back');
    return this.#inFlight.serialize(migrationId, () => rollbackHere(this.#settle, migrationId, reason, peerRolledBack));
  }
}
