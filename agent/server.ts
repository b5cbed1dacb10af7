// The gRPC face of the agent: each RPC calls AgentService and converts errors once, here.
// A cancelled call aborts the podman process it started.
import * as grpc from '@grpc/grpc-js';
import { FerryError } from '../common/errors.ts';
import { revocationOf, ROLES, type TlsFiles } from '../common/pki.ts';
import { callerOf, ferryProto, serverCredentials, serverOptions, toServiceError, type Caller } from '../common/rpc.ts';
import { ORIGIN_STATE } from '../common/wire.ts';
import type { AgentHandlers } from '../proto/gen/ferry/v1/Agent.ts';
import type { ParkRequest__Output } from '../proto/gen/ferry/v1/ParkRequest.ts';
import type { ParkResult as ParkResultWire } from '../proto/gen/ferry/v1/ParkResult.ts';
import type { ParkResult } from './park/park.ts';
import type { Logger } from './log.ts';
import { AgentHealth } from './health.ts';
import { metrics, safely } from './metrics/metrics.ts';
import type { AgentService } from './service.ts';
import { reloadingServerCredentials, type TlsReloader } from './tls-reload.ts';

function cancelSignal(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(new Error('the call was cancelled by the client')));
  return controller.signal;
}

/** Calls that change containers or announce migrations: the coordinator's alone. OpenStream is checked against the migration's source. */
const COORDINATOR_ONLY = new Set(['ListContainers', 'InspectContainer', 'PrepareReceive', 'CheckpointAndSend', 'Restore', 'TakeAddress', 'Park', 'Unpark', 'ListMigrations', 'Cordon', 'ListOrigins']);

/**
 * Who may make this call. A plaintext agent (--insecure) identifies nobody and lets all in; with
 * TLS every caller has a certificate of our CA (the handshake saw to that) naming its role.
 */
export function authorize(method: string, call: Parameters<typeof callerOf>[0], tls: TlsFiles | undefined): Caller | undefined {
  if (!tls) return undefined;
  const caller = callerOf(call);
  if (!caller || !(ROLES as readonly string[]).includes(caller.role)) {
    throw new FerryError('UNAUTHORIZED', 'the client certificate names no Ferry role');
  }
  // The CA's revocations (crl.pem, read again as it changes: tls-reload.ts) on every call.
  const revoked = revocationOf(tls, caller);
  if (revoked) throw revoked;
  if (COORDINATOR_ONLY.has(method) && caller.role !== 'coordinator') {
    throw new FerryError('UNAUTHORIZED', `${method} needs the coordinator's certificate; ${caller.name} is an ${caller.role}`);
  }
  return caller;
}

/**
 * One entry per RPC of the .proto's Agent service, each a line or two that hands the request to
 * the service: a table, over 80 lines only because the service has that many calls. Splitting
 * it would scatter the RPCs over several places without making one of them shorter.
 */
export function handlers(service: AgentService, log: Logger): AgentHandlers {
  const host = service.config.name;
  const fail = (method: string, error: unknown) => {
    const status = toServiceError(error, host);
    safely(() => metrics.errors.inc({ method, code: FerryError.from(error).code }));
    log.warn({ method, status: status.code, err: status.details }, 'rpc failed');
    return status;
  };
  function unary<Req, Res>(
    method: string,
    run: (request: Req, signal: AbortSignal, caller: Caller | undefined) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      // Through a promise, so that a synchronous throw is answered like any other failure.
      const signal = cancelSignal(call);
      Promise.resolve()
        .then(() => run(call.request, signal, authorize(method, call, service.config.tls)))
        .then(
          (reply) => callback(null, reply),
          (error: unknown) => callback(fail(method, error)),
        );
    };
  }
  return {
    Info: unary('Info', () => service.info()),
    ListContainers: unary('ListContainers', async (request) => ({ containers: await service.list(request.all) })),
    InspectContainer: unary('InspectContainer', (request) => service.inspect(request.container, request.examine)),
    PrepareReceive: unary('PrepareReceive', (request) => service.prepareReceive(request)),
    CheckpointAndSend: (call) => {
      const signal = cancelSignal(call);
      const request = call.request;
      const run = () =>
        service.checkpointAndSend(
          request,
          (event) => call.write(event),
          signal,
        );
      Promise.resolve()
        .then(() => authorize('CheckpointAndSend', call, service.config.tls))
        .then(() => service.track(request.migrationId, run))
        .then(
          () => call.end(),
          (error: unknown) => call.emit('error', fail('CheckpointAndSend', error)),
        );
    },
    TakeAddress: unary('TakeAddress', async (request, _signal, caller) => {
      await service.track(request.migrationId, () => service.takeAddress(request, caller));
      return {};
    }),
    OpenStream: unary('OpenStream', (request, _signal, caller) => service.openStream(request, caller)),
    Restore: unary('Restore', async (request, signal) => {
      const outcome = await service.track(request.migrationId, () =>
        service.restore(request.migrationId, request.expectedValidation, Number(request.timeoutMs), signal, request.fileLocks),
      );
      return { ...outcome, runtimeMs: outcome.runtimeMs ?? 0 };
    }),
    Commit: unary('Commit', async (request, _signal, caller) => ({
      outcome: await service.track(request.migrationId, () => service.commit(request.migrationId, caller, request.downtimeMs)),
    })),
    Rollback: unary('Rollback', async (request, _signal, caller) => ({
      outcome: await service.track(request.migrationId, () => service.rollback(request.migrationId, request.reason, caller, request.peerRolledBack)),
    })),
    MigrationStatus: unary('MigrationStatus', (request, _signal, caller) => service.status(request.migrationId, caller)),
    ListMigrations: unary('ListMigrations', async (request) => service.listMigrations(request)),
    Park: parking('Park', (names, progress) => service.park(names, progress)),
    Unpark: parking('Unpark', (names, progress) => service.unpark(names, progress)),
    Cordon: unary('Cordon', (request) => service.cordon.set(request.cordoned, request.reason)),
    ListOrigins: unary('ListOrigins', async (request) => ({
      origins: (await service.listOrigins(request.origin, request.forgetEnded)).map((o) => ({ ...o, state: ORIGIN_STATE.toWire(o.state) })),
    })),
  };

  /** Park and Unpark: one ParkResult written per container as it is done. */
  function parking(
    method: string,
    run: (names: string[], progress: (result: ParkResult) => void) => Promise<unknown>,
  ): grpc.handleServerStreamingCall<ParkRequest__Output, ParkResultWire> {
    return (call) => {
      Promise.resolve()
        .then(() => authorize(method, call, service.config.tls))
        .then(() => run(call.request.containers, (result) => call.write(result)))
        .then(
          () => call.end(),
          (error: unknown) => call.emit('error', fail(method, error)),
        );
    };
  }
}

/** `health`: grpc.health.v1.Health on the same server; its `stopping()` turns it NOT_SERVING. */
export async function startServer(service: AgentService, log: Logger, reloader?: TlsReloader): Promise<{ server: grpc.Server; port: number; health: AgentHealth }> {
  const server = new grpc.Server(serverOptions());
  server.addService(ferryProto().ferry.v1.Agent.service, handlers(service, log));
  const health = new AgentHealth();
  health.addTo(server);
  const port = await new Promise<number>((resolve, reject) => {
    // With a reloader, the certificate as renewed; otherwise the files read at start.
    const credentials = reloader ? reloadingServerCredentials(reloader) : serverCredentials(service.config.tls);
    server.bindAsync(service.config.listen, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port, health };
}

/** Lets calls in flight finish for a while, then cuts them. */
export async function stopServer(server: grpc.Server, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
