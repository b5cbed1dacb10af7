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
