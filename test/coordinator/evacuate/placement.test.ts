// Where an evacuation sends each container: the most room left (the tighter of free memory and
// free disk, less what it already sent there), the next-best host when a preflight says no.
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { Placement, rankDestinations, refusedByDestination, roomLeft, type HostRoom } from '../../../coordinator/evacuate/placement.ts';

const MiB = 1048576;
const GiB = 1024 * MiB;
const host = (name: string, memoryGiB: number, diskGiB: number): HostRoom => ({ name, freeMemoryBytes: memoryGiB * GiB, freeDiskBytes: diskGiB * GiB });

/** Each container placed in turn, as if each stayed where it was first sent. */
function plan(hosts: HostRoom[], sizes: number[]): Array<string | undefined> {
  const placement = new Placement(hosts);
  return sizes.map((bytes) => placement.choose(bytes)?.name);
}

describe('room', () => {
  it('is the tighter of free memory and free disk, less what was placed there; an agent that does not say its memory counts by its disk', () => {
    expect(roomLeft(host('b', 4, 100))).toBe(4 * GiB);
    expect(roomLeft(host('b', 16, 3))).toBe(3 * GiB);
    expect(roomLeft(host('b', 4, 100), GiB)).toBe(3 * GiB);
    expect(roomLeft({ name: 'old', freeMemoryBytes: 0, freeDiskBytes: 10 * GiB })).toBe(10 * GiB);
  });
});

describe('placement', () => {
  it('sends a container to the host with the most room, ties to the first of --to', () => {
    expect(rankDestinations([host('hostB', 2, 50), host('hostC', 8, 50)], new Map(), 64 * MiB).map((r) => r.name)).toEqual(['hostC', 'hostB']);
    // More memory, but its disk is the tighter: hostB has 3 GiB of room, hostC 4.
    expect(rankDestinations([host('hostB', 16, 3), host('hostC', 4, 50)], new Map(), 64 * MiB).map((r) => r.name)).toEqual(['hostC', 'hostB']);
    expect(rankDestinations([host('hostB', 4, 50), host('hostC', 4, 50)], new Map(), 64 * MiB).map((r) => r.name)).toEqual(['hostB', 'hostC']);
  });

  it('spreads six containers over two equal hosts instead of sending all six to one', () => {
    expect(plan([host('hostB', 4, 50), host('hostC', 4, 50)], Array(6).fill(64 * MiB))).toEqual(['hostB', 'hostC', 'hostB', 'hostC', 'hostB', 'hostC']);
  });

  it('hosts about as roomy (within 5%) take turns: a few MiB of MemAvailable between two looks do not send all six to one', () => {
    const hosts = [{ name: 'hostB', freeMemoryBytes: 22_000 * MiB, freeDiskBytes: 78_000 * MiB }, { name: 'hostC', freeMemoryBytes: 22_040 * MiB, freeDiskBytes: 78_000 * MiB }];
    expect(plan(hosts, Array(6).fill(6 * MiB))).toEqual(['hostC', 'hostB', 'hostC', 'hostB', 'hostC', 'hostB']);
  });

  it('fills the roomier host until the other has about as much room left', () => {
    // hostC has 256 MiB more: the first four 64 MiB containers go there, then they alternate.
    const hosts = [{ name: 'hostB', freeMemoryBytes: GiB, freeDiskBytes: 50 * GiB }, { name: 'hostC', freeMemoryBytes: GiB + 256 * MiB, freeDiskBytes: 50 * GiB }];
    expect(plan(hosts, Array(6).fill(64 * MiB))).toEqual(['hostC', 'hostC', 'hostC', 'hostC', 'hostB', 'hostC']);
  });

  it('a big container goes where it fits, small ones fill in after it', () => {
    expect(plan([host('hostB', 1, 50), host('hostC', 3, 50)], [2.5 * GiB, 512 * MiB, 256 * MiB])).toEqual(['hostC', 'hostB', 'hostB']);
  });

  it('no host without room for it, and none at all when none has room', () => {
    expect(plan([host('hostB', 1, 50), host('hostC', 1, 50)], [2 * GiB])).toEqual([undefined]);
    expect(plan([host('hostB', 1, 50), host('hostC', 1, 50)], [700 * MiB, 700 * MiB, 700 * MiB])).toEqual(['hostB', 'hostC', undefined]);
  });

  it('a host that refused the container at preflight is passed over for the next best, and its room is given back', () => {
    const placement = new Placement([host('hostB', 4, 50), host('hostC', 2, 50)]);
    const first = placement.choose(GiB);
    expect(first?.name).toBe('hostB');
    // hostB's preflight said no (its port is taken, say): nothing went there.
    placement.release('hostB', GiB);
    expect(placement.peek(GiB, new Set(['hostB']))?.name).toBe('hostC');
    expect(placement.choose(GiB, new Set(['hostB']))).toEqual({ name: 'hostC', roomBytes: 2 * GiB });
    // The next container sees all of hostB's room again, and hostC's less the one that went there.
    expect(placement.choose(GiB)).toEqual({ name: 'hostB', roomBytes: 4 * GiB });
    expect(placement.peek(GiB, new Set(['hostB', 'hostC']))).toBeUndefined();
    expect(placement.explain(GiB, new Set(['hostB']))).toEqual([
      'hostB: refused it at preflight',
      'hostC: 1024 MiB of room left (free memory and disk, less what this evacuation sent there), 1024 MiB needed',
    ]);
  });
});

describe('whether another host may take a container that failed', () => {
  const failure = (code: 'DEST_PORT_BUSY' | 'CONTAINER_NOT_RUNNING' | 'HOOK_FAILED' | 'CANCELLED' | 'AGENT_UNREACHABLE' | 'PREFLIGHT_FAILED', phase: 'preflight' | 'checkpoint', host?: string) =>
    new FerryError(code, 'what happened', { phase, host });

  it('yes when the destination refused it at preflight or did not answer; no when the source did, past the preflight, or on Ctrl-C', () => {
    expect(refusedByDestination(failure('DEST_PORT_BUSY', 'preflight', 'hostB'), 'hostA')).toBe(true);
    expect(refusedByDestination(failure('AGENT_UNREACHABLE', 'preflight', 'hostB'), 'hostA')).toBe(true);
    // Runtimes differ between source and destination: another destination may match.
    expect(refusedByDestination(failure('PREFLIGHT_FAILED', 'preflight'), 'hostA')).toBe(true);
    expect(refusedByDestination(failure('CONTAINER_NOT_RUNNING', 'preflight', 'hostA'), 'hostA')).toBe(false);
    expect(refusedByDestination(failure('HOOK_FAILED', 'checkpoint', 'hostA'), 'hostA')).toBe(false);
    expect(refusedByDestination(failure('CANCELLED', 'preflight', 'hostB'), 'hostA')).toBe(false);
  });
});
