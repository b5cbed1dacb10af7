// ferry return HOST: the containers an evacuation took from HOST go back to it. Every other host
// of the inventory is asked what it holds of HOST's (agent/fleet/origins.ts); those still there
// move back through the evacuation's own runner (the same preflight, room check, parallelism,
// progress and table), and those that moved on since or no longer exist are skipped with the
// reason. HOST itself must answer and not be cordoned (unless forced).
import { FerryError } from '../../common/errors.ts';
import type { Dialer } from '../../common/dial.ts';
import { ORIGIN_STATE } from '../../common/wire.ts';
import type { EmitEvacuation, EvacuationResult } from '../events.ts';
import type { HostEntry } from '../inventory.ts';
import { migrate } from '../migration/migrate.ts';
import { destinationRoom, destinationView, runEvacuation, type Evacuee, type MoveSettings } from './evacuation.ts';
import { Placement } from './placement.ts';

export interface ReturnOptions {
  /** The host the containers were evacuated from, and go back to. */
  home: HostEntry;
  /** The hosts to look on: every other host of the inventory. */
  others: HostEntry[];
  parallel: number;
  settings: MoveSettings;
  signal?: AbortSignal | undefined;
  dialer: Dialer;
}

interface Found {
  movable: Evacuee[];
  skipped: EvacuationResult[];
  unasked: Array<{ host: string; error: string }>;
}

export async function returnHome(options: ReturnOptions, emit: EmitEvacuation): Promise<EvacuationResult[]> {
  const { home, others, dialer, signal } = options;
  const destination = await destinationRoom(dialer, home, signal);
  if (destination.unreachable !== undefined) {
    throw new FerryError('AGENT_UNREACHABLE', `${home.name} does not answer: ${destination.unreachable}`, { phase: 'preflight', host: home.name });
  }
  if (destination.cordoned !== undefined && !options.settings.force) {
    throw new FerryError('HOST_CORDONED', `${home.name} is cordoned ${destination.cordoned}: nothing goes back to it`, {
      phase: 'preflight',
      host: home.name,
      hint: `Uncordon it first (ferry uncordon ${home.name}), or pass --force.`,
    });
  }
  // A real return says each container that moved on or is gone once; a dry run forgets nothing.
  const found = await findEvacuees(dialer, home.name, others, signal, !options.settings.dryRun);
  emit({
    kind: 'evacuation',
    action: 'return',
    host: home.name,
    parallel: options.parallel,
    containers: found.movable,
    destinations: [destinationView({ room: destination.room })],
    unasked: found.unasked.length ? found.unasked : undefined,
  });
  const sources = new Map(others.map((h) => [h.name, h]));
  return runEvacuation(
    {
      action: 'return',
      from: home.name,
      containers: found.movable,
      skipped: found.skipped,
      placement: new Placement([destination.room]),
      hosts: new Map([[home.name, home]]),
      parallel: options.parallel,
      signal,
      move: (container, to, emitMigration) =>
        migrate({ from: sources.get(container.from ?? '') as HostEntry, to, container: container.name, ...options.settings, signal, dialer }, emitMigration),
    },
    emit,
  );
}

/** What each other host holds of `origin`'s: the containers still there, each with its size, and the rest skipped. */
async function findEvacuees(dialer: Dialer, origin: string, others: HostEntry[], signal: AbortSignal | undefined, forgetEnded: boolean): Promise<Found> {
  const found: Found = { movable: [], skipped: [], unasked: [] };
  await Promise.all(
    others.map(async (host) => {
      let agent;
      try {
        agent = await dialer.agent(host);
        for (const entry of await agent.origins(origin, { signal, forgetEnded })) {
          const state = ORIGIN_STATE.fromWire(entry.state);
          if (state === 'here') {
            const estimatedBytes = await agent.inspect(entry.containerId, { signal }).then((info) => Number(info.estimatedBytes), () => 0);
            found.movable.push({ name: entry.container, estimatedBytes, from: host.name });
          } else {
            found.skipped.push({ container: entry.container, from: host.name, to: origin, result: 'skipped', refusedBy: [], reason: `${entry.detail || state} (evacuated to ${host.name} by ${entry.migrationId})` });
          }
        }
      } catch (error) {
        const failure = FerryError.from(error);
        found.unasked.push({ host: host.name, error: `${failure.code}: ${failure.message}` });
      } finally {
        agent?.close();
      }
    }),
  );
  // Names in a steady order: the table reads the same on every run.
  found.movable.sort((a, b) => a.name.localeCompare(b.name));
  found.skipped.sort((a, b) => a.container.localeCompare(b.container));
  return found;
}
