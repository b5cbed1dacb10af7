// What an agent counts for Prometheus (prom-client), in one registry of its own. The places that
// see each thing happen record it here: the journal every phase change (journal.ts, through
// migrations.ts), the data plane every byte sent and received, the gRPC face every error it
// returns. One agent per process, so one set of metrics per process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Phases last from milliseconds (verify) to minutes (a large transfer). */
const PHASE_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
/** A migration's outage: a fraction of a second when it goes well, seconds for large memory. */
const DOWNTIME_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];

export class AgentMetrics {
  readonly registry = new Registry();
  #countParked: (() => number) | undefined;
  #active: (() => ReadonlyArray<{ role: string }>) | undefined;
  #processMetrics = false;

  /** A migration ended on this host: result done (committed) or failed (rolled back). */
  readonly migrations = new Counter({
    name: 'ferry_migrations_total',
    help: 'Migrations that ended on this agent, by its role in them and their result (done: committed; failed: rolled back)',
    labelNames: ['role', 'result'] as const,
    registers: [this.registry],
  });

  /** How long this host's side of a migration stayed in each phase (journal timestamps). */
  readonly phaseSeconds = new Histogram({
    name: 'ferry_phase_duration_seconds',
    help: "Time this agent's side of a migration spent in each phase, by role and phase (from the journal's phase timestamps)",
    labelNames: ['role', 'phase'] as const,
    buckets: PHASE_BUCKETS,
    registers: [this.registry],
  });

  /**
   * Observed by the destination when it commits with the coordinator's measure (CRIU's freeze
   * on the source to the first answer on the destination): neither agent sees both ends.
   */
  readonly downtimeSeconds = new Histogram({
    name: 'ferry_migration_downtime_seconds',
    help: "How long the service was gone in a committed migration, from CRIU's freeze on the source to the first TCP answer on the destination, as the coordinator measured it; observed by the destination agent",
    buckets: DOWNTIME_BUCKETS,
    registers: [this.registry],
  });

  readonly bytesSent = new Counter({
    name: 'ferry_bytes_sent_total',
    help: "Bytes this agent sent on its data plane, by stream kind (checkpoint, image, data); a resumed stream's bytes count again",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly bytesReceived = new Counter({
    name: 'ferry_bytes_received_total',
    help: 'Bytes this agent received and checked on its data port, by stream kind (checkpoint, image, data)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly transfersResumed = new Counter({
    name: 'ferry_transfers_resumed_total',
    help: 'Broken checkpoint transfers this agent resumed from the bytes the destination kept',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /** Migrations that failed here, by the stable code of the reason they were rolled back for. */
  readonly failures = new Counter({
    name: 'ferry_migration_failures_total',
    help: 'Migrations rolled back on this agent, by role and the error code of the reason (UNKNOWN when the reason carries none)',
    labelNames: ['role', 'code'] as const,
    registers: [this.registry],
  });

  /** Every error the agent returned to a caller: its gRPC face's, by method, and its data port's (DataStream). */
  readonly errors = new Counter({
    name: 'ferry_errors_total',
    help: 'Errors this agent returned to its callers, by gRPC method (DataStream: a stream on the data port) and Ferry error code',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });

  /** Set by the park work (park/): containers checkpointed to this host's disk, waiting to come back. */
  readonly parked = new Gauge({
    name: 'ferry_parked_containers',
    help: "Containers parked on this host's disk (checkpointed before a reboot), not yet restored",
    registers: [this.registry],
    collect: () => {
      if (this.#countParked) this.parked.set(this.#countParked());
    },
  });

  readonly inFlight = new Gauge({
    name: 'ferry_migrations_in_flight',
    help: "Migrations under way on this agent (its journal's records not yet done or failed), by role",
    labelNames: ['role'] as const,
    registers: [this.registry],
    collect: () => {
      if (!this.#active) return;
      const active = this.#active();
      for (const role of ['source', 'destination']) this.inFlight.set({ role }, active.filter((r) => r.role === role).length);
    },
  });

  /** Where the scrape reads the parked count from, instead of a value someone set. */
  countParkedWith(count: () => number): void {
    this.#countParked = count;
  }

  /** Where the scrape reads the migrations under way from (the journal's active records). */
  countInFlightWith(active: () => ReadonlyArray<{ role: string }>): void {
    this.#active = active;
  }

  /** The process's own (memory, CPU, event loop): once, and only for an agent that serves metrics. */
  withProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** The text a Prometheus scrape gets. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The agent's metrics: one agent per process. */
export const metrics = new AgentMetrics();

/** Metrics must never break what they watch: a label or value gone wrong is dropped. */
export function safely(update: () => void): void {
  try {
    update();
  } catch {
    // nothing to do: a missed sample is better than a failed migration
  }
}
