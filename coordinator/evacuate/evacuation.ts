// An evacuation: every running container of one host, up to `parallel` at a time, each to the
// destination with the most room left that passes its preflight (placement.ts). Each container
// is one migrate(): a failure rolls that one back and the others go on. Once the signal is
// aborted (Ctrl-C) no container starts, and those under way roll back.
//
// Two containers may arrive at one destination at once: an agent refuses only a second migration
// of the same container (the `busy` check of agent/destination/checks.ts). Everything else a
// receive touches is its migration's own: its archive `ID.tar`, its import folder and image file
// under the archive folder, its own grant and connection on the data port, its journal record;
// the containers' names, IPs and published ports differ, since they all ran on the one source.
import { FerryError } from '../../common/errors.ts';
import type { Dialer } from '../../common/dial.ts';
import type { BatchAction, EmitEvacuation, EvacuationResult, InFlightView, MigrationEvent, MigrationSummary } from '../events.ts';
import type { HostEntry } from '../inventory.ts';
import type { MigrateOptions } from '../migration/driver.ts';
import { migrate } from '../migration/migrate.ts';
import { Placement, refusedByDestination, type HostRoom } from './placement.ts';

/** The migration settings every container of the evacuation gets. */
export type MoveSettings = Omit<MigrateOptions, 'from' | 'to' | 'container' | 'signal' | 'dialer'>;

export interface EvacuateOptions {
  from: HostEntry;
  to: HostEntry[];
  /** How many containers move at once (1: one after the other). */
  parallel: number;
  settings: MoveSettings;
  signal?: AbortSignal | undefined;
  dialer: Dialer;
}

export interface Evacuee {
  name: string;
  estimatedBytes: number;
  /** The host it runs on when that is not the plan's `from` (ferry return gathers them from several). */
  from?: string | undefined;
}

/** Moves one container to one host; its events go to `emit`. Undefined: a dry run that passed. */
export type Move = (container: Evacuee, to: HostEntry, emit: (event: MigrationEvent) => void) => Promise<MigrationSummary | undefined>;

/** Asks the source for its running containers and each destination for its room, then moves them. */
export async function evacuate(options: EvacuateOptions, emit: EmitEvacuation): Promise<EvacuationResult[]> {
  const { from, to, dialer, signal } = options;
  const containers = await runningContainers(dialer, from, signal);
  const rooms = await Promise.all(to.map((host) => destinationRoom(dialer, host, signal)));
  emit({
    kind: 'evacuation',
    host: from.name,
    parallel: options.parallel,
    containers,
    destinations: rooms.map(destinationView),
  });
  // A cordoned host answers, and is left out all the same: nothing is placed on it.
  const reachable = rooms.filter((r) => r.unreachable === undefined && r.cordoned === undefined);
  if (containers.length && !reachable.length) {
    const cordoned = rooms.every((r) => r.cordoned !== undefined || r.unreachable === undefined);
    const why = rooms.map((r) => `${r.room.name}: ${r.unreachable ?? `cordoned ${r.cordoned ?? ''}`}`).join('; ');
    throw cordoned
      ? new FerryError('HOST_CORDONED', `every destination is cordoned: ${why}`, { phase: 'preflight', hint: 'Uncordon one (ferry uncordon HOST), or add another host to --to.' })
      : new FerryError('AGENT_UNREACHABLE', `no destination answers: ${why}`, { phase: 'preflight' });
  }
  const hosts = new Map(to.map((h) => [h.name, h]));
  // Each destination remembers the container's origin once the move commits (ferry return).
  const move: Move = (container, host, emitMigration) =>
    migrate({ from, to: host, container: container.name, ...options.settings, evacuatedFrom: from.name, signal, dialer }, emitMigration);
  return runEvacuation({ from: from.name, containers, placement: new Placement(reachable.map((r) => r.room)), hosts, parallel: options.parallel, signal, move }, emit);
}

async function runningContainers(dialer: Dialer, from: HostEntry, signal: AbortSignal | undefined): Promise<Evacuee[]> {
  const source = await dialer.agent(from).catch((e: unknown) => { throw FerryError.from(e).at('preflight', from.name); });
  try {
    const running = (await source.list(false, { signal })).filter((c) => c.state === 'running');
    // What each will take on its destination; a container that went away meanwhile fails its own preflight later.
    return await Promise.all(
      running.map(async (c) => ({
        name: c.name,
        estimatedBytes: await source.inspect(c.name, { signal }).then((info) => Number(info.estimatedBytes), () => 0),
      })),
    );
  } catch (error) {
    throw FerryError.from(error).at('preflight', from.name);
  } finally {
    source.close();
  }
}

/** A destination as an evacuation sees it: its room, or why it takes nothing (unreachable, cordoned). */
export interface DestinationRoom {
  room: HostRoom;
  unreachable?: string | undefined;
  cordoned?: string | undefined;
}

export async function destinationRoom(dialer: Dialer, host: HostEntry, signal: AbortSignal | undefined): Promise<DestinationRoom> {
  const empty = { name: host.name, freeMemoryBytes: 0, freeDiskBytes: 0 };
  let agent;
  try {
    agent = await dialer.agent(host);
    const info = await agent.info({ signal });
    const room = { name: host.name, freeMemoryBytes: Number(info.freeMemoryBytes), freeDiskBytes: Number(info.freeDiskBytes) };
    const cordon = info.cordon;
    return cordon?.cordoned ? { room, cordoned: `since ${cordon.since}${cordon.reason ? `: ${cordon.reason}` : ''}` } : { room };
  } catch (error) {
    const failure = FerryError.from(error);
    return { room: empty, unreachable: `${failure.code}: ${failure.message}` };
  } finally {
    agent?.close();
  }
}

export function destinationView({ room, unreachable, cordoned }: DestinationRoom) {
  return { host: room.name, freeMemoryBytes: room.freeMemoryBytes, freeDiskBytes: room.freeDiskBytes, unreachable, cordoned };
}

export interface EvacuationPlan {
  /** The source host's name. */
  from: string;
  containers: Evacuee[];
  placement: Placement;
  hosts: ReadonlyMap<string, HostEntry>;
  parallel: number;
  signal?: AbortSignal | undefined;
  move: Move;
  /** evacuate (the default) or return: only what the events say. */
  action?: BatchAction | undefined;
  /** Containers the plan will not move (ferry return: moved on, or gone), reported with the rest. */
  skipped?: EvacuationResult[] | undefined;
}

/** Runs the moves, at most `parallel` at once, the biggest first; resolves once every one has ended. */
export function runEvacuation(plan: EvacuationPlan, emit: EmitEvacuation): Promise<EvacuationResult[]> {
  return new Evacuation(plan, emit).run();
}

class Evacuation {
  readonly #plan: EvacuationPlan;
  readonly #emit: EmitEvacuation;
  /** How each container's move ended, by name. */
  readonly #results = new Map<string, EvacuationResult>();
  /** The moves under way, as the progress events show them. */
  readonly #inFlight = new Map<string, InFlightView>();

  constructor(plan: EvacuationPlan, emit: EmitEvacuation) {
    this.#plan = plan;
    this.#emit = emit;
  }

  async run(): Promise<EvacuationResult[]> {
    const plan = this.#plan;
    const signal = plan.signal;
    // The biggest first: they take longest, and need the most room while the most is left.
    const queue = [...plan.containers].sort((a, b) => b.estimatedBytes - a.estimatedBytes);
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        if (signal?.aborted) {
          this.#results.set(next.name, { container: next.name, from: next.from, to: '', result: 'not-started', refusedBy: [] });
          continue;
        }
        this.#results.set(next.name, { from: next.from, ...(await this.#moveOne(next)) });
        this.#progress();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(plan.parallel, queue.length)) }, worker));

    // In the source's order, as it listed them; what the plan skipped after them.
    const skipped = plan.skipped ?? [];
    const ordered = [...plan.containers.map((c) => this.#results.get(c.name) as EvacuationResult), ...skipped];
    this.#emit({
      kind: 'evacuated',
      action: plan.action,
      host: plan.from,
      total: ordered.length - skipped.length,
      moved: ordered.filter((r) => r.result === 'moved' || r.result === 'checked').length,
      failed: ordered.filter((r) => r.result === 'failed' || r.result === 'rollback-failed').length,
      notStarted: ordered.filter((r) => r.result === 'not-started').length,
      skipped: skipped.length || undefined,
      interrupted: signal?.aborted ?? false,
      results: ordered,
    });
    return ordered;
  }

  #progress(): void {
    const ended = [...this.#results.values()];
    this.#emit({
      kind: 'evacuation-progress',
      action: this.#plan.action,
      host: this.#plan.from,
      total: this.#plan.containers.length,
      moved: ended.filter((r) => r.result === 'moved' || r.result === 'checked').length,
      failed: ended.filter((r) => r.result === 'failed' || r.result === 'rollback-failed').length,
      inFlight: [...this.#inFlight.values()].map((v) => ({ ...v })),
    });
  }

  /** One container to the best destination left; one that refuses at preflight sends it to the next. */
  async #moveOne(container: Evacuee): Promise<EvacuationResult> {
    const source = container.from ?? this.#plan.from;
    const refused = new Set<string>();
    const refusedBy: string[] = [];
    for (;;) {
      const choice = this.#plan.placement.choose(container.estimatedBytes, refused);
      const host = choice && this.#plan.hosts.get(choice.name);
      if (!choice || !host) {
        const error = new FerryError('PREFLIGHT_FAILED', `no destination is left for ${container.name}`, {
          phase: 'preflight',
          details: this.#plan.placement.explain(container.estimatedBytes, refused),
          hint: 'Free memory or disk on a destination, or add one to --to; ferry hosts shows their free disk.',
        });
        return { container: container.name, to: refusedBy.at(-1) ?? '', result: 'failed', refusedBy, error };
      }
      this.#emit({ kind: 'placed', container: container.name, host: host.name, roomBytes: choice.roomBytes, estimatedBytes: container.estimatedBytes });
      const view: InFlightView = { container: container.name, to: host.name, phase: 'preflight', bytes: 0, totalBytes: -1 };
      this.#inFlight.set(container.name, view);
      this.#progress();
      try {
        const summary = await this.#plan.move(container, host, (event) => {
          if (event.kind === 'phase') {
            view.phase = event.phase;
            this.#progress();
          } else if (event.kind === 'progress') {
            view.bytes = event.bytes;
            view.totalBytes = event.totalBytes;
          }
          // A destination that refused at preflight is said as such below, not as a failed move.
          if (event.kind === 'failed' && refusedByDestination(event.error, source) && !this.#plan.signal?.aborted) return;
          this.#emit({ kind: 'migration', container: container.name, event });
        });
        return summary
          ? { container: container.name, to: host.name, result: 'moved', downtimeMs: summary.downtimeMs, refusedBy }
          : { container: container.name, to: host.name, result: 'checked', refusedBy };
      } catch (error) {
        this.#plan.placement.release(host.name, container.estimatedBytes);
        const failure = FerryError.from(error);
        if (refusedByDestination(failure, source) && !this.#plan.signal?.aborted) {
          refused.add(host.name);
          refusedBy.push(host.name);
          const next = this.#plan.placement.peek(container.estimatedBytes, refused);
          this.#emit({ kind: 'refused', container: container.name, host: host.name, error: failure, next: next?.name ?? '' });
          if (next) continue;
          return { container: container.name, to: host.name, result: 'failed', refusedBy, error: failure };
        }
        return { container: container.name, to: host.name, result: failure.code === 'ROLLBACK_FAILED' ? 'rollback-failed' : 'failed', refusedBy, error: failure };
      } finally {
        this.#inFlight.delete(container.name);
      }
    }
  }
}
