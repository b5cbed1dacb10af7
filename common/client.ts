// One agent as its callers (the coordinator, and a peer agent settling a migration) see it:
// promise-returning calls with a deadline and a cancel signal, whose failures come back as
// FerryError with the host filled in.
import * as grpc from '@grpc/grpc-js';
import { FerryError } from './errors.ts';
import type { TlsFiles } from './pki.ts';
import { agentClient, fromServiceError, type AgentClient } from './rpc.ts';
import type { CheckpointAndSendRequest } from '../proto/gen/ferry/v1/CheckpointAndSendRequest.ts';
import type { ContainerInfo__Output } from '../proto/gen/ferry/v1/ContainerInfo.ts';
import type { PrepareReceiveRequest } from '../proto/gen/ferry/v1/PrepareReceiveRequest.ts';
import type { CommitReply__Output } from '../proto/gen/ferry/v1/CommitReply.ts';
import type { ContainerSummary__Output } from '../proto/gen/ferry/v1/ContainerSummary.ts';
import type { MigrationStatusReply__Output } from '../proto/gen/ferry/v1/MigrationStatusReply.ts';
import type { ListContainersReply__Output } from '../proto/gen/ferry/v1/ListContainersReply.ts';
import type { PrepareReceiveReply__Output } from '../proto/gen/ferry/v1/PrepareReceiveReply.ts';
import type { RollbackReply__Output } from '../proto/gen/ferry/v1/RollbackReply.ts';
import type { InfoReply__Output } from '../proto/gen/ferry/v1/InfoReply.ts';
import type { MigrationEvent__Output } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import type { RestoreReply__Output } from '../proto/gen/ferry/v1/RestoreReply.ts';
import type { OpenStreamReply__Output } from '../proto/gen/ferry/v1/OpenStreamReply.ts';
import type { OpenStreamRequest } from '../proto/gen/ferry/v1/OpenStreamRequest.ts';
import type { TakeAddressRequest } from '../proto/gen/ferry/v1/TakeAddressRequest.ts';
import type { ListMigrationsReply__Output } from '../proto/gen/ferry/v1/ListMigrationsReply.ts';
import type { MigrationEntry__Output } from '../proto/gen/ferry/v1/MigrationEntry.ts';
import { checkHealth, type HealthStatus } from './health.ts';
import type { ParkResult__Output } from '../proto/gen/ferry/v1/ParkResult.ts';
import type { CordonState__Output } from '../proto/gen/ferry/v1/CordonState.ts';
import type { ListOriginsReply__Output } from '../proto/gen/ferry/v1/ListOriginsReply.ts';
import type { Origin__Output } from '../proto/gen/ferry/v1/Origin.ts';

/** Enough to reach an agent: its name for messages, its gRPC address. */
export interface AgentEndpoint {
  name: string;
  agent: string;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 30_000;

type UnaryName = 'info' | 'listContainers' | 'inspectContainer' | 'prepareReceive' | 'restore' | 'commit' | 'rollback' | 'openStream' | 'migrationStatus' | 'takeAddress' | 'listMigrations' | 'cordon' | 'listOrigins';

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

export class AgentConnection<H extends AgentEndpoint = AgentEndpoint> {
  readonly host: H;
  readonly #client: AgentClient;

  /** `address`: where to connect when that is not `host.agent` (a tunnel's local end); TLS still checks `host.name`. */
  constructor(host: H, tls?: TlsFiles, address: string = host.agent) {
    this.host = host;
    this.#client = agentClient(address, tls, host.name);
  }

  close(): void {
    this.#client.close();
  }

  // By the method's name rather than the method itself: grpc-js's client methods need their
  // client as `this`.
  #unary<Res>(method: UnaryName, request: object, options: CallOptions = {}): Promise<Res> {
    const name = this.host.name;
    if (options.signal?.aborted) return Promise.reject(new FerryError('CANCELLED', 'cancelled', { host: name }));
    return new Promise<Res>((resolve, reject) => {
      const deadline = new Date(Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
      const call = (this.#client[method] as unknown as Unary<object, Res>).call(this.#client, request, new grpc.Metadata(), { deadline }, (error, reply) => {
        options.signal?.removeEventListener('abort', cancel);
        if (error || reply === undefined) reject(fromServiceError(error ?? new Error('empty reply'), name));
        else resolve(reply);
      });
      const cancel = () => call.cancel();
      options.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  info(options?: CallOptions): Promise<InfoReply__Output> {
    return this.#unary<InfoReply__Output>('info', {}, options);
  }

  async list(all: boolean, options?: CallOptions): Promise<ContainerSummary__Output[]> {
    return (await this.#unary<ListContainersReply__Output>('listContainers', { all }, options)).containers;
  }

  /** `examine`: with what in its processes decides whether and how CRIU can checkpoint it (a preflight's question). */
  inspect(container: string, options?: CallOptions & { examine?: boolean }): Promise<ContainerInfo__Output> {
    return this.#unary<ContainerInfo__Output>('inspectContainer', { container, examine: options?.examine ?? false }, options);
  }

  prepareReceive(request: PrepareReceiveRequest, options?: CallOptions): Promise<PrepareReceiveReply__Output> {
    return this.#unary<PrepareReceiveReply__Output>('prepareReceive', request, options);
  }

  /** `fileLocks`: the checkpoint was made with --file-locks (the source said so as it froze). */
  restore(migrationId: string, expectedValidation: string, timeoutMs: number, options?: CallOptions & { fileLocks?: boolean }): Promise<RestoreReply__Output> {
    return this.#unary<RestoreReply__Output>('restore',
      { migrationId, expectedValidation, timeoutMs, fileLocks: options?.fileLocks ?? false },
      { ...options, timeoutMs: timeoutMs + 130_000 }, // + the post-restore hooks' time
    );
  }

  /** `downtimeMs`: the outage the coordinator measured, for the agent's journal and metrics. */
  async commit(migrationId: string, options?: CallOptions & { downtimeMs?: number | undefined }): Promise<string> {
    const request = { migrationId, ...(options?.downtimeMs === undefined ? {} : { downtimeMs: options.downtimeMs }) };
    return (await this.#unary<CommitReply__Output>('commit', request, { timeoutMs: 120_000, ...options })).outcome;
  }

  /** grpc.health.v1.Health: whether the agent serves (NOT_SERVING once it is stopping). */
  health(options: CallOptions = {}): Promise<HealthStatus> {
    return checkHealth(this.#client.getChannel(), this.host.name, { timeoutMs: 10_000, ...options });
  }

  /** The migrations the agent's journal keeps, newest first (`migrationId`: only that one). */
  async migrations(request: { migrationId?: string; limit?: number } = {}, options?: CallOptions): Promise<MigrationEntry__Output[]> {
    return (await this.#unary<ListMigrationsReply__Output>('listMigrations', request, { timeoutMs: 15_000, ...options })).migrations;
  }

  /** Cordons the host (placement keeps away from it) or uncordons it; its state afterwards. */
  cordon(cordoned: boolean, reason: string, options?: CallOptions): Promise<CordonState__Output> {
    return this.#unary<CordonState__Output>('cordon', { cordoned, reason }, options);
  }

  /** The containers here that an evacuation of `origin` brought (every origin when empty). */
  async origins(origin: string, options?: CallOptions & { forgetEnded?: boolean }): Promise<Origin__Output[]> {
    return (await this.#unary<ListOriginsReply__Output>('listOrigins', { origin, forgetEnded: options?.forgetEnded ?? false }, options)).origins;
  }

  /** `peerRolledBack`: for a source, the destination confirmed it holds no copy. */
  async rollback(migrationId: string, reason: string, options?: CallOptions & { peerRolledBack?: boolean }): Promise<string> {
    const request = { migrationId, reason, peerRolledBack: options?.peerRolledBack ?? false };
    return (await this.#unary<RollbackReply__Output>('rollback', request, { timeoutMs: 300_000, ...options })).outcome;
  }

  /** Destination: take the service address the source gave up, with its flows, before the restore. */
  async takeAddress(request: TakeAddressRequest, options?: CallOptions): Promise<void> {
    await this.#unary<object>('takeAddress', request, { timeoutMs: 30_000, ...options });
  }

  /** Agent to agent: a grant for one byte stream of a migration, asked of its destination. */
  openStream(request: OpenStreamRequest, options?: CallOptions): Promise<OpenStreamReply__Output> {
    return this.#unary<OpenStreamReply__Output>('openStream', request, { timeoutMs: 15_000, ...options });
  }

  status(migrationId: string, options?: CallOptions): Promise<MigrationStatusReply__Output> {
    return this.#unary<MigrationStatusReply__Output>('migrationStatus', { migrationId }, { timeoutMs: 10_000, ...options });
  }

  /** Park (before a reboot) or unpark: yields one result per container as the agent is done with it. */
  parking(method: 'park' | 'unpark', containers: string[], options: CallOptions = {}): AsyncGenerator<ParkResult__Output> {
    return this.#read<ParkResult__Output>((deadline) => this.#client[method]({ containers }, new grpc.Metadata(), { deadline }), options);
  }

  /** The source's checkpoint and send: yields its events, throws its error. */
  checkpointAndSend(request: CheckpointAndSendRequest, options: CallOptions = {}): AsyncGenerator<MigrationEvent__Output> {
    return this.#read<MigrationEvent__Output>((deadline) => this.#client.checkpointAndSend(request, new grpc.Metadata(), { deadline }), options);
  }

  /** A server stream's messages as they come, cancelled with the caller's signal, its error as a FerryError. */
  async *#read<T>(start: (deadline: Date) => grpc.ClientReadableStream<unknown>, options: CallOptions): AsyncGenerator<T> {
    const call = start(new Date(Date.now() + (options.timeoutMs ?? 60 * 60_000)));
    const cancel = () => call.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const message of call as AsyncIterable<T>) yield message;
    } catch (error) {
      throw fromServiceError(error, this.host.name);
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }
}
