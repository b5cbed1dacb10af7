// How the coordinator words the end of a failed migration: the first line must say where the
// container stands.
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import type { MigrationSummary } from '../../coordinator/events.ts';
import { eventJson, formatEvent } from '../../coordinator/render.ts';

const failed = (code: 'NOT_ANSWERING' | 'RESTORE_FAILED' | 'AGENT_UNREACHABLE', rolledBack: boolean) =>
  formatEvent({ kind: 'failed', migrationId: 'm-1', error: new FerryError(code, 'what happened', { phase: 'restore', host: 'hostA' }), rolledBack })?.split('\n')[0];

describe('the failed line', () => {
  it('says the container runs on the source only when it was rolled back, and says it when it runs but does not answer', () => {
    expect(failed('RESTORE_FAILED', true)).toMatch(/rolled back: the container runs on the source$/);
    expect(failed('AGENT_UNREACHABLE', false)).toMatch(/ROLLBACK INCOMPLETE: read the error and the rollback lines above$/);
    expect(failed('NOT_ANSWERING', false)).toMatch(/ROLLBACK INCOMPLETE: the container runs on the source but does not answer there$/);
  });
});

describe('the progress line', () => {
  const progress = (totalBytes: number, etaMs: number, estimated: boolean) =>
    formatEvent({ kind: 'progress', migrationId: 'm-1', bytes: 100 * 1048576, totalBytes, bytesPerSecond: 12 * 1048576, etaMs, estimated });

  it('says the rate and the time left, and whether that time is an estimate', () => {
    expect(progress(-1, 18_000, true)).toMatch(/100(\.0)? MiB received by the destination, 12(\.0)? MiB\/s, about 18(\.0+)? s left$/);
    expect(progress(400 * 1048576, 25_000, false)).toMatch(/100(\.0)? MiB of 400(\.0)? MiB \(25%\), 12(\.0)? MiB\/s, 25(\.0+)? s left$/);
  });
});

describe('--new-address', () => {
  const summary: MigrationSummary = {
    migrationId: 'm-1', container: 'r1', from: 'hostA', to: 'hostC', checkpointMs: 500, archiveBytes: 1048576, transferMs: 100, restoreMs: 300,
    verifyMs: 10, totalMs: 2000, downtimeMs: 900, frozenMs: 200, runtimeCheckpointMs: 300, runtimeRestoreMs: 300, floorMs: 600, streamedRestore: true,
    relayedBytes: 0, pagesBytes: 0, dataBytesLive: 0, dataBytesFrozen: 0, imageBytes: 0, newAddress: true, ipAddresses: ['10.89.3.2'], sourceIpAddresses: ['10.88.1.1'], leftToClean: [],
  };

  it('a check that passes with a warning says WARN, not ok', () => {
    const text = formatEvent({ kind: 'checks', migrationId: 'm-1', host: 'hostC', checks: [{ name: 'ip', ok: true, warning: true, detail: 'IP 10.88.1.1 is outside ...' }, { name: 'port', ok: true, detail: 'free' }] });
    expect(text?.split('\n')).toEqual(['preflight  hostC: WARN ip: IP 10.88.1.1 is outside ...', 'preflight  hostC: ok   port: free']);
  });

  it('the summary prints the new IP beside the old one, and that the connections were closed; without a new IP it says nothing of it', () => {
    expect(formatEvent({ kind: 'done', summary })).toContain('\n  new address: 10.89.3.2 on hostC (was 10.88.1.1 on hostA); its established TCP connections were closed');
    expect(formatEvent({ kind: 'done', summary: { ...summary, newAddress: false, ipAddresses: ['10.88.1.1'] } })).not.toContain('new address');
    expect(JSON.parse(eventJson({ kind: 'done', summary })).summary).toMatchObject({ newAddress: true, ipAddresses: ['10.89.3.2'], sourceIpAddresses: ['10.88.1.1'] });
  });

  it('the summary says what a commit past the point of no return left to clean up, and nothing when nothing is left', () => {
    expect(formatEvent({ kind: 'done', summary })).not.toContain('left to clean up');
    const left = { ...summary, leftToClean: ['hostA: the frozen copy of the container and its archive (AGENT_UNREACHABLE)'] };
    expect(formatEvent({ kind: 'done', summary: left })).toContain('\n  left to clean up: hostA: the frozen copy of the container and its archive (AGENT_UNREACHABLE)');
  });
});
