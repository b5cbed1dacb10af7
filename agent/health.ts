// The standard gRPC health service (grpc.health.v1.Health, Check and Watch, from the
// grpc-health-check package) on the agent's own server, behind the same mutual TLS. The whole
// server ("") and the Agent service answer SERVING while the agent runs, NOT_SERVING from the
// moment it begins to stop (`stopping()`), so a load balancer or `ferry hosts` sees it go.
import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The names the health service knows: the server as a whole, and the Agent service. */
export const HEALTH_SERVICES = ['', 'ferry.v1.Agent'] as const;

export type HealthState = Extract<ServingStatus, 'SERVING' | 'NOT_SERVING'>;

export class AgentHealth {
  readonly #implementation: HealthImplementation;
  #state: HealthState = 'SERVING';

  constructor() {
    this.#implementation = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((name) => [name, this.#state])));
  }

  get state(): HealthState {
    return this.#state;
  }

  /** Adds grpc.health.v1.Health to the agent's server. */
  addTo(server: grpc.Server): void {
    this.#implementation.addToServer(server as unknown as Parameters<HealthImplementation['addToServer']>[0]);
  }

  /** The agent is stopping: Check answers NOT_SERVING, and every Watch hears it at once. */
  stopping(): void {
    this.#set('NOT_SERVING');
  }

  #set(state: HealthState): void {
    this.#state = state;
    for (const name of HEALTH_SERVICES) this.#implementation.setStatus(name, state);
  }
}
