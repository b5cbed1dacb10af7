import { describe, expect, it } from 'vitest';
import { COORDINATOR, DESTINATION, IllegalPhaseChange, SOURCE } from '../../common/phases.ts';

describe('the phase machines', () => {
  it("the coordinator goes forward in order; rollback only once the source was asked to freeze", () => {
    expect(COORDINATOR.may('preflight', 'checkpoint')).toBe(true);
    expect(COORDINATOR.may('preflight', 'rollback')).toBe(false);
    expect(COORDINATOR.may('checkpoint', 'restore')).toBe(false);
    expect(COORDINATOR.may('transfer', 'rollback')).toBe(true);
    expect(COORDINATOR.may('commit', 'rollback')).toBe(false);
    expect(() => COORDINATOR.check('verify', 'done', 'm-1')).toThrow(IllegalPhaseChange);
    expect(() => COORDINATOR.check('verify', 'verify', 'm-1')).not.toThrow();
  });

  it('the source seals before it sends, and commits only what may be whole at the destination', () => {
    expect(SOURCE.may('transfer', 'commit')).toBe(false);
    // A sealed source whose destination restored the archive (recovery asked it) commits.
    expect(SOURCE.may('sealed', 'commit')).toBe(true);
    expect(SOURCE.may('sent', 'commit')).toBe(true);
    expect(SOURCE.may('sent', 'rollback')).toBe(true);
  });

  it('the destination commits only a verified restore', () => {
    expect(DESTINATION.may('restored', 'commit')).toBe(false);
    expect(DESTINATION.may('restored', 'verified')).toBe(true);
    expect(DESTINATION.may('verified', 'commit')).toBe(true);
    expect(DESTINATION.may('transfer', 'restore')).toBe(false); // the archive must have checked out
  });

  it('every machine ends in done or failed and nowhere else', () => {
    for (const machine of [COORDINATOR, SOURCE, DESTINATION]) {
      expect(machine.phases.filter((p) => machine.isTerminal(p as never))).toEqual(['done', 'failed']);
    }
  });

  it('knows what lies ahead of a phase', () => {
    expect(DESTINATION.reached('verified', 'received')).toBe(true);
    expect(DESTINATION.reached('received', 'verified')).toBe(false);
    expect(COORDINATOR.reached('checkpoint', 'rollback')).toBe(false);
  });
});
