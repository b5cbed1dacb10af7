// The gRPC face of the agent: each RPC calls AgentService and converts errors once, here.
// A cancelled call aborts the podman process it started.
import * as grpc from '@grpc/grpc-js';
import { ferryProto, serverOptions, toServiceError } from '../common/rpc.ts';
import type { AgentHandlers } from '../proto/gen/ferry/v1/Agent.ts';
import type { Logger } from './log.ts';
import type { AgentService } from './service.ts';

function cancelSignal(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(new Error('the call was cancelled by the client')));
  return controller.signal;
}

export function handlers(service: AgentService, log: Logger): AgentHandlers {
  const host = service.config.name;
  const fail = (method: string, error: unknown) => {
    const status = toServiceError(error, host);
    log.warn({ method, status: status.code, err: status.details }, 'rpc failed');
    return status;
  };
  function unary<Req, Res>(method: string, run: (request: Req, signal: AbortSignal) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      // Through a promise, so that a synchronous throw is answered like any other failure.
      const signal = cancelSignal(call);
      Promise.resolve()
        .then(() => run(call.request, signal))
        .then(
          (reply) => callback(null, reply),
          (error: unknown) => callback(fail(method, error)),
        );
    };
  }
  return {
    Info: unary('Info', () => service.info()),
    ListContainers: unary('ListContainers', async (request) => ({ containers: await service.list(request.all) })),
    InspectContainer: unary('InspectContainer', (request) => service.inspect(request.container)),
    PrepareReceive: unary('PrepareReceive', (request) =>
      service.prepareReceive({
        migrationId: request.migrationId,
        sourceHost: request.sourceHost,
        container: request.container,
        ttlMs: Number(request.ttlMs),
        replaceData: request.replaceData,
        ignoreBindMounts: request.ignoreBindMounts,
        sourceCpuinfo: request.sourceCpuinfo,
        sourceAddress: request.sourceAddress,
        dryRun: request.dryRun,
        archiveBytesEstimate: Number(request.archiveBytesEstimate),
      }),
    ),
    CheckpointAndSend: (call) => {
      const signal = cancelSignal(call);
      const request = call.request;
      service
        .track(request.migrationId, () => service.checkpointAndSend(
          {
            migrationId: request.migrationId,
            container: request.container,
            destinationHost: request.destinationHost,
            destinationAddress: request.destinationAddress,
            compress: request.compress,
            timeoutMs: Number(request.timeoutMs),
            sendImage: request.sendImage,
            ignoreBindMounts: request.ignoreBindMounts,
            noPresync: request.noPresync,
            transferRetryMs: Number(request.transferRetryMs),
          },
          (event) => call.write(event),
          signal,
        ))
        .then(
          () => call.end(),
          (error: unknown) => call.emit('error', fail('CheckpointAndSend', error)),
        );
    },
    Receive: (call, callback) => {
      service.receive(call).then(
        (reply) => callback(null, reply),
        (error: unknown) => callback(fail('Receive', error)),
      );
    },
    Restore: unary('Restore', async (request, signal) =>
      service.track(request.migrationId, () =>
        service.restore(request.migrationId, request.expectedValidation, Number(request.timeoutMs), signal),
      ),
    ),
    Commit: unary('Commit', async (request) => ({
      outcome: await service.track(request.migrationId, () => service.commit(request.migrationId)),
    })),
    Rollback: unary('Rollback', async (request) => ({
      outcome: await service.track(request.migrationId, () => service.rollback(request.migrationId, request.reason)),
    })),
    MigrationStatus: unary('MigrationStatus', (request) => service.status(request.migrationId)),
  };
}

export async function startServer(service: AgentService, log: Logger): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server(serverOptions());
  server.addService(ferryProto().ferry.v1.Agent.service, handlers(service, log));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(service.config.listen, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port };
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
