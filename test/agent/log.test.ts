// The agent's log lines: JSON, one a line, with the host, and a migration's ID and phase on every
// line a child bound to them writes; below the level, nothing.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.ts';

describe('the agent log', () => {
  it('binds the host, the migration and its phase to every line of a child, and honours the level', () => {
    const lines: string[] = [];
    const log = createLogger({ host: 'hostA' }, { level: 'info', write: (line) => lines.push(line) });
    const migration = log.child({ migrationId: 'm-1', phase: 'restore' });
    migration.info({ bytes: 42 }, 'restored');
    migration.debug({}, 'not written at info');
    log.warn({ err: 'x' }, 'plain');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(parsed).toEqual([
      expect.objectContaining({ level: 'info', host: 'hostA', migrationId: 'm-1', phase: 'restore', bytes: 42, msg: 'restored' }),
      expect.objectContaining({ level: 'warn', host: 'hostA', err: 'x', msg: 'plain' }),
    ]);
    expect(parsed[1]).not.toHaveProperty('migrationId');
    expect(new Date(String(parsed[0]?.time)).toISOString()).toBe(parsed[0]?.time);
  });
});
