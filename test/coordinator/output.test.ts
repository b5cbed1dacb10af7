// What a person sees of a migration and of an evacuation: on a terminal the progress is rewritten
// in place and gone once done; elsewhere plain lines, progress at most a line a second; with
// --json every event, an evacuation's with its container.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import type { EvacuationEvent, MigrationEvent, MigrationSummary } from '../../coordinator/events.ts';
import { evacuationRenderer, renderer, type Output } from '../../coordinator/output.ts';
import { formatEvacuated, formatEvacuationEvent } from '../../coordinator/render.ts';
import { fakeTerminal } from './terminal.ts';

const MiB = 1048576;
const progress = (id: string, mib: number): MigrationEvent => ({ kind: 'progress', migrationId: id, bytes: mib * MiB, totalBytes: 64 * MiB, bytesPerSecond: 32 * MiB, etaMs: ((64 - mib) / 32) * 1000, estimated: false });
const transferred = (id: string): MigrationEvent => ({ kind: 'transferred', migrationId: id, bytes: 64 * MiB, transferMs: 2000, sha256: 'ab'.repeat(32) });
const phase = (id: string, p: 'checkpoint' | 'transfer'): MigrationEvent => ({ kind: 'phase', migrationId: id, phase: p, host: 'hostA', message: `${p} now` });
const summary = (container: string, to: string) =>
  ({ migrationId: `m-${container}`, container, from: 'hostA', to, checkpointMs: 1, archiveBytes: 64 * MiB, transferMs: 2000, restoreMs: 1, verifyMs: 1, totalMs: 3000, downtimeMs: 420, frozenMs: 1, runtimeCheckpointMs: 1, runtimeRestoreMs: 1, floorMs: 2, streamedRestore: true, relayedBytes: 0, pagesBytes: 0, dataBytesLive: 0, dataBytesFrozen: 0, imageBytes: 0, newAddress: false, ipAddresses: [], sourceIpAddresses: [], leftToClean: [] }) as MigrationSummary;

function plain(json = false) {
  const lines: string[] = [];
  const io: Output = { json, out: (t) => lines.push(...t.split('\n')), err: (t) => lines.push(...t.split('\n')) };
  return { io, lines };
}

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] }));
afterEach(() => vi.useRealTimers());

describe('a migration', () => {
  it('on a terminal: one progress line, rewritten in place, replaced by the transferred line', () => {
    const t = fakeTerminal();
    const render = renderer(t.io);
    render(phase('m-1', 'transfer'));
    for (const mib of [8, 16, 32, 48]) {
      render(progress('m-1', mib));
      vi.advanceTimersByTime(200);
    }
    const during = t.screen();
    expect(during).toHaveLength(2);
    expect(during[1]).toMatch(/^transfer +48(\.0)? MiB of 64(\.0)? MiB \(75%\), 32(\.0)? MiB\/s, 500 ms left$/);
    render(transferred('m-1'));
    render.close();
    const after = t.screen();
    expect(after).toHaveLength(2);
    expect(after[1]).toMatch(/^transfer +64(\.0)? MiB in 2\.00 s/);
    expect(t.raw()).toContain('\x1b[1A\x1b[0J');
  });

  it('not on a terminal: plain lines, a progress line at most once a second, no escapes', () => {
    const { io, lines } = plain();
    const render = renderer(io);
    render(phase('m-1', 'transfer'));
    render(progress('m-1', 8));
    render(progress('m-1', 16));
    vi.advanceTimersByTime(1001);
    render(progress('m-1', 32));
    render(transferred('m-1'));
    expect(lines.filter((l) => l.includes('MiB of 64'))).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('\x1b');
  });

  it('--json: every progress event, as today, even on a terminal', () => {
    const t = fakeTerminal();
    const render = renderer({ ...t.io, json: true });
    render(progress('m-1', 8));
    render(progress('m-1', 9));
    const events = t.raw().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.event, e.bytes])).toEqual([['progress', 8 * MiB], ['progress', 9 * MiB]]);
  });
});

/** Two containers in flight to two hosts, one done, then the end. */
function evacuation(render: (event: EvacuationEvent) => void): void {
  render({ kind: 'evacuation', host: 'hostA', parallel: 2, containers: [{ name: 'r1', estimatedBytes: 64 * MiB }, { name: 'r2', estimatedBytes: 64 * MiB }], destinations: [{ host: 'hostB', freeMemoryBytes: 4096 * MiB, freeDiskBytes: 9000 * MiB }, { host: 'hostC', freeMemoryBytes: 4096 * MiB, freeDiskBytes: 9000 * MiB }] });
  render({ kind: 'placed', container: 'r1', host: 'hostB', roomBytes: 4096 * MiB, estimatedBytes: 64 * MiB });
  render({ kind: 'evacuation-progress', host: 'hostA', total: 2, moved: 0, failed: 0, inFlight: [{ container: 'r1', to: 'hostB', phase: 'preflight', bytes: 0, totalBytes: -1 }] });
  render({ kind: 'placed', container: 'r2', host: 'hostC', roomBytes: 4096 * MiB, estimatedBytes: 64 * MiB });
  const both = (p1: 'checkpoint' | 'transfer', p2: 'checkpoint' | 'transfer', moved = 0) =>
    render({ kind: 'evacuation-progress', host: 'hostA', total: 2, moved, failed: 0, inFlight: [{ container: 'r1', to: 'hostB', phase: p1, bytes: 0, totalBytes: -1 }, { container: 'r2', to: 'hostC', phase: p2, bytes: 0, totalBytes: -1 }] });
  both('checkpoint', 'checkpoint');
  render({ kind: 'migration', container: 'r1', event: phase('m-r1', 'transfer') });
  both('transfer', 'checkpoint');
  render({ kind: 'migration', container: 'r2', event: phase('m-r2', 'transfer') });
  both('transfer', 'transfer');
  for (const mib of [8, 16, 24]) {
    render({ kind: 'migration', container: 'r1', event: progress('m-r1', mib) });
    render({ kind: 'migration', container: 'r2', event: progress('m-r2', mib * 2) });
    vi.advanceTimersByTime(600);
  }
}

function end(render: (event: EvacuationEvent) => void): void {
  render({ kind: 'migration', container: 'r1', event: transferred('m-r1') });
  render({ kind: 'migration', container: 'r1', event: { kind: 'done', summary: summary('r1', 'hostB') } });
  render({ kind: 'evacuation-progress', host: 'hostA', total: 2, moved: 1, failed: 0, inFlight: [{ container: 'r2', to: 'hostC', phase: 'transfer', bytes: 48 * MiB, totalBytes: 64 * MiB }] });
  const error = new FerryError('HOOK_FAILED', 'the io.ferry.hook.post-restore hook of r2 failed', { phase: 'restore', host: 'hostC' });
  render({ kind: 'migration', container: 'r2', event: { kind: 'failed', migrationId: 'm-r2', error, rolledBack: true } });
  render({ kind: 'evacuation-progress', host: 'hostA', total: 2, moved: 1, failed: 1, inFlight: [] });
  render({
    kind: 'evacuated', host: 'hostA', total: 2, moved: 1, failed: 1, notStarted: 0, interrupted: false,
    results: [{ container: 'r1', to: 'hostB', result: 'moved', downtimeMs: 420, refusedBy: [] }, { container: 'r2', to: 'hostC', result: 'failed', refusedBy: [], error }],
  });
}

describe('an evacuation', () => {
  it('on a terminal: a live line per transfer and the count with what is in flight; at the end only lines that stay, and the table', () => {
    const t = fakeTerminal();
    const render = evacuationRenderer(t.io);
    evacuation(render);
    const live = t.screen().slice(-3);
    expect(live[0]).toMatch(/^\[r1\] transfer +24(\.0)? MiB of 64(\.0)? MiB \(37%\)/);
    expect(live[1]).toMatch(/^\[r2\] transfer +48(\.0)? MiB of 64(\.0)? MiB \(75%\)/);
    expect(live[2]).toBe('evacuate   hostA: 0 of 2 done; in flight: r1 -> hostB transfer, r2 -> hostC transfer');
    // The live lines were rewritten, not appended: one of each on the screen.
    expect(t.screen().filter((l) => l.startsWith('[r1] transfer ') && l.includes(' of 64'))).toHaveLength(1);
    expect(t.screen().filter((l) => l.startsWith('evacuate   hostA: 0 of 2 done'))).toHaveLength(1);
    end(render);
    render.close();
    const screen = t.screen();
    expect(screen.filter((l) => /MiB of 64|in flight/.test(l))).toEqual([]);
    expect(screen).toContain('[r1] placed     on hostB: the most room left (4.0 GiB of free memory and disk; about 64 MiB needed)');
    expect(screen).toContain('[r1] done       r1 moved from hostA to hostB');
    expect(screen.slice(-4)).toEqual([
      'container  destination  result                              downtime',
      'r1         hostB        moved                               420 ms',
      'r2         hostC        failed: HOOK_FAILED, runs on hostA  -',
      'evacuate   hostA: 1 of 2 running containers moved, 1 failed and stayed',
    ]);
  });

  it('not on a terminal: tagged plain lines, the count when a container starts or ends (not at each phase), progress a line a second each', () => {
    const { io, lines } = plain();
    const render = evacuationRenderer(io);
    evacuation(render);
    end(render);
    expect(lines.join('\n')).not.toContain('\x1b');
    expect(lines.filter((l) => l.startsWith('evacuate   hostA: '))).toEqual([
      'evacuate   hostA: 2 running containers (about 128 MiB), up to 2 at a time, to hostB (4.0 GiB memory, 8.8 GiB disk free), hostC (4.0 GiB memory, 8.8 GiB disk free)',
      'evacuate   hostA: 0 of 2 done; in flight: r1 -> hostB preflight',
      'evacuate   hostA: 0 of 2 done; in flight: r1 -> hostB checkpoint, r2 -> hostC checkpoint',
      'evacuate   hostA: 1 of 2 done; in flight: r2 -> hostC transfer 75%',
      'evacuate   hostA: 2 of 2 done (1 failed); none in flight',
      'evacuate   hostA: 1 of 2 running containers moved, 1 failed and stayed',
    ]);
    // 600 ms apart: the first and the third are a second apart.
    expect(lines.filter((l) => l.startsWith('[r1] transfer ') && l.includes(' of 64'))).toHaveLength(2);
    expect(lines).toContain('[r2] failed     rolled back: the container runs on the source');
    expect(lines.at(-2)).toBe('r2         hostC        failed: HOOK_FAILED, runs on hostA  -');
  });

  it('--json: every event, a migration\'s with its container, and the table as one event', () => {
    const { io, lines } = plain(true);
    const render = evacuationRenderer(io);
    evacuation(render);
    end(render);
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'progress').map((e) => e.container)).toEqual(['r1', 'r2', 'r1', 'r2', 'r1', 'r2']);
    expect(events.filter((e) => e.event === 'evacuation-progress')).toHaveLength(6);
    const last = events.at(-1) as { event: string; results: Array<Record<string, unknown>> } & Record<string, unknown>;
    expect(last).toMatchObject({ event: 'evacuated', host: 'hostA', moved: 1, failed: 1, total: 2 });
    expect(last.results).toEqual([
      { container: 'r1', to: 'hostB', result: 'moved', downtimeMs: 420, refusedBy: [] },
      { container: 'r2', to: 'hostC', result: 'failed', refusedBy: [], error: expect.objectContaining({ code: 'HOOK_FAILED', phase: 'restore', host: 'hostC' }) },
    ]);
  });
});

describe('a return', () => {
  it('says where each container is, whom it could not ask, and ends with the table of where they came from', () => {
    const text = formatEvacuationEvent({
      kind: 'evacuation',
      action: 'return',
      host: 'hostA',
      parallel: 2,
      containers: [{ name: 'r1', estimatedBytes: 64 * MiB, from: 'hostB' }, { name: 'r2', estimatedBytes: 64 * MiB, from: 'hostC' }, { name: 'r3', estimatedBytes: 64 * MiB, from: 'hostC' }],
      destinations: [{ host: 'hostA', freeMemoryBytes: 4096 * MiB, freeDiskBytes: 9000 * MiB }],
      unasked: [{ host: 'hostD', error: 'AGENT_UNREACHABLE: connection refused' }],
    });
    expect(text).toContain('return     hostA: 3 containers evacuated from it (about 192 MiB), on hostB (1), hostC (2), up to 2 at a time, to hostA');
    expect(text).toContain("hostD could not be asked what it holds of hostA's: AGENT_UNREACHABLE: connection refused");
    const table = formatEvacuated({
      kind: 'evacuated', action: 'return', host: 'hostA', total: 1, moved: 1, failed: 0, notStarted: 0, skipped: 1, interrupted: false,
      results: [
        { container: 'r1', from: 'hostB', to: 'hostA', result: 'moved', downtimeMs: 420, refusedBy: [] },
        { container: 'r4', from: 'hostC', to: 'hostA', result: 'skipped', refusedBy: [], reason: 'moved on to hostB by m-9' },
      ],
    });
    expect(table.split('\n')).toEqual([
      'container  from   result                             downtime',
      'r1         hostB  moved                              420 ms',
      'r4         hostC  skipped: moved on to hostB by m-9  -',
      'return     hostA: 1 of 1 containers moved back, 1 skipped',
    ]);
  });

  it('a cordoned destination of an evacuation is named and left out', () => {
    const text = formatEvacuationEvent({
      kind: 'evacuation', host: 'hostA', parallel: 1, containers: [{ name: 'r1', estimatedBytes: MiB }],
      destinations: [{ host: 'hostB', freeMemoryBytes: 4096 * MiB, freeDiskBytes: 9000 * MiB }, { host: 'hostC', freeMemoryBytes: 0, freeDiskBytes: 0, cordoned: 'since 2026-12-07T00:00:00.000Z: podman upgrade' }],
    });
    expect(text).toContain('hostC (cordoned since 2026-12-07T00:00:00.000Z: podman upgrade, left out)');
  });
});
