import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import { Journal, journalMayMove, validMigrationId } from '../../agent/journal.ts';

const base = {
  role: 'source' as const,
  container: 'redis1',
  containerId: 'abc',
  peer: 'hostB',
  archivePath: '/x.tar',
  touched: true,
};

describe('the agent journal', () => {
  it('persists every phase change and reads it back after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    const journal = new Journal(dir);
    await journal.open();
    await journal.create({ ...base, id: 'm-1', phase: 'checkpoint' });
    await journal.advance('m-1', 'transfer');
    const onDisk = JSON.parse(readFileSync(join(dir, 'migrations', 'm-1.json'), 'utf8'));
    expect(onDisk.phase).toBe('transfer');

    const reopened = new Journal(dir);
    const records = await reopened.open();
    expect(records.map((r) => [r.id, r.phase])).toEqual([['m-1', 'transfer']]);
    expect(reopened.active().map((r) => r.id)).toEqual(['m-1']);
  });

  it('takes updates of one migration at once (a stream and a data round ending together): none fails, the last one is on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    const journal = new Journal(dir);
    await journal.open();
    await journal.create({ ...base, id: 'm-2', phase: 'transfer' });
    const updates = Array.from({ length: 20 }, (_, i) => journal.update('m-2', { container: `redis${i}` }));
    await expect(Promise.all(updates)).resolves.toHaveLength(20);
    expect(JSON.parse(readFileSync(join(dir, 'migrations', 'm-2.json'), 'utf8')).container).toBe('redis19');
    await journal.forget('m-2');
    expect(await new Journal(dir).open()).toEqual([]);
  });

  it('moves forward or winds up, never back', async () => {
    expect(journalMayMove('preflight', 'transfer')).toBe(true); // a destination skips checkpoint
    expect(journalMayMove('transfer', 'commit')).toBe(true); // a source skips restore and verify
    expect(journalMayMove('transfer', 'checkpoint')).toBe(false);
    expect(journalMayMove('commit', 'rollback')).toBe(false); // removal may have begun
    expect(journalMayMove('verify', 'done')).toBe(false);
    expect(journalMayMove('rollback', 'restore')).toBe(false);
    expect(journalMayMove('done', 'rollback')).toBe(false);

    const journal = new Journal(mkdtempSync(join(tmpdir(), 'ferry-journal-')));
    await journal.open();
    await journal.create({ ...base, id: 'm-2', phase: 'transfer' });
    const error = await journal.advance('m-2', 'checkpoint').catch((e: unknown) => e);
    expect((error as FerryError).code).toBe('BAD_REQUEST');
    await journal.advance('m-2', 'rollback');
    await journal.advance('m-2', 'failed');
    const late = await journal.advance('m-2', 'commit').catch((e: unknown) => e);
    expect((late as FerryError).code).toBe('BAD_REQUEST');
    expect(journal.active()).toEqual([]);
  });

  it('knows unknown and malformed migration IDs apart', async () => {
    const journal = new Journal(mkdtempSync(join(tmpdir(), 'ferry-journal-')));
    await journal.open();
    expect(() => journal.require('m-nope')).toThrow(expect.objectContaining({ code: 'MIGRATION_UNKNOWN' }));
    expect(() => journal.require('../../etc/passwd')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(validMigrationId('m-20261122T031600-a1b2c3')).toBe(true);
    expect(validMigrationId('x'.repeat(65))).toBe(false);
  });
});
