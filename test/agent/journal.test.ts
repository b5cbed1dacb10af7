import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, validMigrationId } from '../../agent/journal.ts';
import { IllegalPhaseChange } from '../../common/phases.ts';

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
    await journal.create({ ...base, id: 'm-2', phase: 'checkpoint' });
    const updates = Array.from({ length: 20 }, (_, i) => journal.update('m-2', { container: `redis${i}` }));
    await expect(Promise.all(updates)).resolves.toHaveLength(20);
    expect(JSON.parse(readFileSync(join(dir, 'migrations', 'm-2.json'), 'utf8')).container).toBe('redis19');
    await journal.forget('m-2');
    expect(await new Journal(dir).open()).toEqual([]);
  });

  it("moves only as its role's machine allows, and an illegal change writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    const journal = new Journal(dir);
    await journal.open();
    // A journal begins where its role begins.
    await expect(journal.create({ ...base, id: 'm-0', phase: 'transfer' })).rejects.toThrow(/begins in phase checkpoint/);
    await journal.create({ ...base, id: 'm-2', phase: 'checkpoint' });
    await expect(journal.advance('m-2', 'sent')).rejects.toBeInstanceOf(IllegalPhaseChange); // skips transfer and sealed
    expect(journal.require('m-2').phase).toBe('checkpoint');
    await journal.advance('m-2', 'transfer');
    await journal.advance('m-2', 'sealed');
    await expect(journal.advance('m-2', 'restored')).rejects.toBeInstanceOf(IllegalPhaseChange); // a destination's phase
    await journal.advance('m-2', 'rollback');
    await journal.advance('m-2', 'failed');
    await expect(journal.advance('m-2', 'commit')).rejects.toBeInstanceOf(IllegalPhaseChange);
    expect(JSON.parse(readFileSync(join(dir, 'migrations', 'm-2.json'), 'utf8')).phase).toBe('failed');
    expect(journal.active()).toEqual([]);

    // A destination commits only from verified.
    await journal.create({ ...base, role: 'destination', id: 'm-3', phase: 'preflight' });
    for (const phase of ['transfer', 'received', 'restore', 'restored'] as const) await journal.advance('m-3', phase);
    await expect(journal.advance('m-3', 'commit')).rejects.toBeInstanceOf(IllegalPhaseChange);
    await journal.advance('m-3', 'verified');
    await journal.advance('m-3', 'commit');
    await expect(journal.advance('m-3', 'rollback')).rejects.toBeInstanceOf(IllegalPhaseChange); // removal may have begun
  });

  it('reads journals written before the phases were explicit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    const write = (record: object) => writeFileSync(join(dir, 'migrations', `${(record as { id: string }).id}.json`), JSON.stringify(record));
    await new Journal(dir).open();
    write({ ...base, id: 'm-sent', phase: 'transfer', outcome: 'archive sent and verified by the destination' });
    write({ ...base, id: 'm-sealed', phase: 'transfer', sealed: true });
    write({ ...base, id: 'm-sending', phase: 'transfer' });
    write({ ...base, role: 'destination', id: 'm-restored', phase: 'verify' });
    write({ ...base, role: 'destination', id: 'm-received', phase: 'transfer', received: { bytes: 1, sha256: 'x' } });
    const journal = new Journal(dir);
    await journal.open();
    const phases = Object.fromEntries(['m-sent', 'm-sealed', 'm-sending', 'm-restored', 'm-received'].map((id) => [id, journal.require(id).phase]));
    expect(phases).toEqual({ 'm-sent': 'sent', 'm-sealed': 'sealed', 'm-sending': 'transfer', 'm-restored': 'restored', 'm-received': 'received' });
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
