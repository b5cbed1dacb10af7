// The caller's side of the standard gRPC health service (grpc.health.v1.Health) that every agent
// serves beside its Agent service (agent/health.ts): one Check on a connection already made to
// the agent, so it goes through the same TLS and, where the inventory says, the same SSH tunnel.
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { FerryError } from './errors.ts';
import { fromServiceError } from './rpc.ts';

/** What Check answers (SERVICE_UNKNOWN is Watch's word for a name the server does not know). */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

const HealthClient = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');

interface CheckClient extends grpc.Client {
  check(
    request: { service: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<{ status: HealthStatus }>,
  ): grpc.ClientUnaryCall;
}

/**
 * Asks the health of `service` ('' for the server as a whole) over `channel`; a failed call comes
 * back as a FerryError (AGENT_UNREACHABLE for an agent that does not answer) naming `host`.
 */
export function checkHealth(
  channel: grpc.ChannelInterface,
  host: string,
  options: { service?: string; timeoutMs?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<HealthStatus> {
  if (options.signal?.aborted) return Promise.reject(new FerryError('CANCELLED', 'cancelled', { host }));
  // The connection's own channel: closing this client would close it, so it is simply dropped.
  const client = new HealthClient('unused', grpc.credentials.createInsecure(), { channelOverride: channel as grpc.Channel }) as unknown as CheckClient;
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + (options.timeoutMs ?? 10_000));
    const call = client.check({ service: options.service ?? '' }, new grpc.Metadata(), { deadline }, (error, reply) => {
      options.signal?.removeEventListener('abort', cancel);
      if (error || !reply) reject(fromServiceError(error ?? new Error('empty reply'), host));
      else resolve(reply.status);
    });
    const cancel = () => call.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
  });
}
