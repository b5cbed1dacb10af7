// A graceful stop: new work is refused at once, migrations under way may end on their own, and
// whatever is still open when the time is up is rolled back by the agent itself.
import { describe, expect, it } from 'vitest';
import { drain, type Drainable } from '../../agent/drain.ts';
import { silentLogger } from '../../agent/log.ts';
import type { MigrationRecord } from '../../agent/journal.ts';

function agent(open: string[], endsAfterMs?: number) {
  const calls: string[] = [];
  let active = open.map((id) => ({ id, role: 'source', phase: 'transfer' }) as MigrationRecord);
  if (endsAfterMs !== undefined) setTimeout(() => { active = []; }, endsAfterMs);
  const stand: Drainable = {
    stop: () => void calls.push('stop'),
    journal: { active: () => active },
    parking: false,
    rollback: async (id) => {
      calls.push(`rollback ${id}`);
      active = active.filter((r) => r.id !== id);
      return 'rolled back';
    },
  };
  return { stand, calls };
}

describe('drain', () => {
  it('stops taking work first, then waits for migrations that end on their own', async () => {
    const { stand, calls } = agent(['m-1'], 120);
    await drain(stand, { timeoutMs: 5_000, log: silentLogger, pollMs: 20 });
    expect(calls).toEqual(['stop']);
  });

  it('rolls back what is still open when the time is up', async () => {
    const { stand, calls } = agent(['m-1', 'm-2']);
    const started = Date.now();
    await drain(stand, { timeoutMs: 150, log: silentLogger, pollMs: 20 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(calls).toEqual(['stop', 'rollback m-1', 'rollback m-2']);
  });
});
