// The evacuation's runner against a stand-in move (the e2e test moves real containers): how many
// at once, a failure that leaves the others alone, a refusing destination, Ctrl-C, and the events.
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { evacuationExitCode, parseParallel } from '../../../coordinator/commands/evacuate.ts';
import { runEvacuation, type Evacuee, type Move } from '../../../coordinator/evacuate/evacuation.ts';
import { Placement } from '../../../coordinator/evacuate/placement.ts';
import type { EvacuationEvent, MigrationSummary } from '../../../coordinator/events.ts';
import type { HostEntry } from '../../../coordinator/inventory.ts';

const MiB = 1048576;
const hosts = new Map(['hostB', 'hostC'].map((name, i) => [name, { name, agent: `127.0.0.${12 + i}:1`, address: `127.0.0.${12 + i}` } as HostEntry]));
const rooms = [...hosts.keys()].map((name) => ({ name, freeMemoryBytes: 4096 * MiB, freeDiskBytes: 50_000 * MiB }));
const containers = (n: number): Evacuee[] => Array.from({ length: n }, (_, i) => ({ name: `r${i + 1}`, estimatedBytes: 64 * MiB }));

const summary = (container: string, to: string): MigrationSummary =>
  ({ migrationId: `m-${container}`, container, from: 'hostA', to, downtimeMs: 300 }) as MigrationSummary;

/** A move that takes a few ms, and says how many ran at once. */
function stand(fail: (container: string, to: string) => FerryError | undefined = () => undefined) {
  let running = 0;
  let most = 0;
  const tried: string[] = [];
  const move: Move = async ({ name: container }, to, emit) => {
    running += 1;
    most = Math.max(most, running);
    tried.push(`${container}>${to.name}`);
    try {
      emit({ kind: 'phase', migrationId: `m-${container}`, phase: 'preflight', host: 'hostA', message: 'checking' });
      await new Promise((r) => setTimeout(r, 5));
      const failure = fail(container, to.name);
      if (failure) {
        emit({ kind: 'failed', migrationId: `m-${container}`, error: failure, rolledBack: failure.code !== 'ROLLBACK_FAILED' });
        throw failure;
      }
      emit({ kind: 'progress', migrationId: `m-${container}`, bytes: 10, totalBytes: 20, bytesPerSecond: 100, etaMs: 100, estimated: false });
      emit({ kind: 'phase', migrationId: `m-${container}`, phase: 'checkpoint', host: 'hostA', message: 'freezing' });
      return summary(container, to.name);
    } finally {
      running -= 1;
    }
  };
  return { move, most: () => most, tried };
}

async function run(n: number, parallel: number, move: Move, signal?: AbortSignal) {
  const events: EvacuationEvent[] = [];
  const results = await runEvacuation({ from: 'hostA', containers: containers(n), placement: new Placement(rooms), hosts, parallel, signal, move }, (e) => events.push(e));
  return { results, events };
}

describe('evacuation', () => {
  it('moves up to --parallel at once, spread over the destinations, and ends with every result', async () => {
    const s = stand();
    const { results, events } = await run(6, 3, s.move);
    expect(s.most()).toBe(3);
    expect(results.map((r) => [r.container, r.result, r.downtimeMs])).toEqual(containers(6).map((c) => [c.name, 'moved', 300]));
    expect(new Set(results.map((r) => r.to))).toEqual(new Set(['hostB', 'hostC']));
    expect(evacuationExitCode(results)).toBe(0);
    const end = events.at(-1);
    expect(end).toMatchObject({ kind: 'evacuated', host: 'hostA', total: 6, moved: 6, failed: 0, notStarted: 0, interrupted: false });
    // The count goes up as they end, and each says where its in-flight containers are.
    const counts = events.flatMap((e) => (e.kind === 'evacuation-progress' ? [e.moved] : []));
    expect(counts.at(-1)).toBe(6);
    expect(events.some((e) => e.kind === 'evacuation-progress' && e.inFlight.some((f) => f.phase === 'checkpoint' && f.bytes === 10))).toBe(true);
    // A migration's own events pass through with their container.
    expect(events.filter((e) => e.kind === 'migration' && e.event.kind === 'progress').map((e) => (e as { container: string }).container).sort()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
  });

  it('--parallel 1 moves one after the other', async () => {
    const s = stand();
    await run(4, 1, s.move);
    expect(s.most()).toBe(1);
  });

  it('one failure rolls back that container and the others still move; exit code 1, and 3 when a rollback failed', async () => {
    const s = stand((c) => (c === 'r2' ? new FerryError('HOOK_FAILED', 'the hook failed', { phase: 'checkpoint', host: 'hostA' }) : undefined));
    const { results, events } = await run(6, 3, s.move);
    expect(results.filter((r) => r.result === 'moved').length).toBe(5);
    expect(results.find((r) => r.container === 'r2')).toMatchObject({ result: 'failed', error: { code: 'HOOK_FAILED' } });
    expect(evacuationExitCode(results)).toBe(1);
    // The failure is shown as the migration said it; no other host is tried for it.
    expect(events.some((e) => e.kind === 'migration' && e.container === 'r2' && e.event.kind === 'failed')).toBe(true);
    expect(s.tried.filter((t) => t.startsWith('r2>'))).toHaveLength(1);

    const broken = stand((c) => (c === 'r4' ? new FerryError('ROLLBACK_FAILED', 'and then the rollback failed', { phase: 'rollback' }) : undefined));
    const second = await run(6, 3, broken.move);
    expect(second.results.find((r) => r.container === 'r4')?.result).toBe('rollback-failed');
    expect(second.results.filter((r) => r.result === 'moved').length).toBe(5);
    expect(evacuationExitCode(second.results)).toBe(3);
  });

  it('a destination whose preflight refuses the container: the next-best host takes it', async () => {
    // r1's port is taken on whichever host it goes to first.
    let firstTry: string | undefined;
    const s = stand((c, to) => {
      if (c !== 'r1') return undefined;
      firstTry ??= to;
      return to === firstTry ? new FerryError('DEST_PORT_BUSY', 'port 6501/tcp is already published', { phase: 'preflight', host: to }) : undefined;
    });
    const { results, events } = await run(2, 2, s.move);
    const other = firstTry === 'hostB' ? 'hostC' : 'hostB';
    expect(results.find((r) => r.container === 'r1')).toMatchObject({ result: 'moved', to: other, refusedBy: [firstTry] });
    expect(events).toContainEqual(expect.objectContaining({ kind: 'refused', container: 'r1', host: firstTry, next: other }));
    // The refusal is not shown as a failed move.
    expect(events.some((e) => e.kind === 'migration' && e.event.kind === 'failed')).toBe(false);
    expect(evacuationExitCode(results)).toBe(0);
  });

  it('refused by every destination: that container fails, nothing changed, the others move', async () => {
    const s = stand((c, to) => (c === 'r3' ? new FerryError('DEST_PORT_BUSY', 'port taken', { phase: 'preflight', host: to }) : undefined));
    const { results, events } = await run(4, 2, s.move);
    expect(results.find((r) => r.container === 'r3')).toMatchObject({ result: 'failed', refusedBy: expect.arrayContaining(['hostB', 'hostC']), error: { code: 'DEST_PORT_BUSY' } });
    expect(s.tried.filter((t) => t.startsWith('r3>')).sort()).toEqual(['r3>hostB', 'r3>hostC']);
    expect(events.filter((e) => e.kind === 'refused' && e.container === 'r3').map((e) => (e as { next: string }).next).at(-1)).toBe('');
    expect(results.filter((r) => r.result === 'moved').length).toBe(3);
  });

  it('no destination with room: the container fails before anything is asked of anyone', async () => {
    const events: EvacuationEvent[] = [];
    const s = stand();
    const small = [{ name: 'hostB', freeMemoryBytes: 100 * MiB, freeDiskBytes: 50_000 * MiB }];
    const results = await runEvacuation(
      { from: 'hostA', containers: [{ name: 'big', estimatedBytes: 200 * MiB }, { name: 'small', estimatedBytes: 50 * MiB }], placement: new Placement(small), hosts, parallel: 2, move: s.move },
      (e) => events.push(e),
    );
    expect(results[0]).toMatchObject({ container: 'big', result: 'failed', error: { code: 'PREFLIGHT_FAILED' } });
    expect(results[0]?.error?.details[0]).toMatch(/^hostB: 100 MiB of room left/);
    expect(results[1]).toMatchObject({ container: 'small', result: 'moved', to: 'hostB' });
    expect(s.tried).toEqual(['small>hostB']);
  });

  it('Ctrl-C: no container starts any more, those under way end as they end (their own rollback)', async () => {
    const controller = new AbortController();
    const s = stand((c) => {
      if (c === 'r1') controller.abort();
      return c === 'r1' ? new FerryError('CANCELLED', 'the migration was cancelled', { phase: 'checkpoint' }) : undefined;
    });
    const { results, events } = await run(6, 2, s.move, controller.signal);
    expect(results.find((r) => r.container === 'r1')).toMatchObject({ result: 'failed', error: { code: 'CANCELLED' } });
    expect(results.find((r) => r.container === 'r2')?.result).toBe('moved');
    expect(results.filter((r) => r.result === 'not-started').map((r) => r.container)).toEqual(['r3', 'r4', 'r5', 'r6']);
    expect(s.tried.map((t) => t.split('>')[0]).sort((a, b) => (a ?? '').localeCompare(b ?? ''))).toEqual(['r1', 'r2']);
    expect(events.at(-1)).toMatchObject({ kind: 'evacuated', interrupted: true, notStarted: 4, moved: 1, failed: 1 });
    expect(evacuationExitCode(results)).toBe(1);
  });

  it('the biggest go first', async () => {
    const s = stand();
    const sized = [{ name: 'small', estimatedBytes: MiB }, { name: 'big', estimatedBytes: 500 * MiB }, { name: 'mid', estimatedBytes: 50 * MiB }];
    await runEvacuation({ from: 'hostA', containers: sized, placement: new Placement(rooms), hosts, parallel: 1, move: s.move }, () => undefined);
    expect(s.tried.map((t) => t.split('>')[0])).toEqual(['big', 'mid', 'small']);
  });

  it('return: each container moves from the host it is on; the skipped ones end the table, and do not fail it', async () => {
    const moved: string[] = [];
    const home = new Map([['hostA', { name: 'hostA', agent: '127.0.0.11:1', address: '127.0.0.11' } as HostEntry]]);
    const move: Move = async (container, to) => {
      moved.push(`${container.name}:${container.from ?? '?'}>${to.name}`);
      // A refusal by the home host's preflight is not retried elsewhere: there is nowhere else.
      if (container.name === 'r3') throw new FerryError('DEST_PORT_BUSY', 'port 6503 is taken on hostA', { phase: 'preflight', host: 'hostA' });
      return summary(container.name, to.name);
    };
    const events: EvacuationEvent[] = [];
    const skipped = [{ container: 'r4', from: 'hostB', to: 'hostA', result: 'skipped' as const, refusedBy: [], reason: 'moved on to hostC by m-9' }];
    const results = await runEvacuation(
      {
        action: 'return',
        from: 'hostA',
        containers: [{ name: 'r1', estimatedBytes: MiB, from: 'hostB' }, { name: 'r2', estimatedBytes: MiB, from: 'hostC' }, { name: 'r3', estimatedBytes: MiB, from: 'hostC' }],
        skipped,
        placement: new Placement([{ name: 'hostA', freeMemoryBytes: 4096 * MiB, freeDiskBytes: 50_000 * MiB }]),
        hosts: home,
        parallel: 2,
        move,
      },
      (e) => events.push(e),
    );
    expect(moved.sort()).toEqual(['r1:hostB>hostA', 'r2:hostC>hostA', 'r3:hostC>hostA']);
    expect(results.map((r) => [r.container, r.from, r.result])).toEqual([['r1', 'hostB', 'moved'], ['r2', 'hostC', 'moved'], ['r3', 'hostC', 'failed'], ['r4', 'hostB', 'skipped']]);
    expect(events.at(-1)).toMatchObject({ kind: 'evacuated', action: 'return', total: 3, moved: 2, failed: 1, skipped: 1 });
    expect(evacuationExitCode(results)).toBe(1);
    expect(evacuationExitCode(results.filter((r) => r.container !== 'r3'))).toBe(0);
  });

  it('--parallel takes 1 to 16', () => {
    expect(parseParallel('3')).toBe(3);
    expect(parseParallel(undefined)).toBe(1);
    for (const bad of ['0', '17', '2.5', 'x']) expect(() => parseParallel(bad)).toThrow(/--parallel must be a whole number from 1 to 16/);
  });
});
