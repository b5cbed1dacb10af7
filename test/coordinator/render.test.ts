// How the coordinator words the end of a failed migration: the first line must say where the
// container stands.
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import { formatEvent } from '../../coordinator/render.ts';

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
