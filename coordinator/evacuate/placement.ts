// Where each container of an evacuation goes: the destination with the most room left, room
// being the tighter of its free memory and its free disk (a restored container needs both: its
// memory back in RAM, its archive on disk first), less what this evacuation already sent or is
// sending there, so that six containers do not all pick the same host; hosts about as roomy take
// turns.
import type { FerryError } from '../../common/errors.ts';

export interface HostRoom {
  name: string;
  /** MemAvailable; 0: the agent did not say (an older agent), and only the disk counts. */
  freeMemoryBytes: number;
  freeDiskBytes: number;
}

export interface Ranked {
  name: string;
  /** Room left after what this evacuation already placed there, before this container. */
  roomBytes: number;
}

/** The room a host has for more containers, once `placedBytes` of this evacuation are there. */
export function roomLeft(host: HostRoom, placedBytes = 0): number {
  const memory = host.freeMemoryBytes > 0 ? host.freeMemoryBytes : Number.POSITIVE_INFINITY;
  return Math.min(memory, host.freeDiskBytes) - placedBytes;
}

/**
 * Rooms within this share of the most room count as much: free memory moves by that much on its
 * own between two looks (page cache, other processes), and hosts that are about as roomy should
 * share the containers, and the parallel moves' load, rather than the roomiest by a hair taking all.
 */
export const ROOM_TOLERANCE = 0.05;

/**
 * The destinations a container of `bytes` may go to, best first: among the hosts with about the
 * most room left (ROOM_TOLERANCE), the one this evacuation sent the least to, then the most room,
 * then the order of --to. Hosts in `refused` (their preflight said no) and hosts without room for
 * it are left out.
 */
export function rankDestinations(hosts: readonly HostRoom[], placed: ReadonlyMap<string, number>, bytes: number, refused: ReadonlySet<string> = new Set()): Ranked[] {
  const left = hosts
    .map((host, order) => ({ name: host.name, roomBytes: roomLeft(host, placed.get(host.name) ?? 0), sent: placed.get(host.name) ?? 0, order }))
    .filter((h) => !refused.has(h.name) && h.roomBytes >= bytes);
  const ranked: Ranked[] = [];
  while (left.length) {
    const most = Math.max(...left.map((h) => h.roomBytes));
    const [best] = left
      .filter((h) => h.roomBytes >= most - Math.abs(most) * ROOM_TOLERANCE)
      .sort((a, b) => a.sent - b.sent || b.roomBytes - a.roomBytes || a.order - b.order);
    if (!best) break;
    ranked.push({ name: best.name, roomBytes: best.roomBytes });
    left.splice(left.indexOf(best), 1);
  }
  return ranked;
}

/**
 * The evacuation's running account of where it sent what: choose() books a container's bytes on
 * the best host, release() takes them back when the container did not stay there.
 */
export class Placement {
  readonly #hosts: readonly HostRoom[];
  readonly #placed = new Map<string, number>();

  constructor(hosts: readonly HostRoom[]) {
    this.#hosts = hosts;
  }

  /** The best destination for a container of `bytes` among those not refused, booked; undefined when none has room. */
  choose(bytes: number, refused: ReadonlySet<string> = new Set()): Ranked | undefined {
    const [best] = rankDestinations(this.#hosts, this.#placed, bytes, refused);
    if (best) this.#placed.set(best.name, (this.#placed.get(best.name) ?? 0) + bytes);
    return best;
  }

  /** The best destination, as choose() would pick it, booking nothing. */
  peek(bytes: number, refused: ReadonlySet<string> = new Set()): Ranked | undefined {
    return rankDestinations(this.#hosts, this.#placed, bytes, refused)[0];
  }

  release(host: string, bytes: number): void {
    this.#placed.set(host, Math.max(0, (this.#placed.get(host) ?? 0) - bytes));
  }

  /** Why no destination is left for a container of `bytes`: each host's room, or that it refused. */
  explain(bytes: number, refused: ReadonlySet<string>): string[] {
    return this.#hosts.map((host) =>
      refused.has(host.name)
        ? `${host.name}: refused it at preflight`
        : `${host.name}: ${Math.max(0, Math.round(roomLeft(host, this.#placed.get(host.name) ?? 0) / 1048576))} MiB of room left (free memory and disk, less what this evacuation sent there), ${Math.round(bytes / 1048576)} MiB needed`,
    );
  }
}

/**
 * Whether another destination may take a container that `failure` stopped: the destination's
 * preflight said no (its port, name, IP, disk, CRIU, or it did not answer), and nothing was
 * changed. A failure of the source, a cancel, or one past the preflight is the container's own.
 */
export function refusedByDestination(failure: FerryError, source: string): boolean {
  return failure.phase === 'preflight' && failure.host !== source && failure.code !== 'CANCELLED' && failure.code !== 'SAME_HOST';
}
