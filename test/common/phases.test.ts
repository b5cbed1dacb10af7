import { describe, expect, it } from 'vitest';
import { canTransition, isTerminal, PHASES } from '../../common/phases.ts';

describe('migration phases', () => {
  it('go forward in order, with rollback possible once something is frozen', () => {
    expect(canTransition('preflight', 'checkpoint')).toBe(true);
    expect(canTransition('checkpoint', 'restore')).toBe(false);
    expect(canTransition('transfer', 'rollback')).toBe(true);
    expect(canTransition('commit', 'rollback')).toBe(false);
    expect(canTransition('rollback', 'failed')).toBe(true);
  });

  it('end in done or failed and nowhere else', () => {
    expect(PHASES.filter(isTerminal)).toEqual(['done', 'failed']);
  });
});
