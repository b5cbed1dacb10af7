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
    await journal.advance(journal.require('m-1'), 'transfer');
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
    const updates = Array.from({ length: 20 }, (_, i) => journal.update(journal.require('m-2'), { container: `redis${i}` }));
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
    await expect(journal.advance(journal.require('m-2'), 'sent')).rejects.toBeInstanceOf(IllegalPhaseChange); // skips transfer and sealed
    expect(journal.require('m-2').phase).toBe('checkpoint');
    await journal.advance(journal.require('m-2'), 'transfer');
    await journal.advance(journal.require('m-2'), 'sealed');
    await expect(journal.advance(journal.require('m-2'), 'restored')).rejects.toBeInstanceOf(IllegalPhaseChange); // a destination's phase
    // Typed by role: a source's record does not even compile with a destination's phase or field.
    // @ts-expect-error 'restored' is no phase of a source
    await expect(journal.advance(journal.source('m-2'), 'restored')).rejects.toBeInstanceOf(IllegalPhaseChange);
    // @ts-expect-error `received` is the destination's
    await journal.update(journal.source('m-2'), { received: { bytes: 1, sha256: 'x' } });
    await expect(async () => journal.destination('m-2')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await journal.advance(journal.require('m-2'), 'rollback');
    await journal.advance(journal.require('m-2'), 'failed');
    await expect(journal.advance(journal.require('m-2'), 'commit')).rejects.toBeInstanceOf(IllegalPhaseChange);
    expect(JSON.parse(readFileSync(join(dir, 'migrations', 'm-2.json'), 'utf8')).phase).toBe('failed');
    expect(journal.active()).toEqual([]);

    // A destination commits only from verified.
    await journal.create({ ...base, role: 'destination', id: 'm-3', phase: 'preflight' });
    for (const phase of ['transfer', 'received', 'restore', 'restored'] as const) await journal.advance(journal.require('m-3'), phase);
    await expect(journal.advance(journal.require('m-3'), 'commit')).rejects.toBeInstanceOf(IllegalPhaseChange);
    await journal.advance(journal.require('m-3'), 'verified');
    await journal.advance(journal.require('m-3'), 'commit');
    await expect(journal.advance(journal.require('m-3'), 'rollback')).rejects.toBeInstanceOf(IllegalPhaseChange); // removal may have begun
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
    // The flags that stood for a destination's transfer and its service address's sub-state.
    write({ ...base, role: 'destination', id: 'm-touched', phase: 'preflight', touched: true });
    write({ ...base, role: 'destination', id: 'm-untouched', phase: 'preflight', touched: false });
    write({ ...base, role: 'destination', id: 'm-address', phase: 'restored', serviceAddress: '192.0.2.50', addressTaken: true });
    const journal = new Journal(dir);
    await journal.open();
    const ids = ['m-sent', 'm-sealed', 'm-sending', 'm-restored', 'm-received', 'm-touched', 'm-untouched'];
    const phases = Object.fromEntries(ids.map((id) => [id, journal.require(id).phase]));
    expect(phases).toEqual({ 'm-sent': 'sent', 'm-sealed': 'sealed', 'm-sending': 'transfer', 'm-restored': 'restored', 'm-received': 'received', 'm-touched': 'transfer', 'm-untouched': 'preflight' });
    expect(journal.destination('m-address').address).toBe('taken');
    expect(journal.require('m-touched')).not.toHaveProperty('touched');
  });

  it('stamps every phase it enters, keeps why a migration was rolled back, and lists newest first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    const journal = new Journal(dir);
    await journal.open();
    await journal.create({ ...base, id: 'm-a', phase: 'checkpoint' });
    await journal.advance(journal.require('m-a'), 'transfer');
    await journal.advance(journal.require('m-a'), 'rollback', { outcome: 'TRANSFER_FAILED: the link is down' });
    await journal.advance(journal.require('m-a'), 'failed', { outcome: 'restored from local checkpoint' });
    const record = journal.require('m-a');
    expect(record.phases?.map((p) => p.phase)).toEqual(['checkpoint', 'transfer', 'rollback', 'failed']);
    const times = record.phases?.map((p) => Date.parse(p.at)) ?? [];
    expect(times.every((t, i) => i === 0 || t >= (times[i - 1] ?? 0))).toBe(true);
    expect(record.phases?.at(-1)?.at).toBe(record.updatedAt);
    expect(record.reason).toBe('TRANSFER_FAILED: the link is down');
    expect(record.outcome).toBe('restored from local checkpoint');
    await new Promise((r) => setTimeout(r, 5));
    await journal.create({ ...base, id: 'm-b', phase: 'checkpoint' });
    expect(journal.list().map((r) => r.id)).toEqual(['m-b', 'm-a']);
    // All of it on disk, read back after a restart.
    const reopened = new Journal(dir);
    await reopened.open();
    expect(reopened.require('m-a').phases).toEqual(record.phases);
  });

  it('keeps the newest finished records as history, and none younger than the minimum age goes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    const finish = async (journal: Journal, id: string) => {
      await journal.create({ ...base, id, phase: 'checkpoint' });
      await journal.advance(journal.require(id), 'rollback', { outcome: 'CANCELLED: test' });
      await journal.advance(journal.require(id), 'failed', { outcome: 'resumed' });
      // Records are ordered by their millisecond timestamps: two finished in the same millisecond
      // would tie, and which of them is the newer is what this test asks.
      await new Promise((r) => setTimeout(r, 3));
    };
    const young = new Journal(dir, { keep: 2 });
    await young.open();
    for (const id of ['m-1', 'm-2', 'm-3']) await finish(young, id);
    // Three finished, two to keep, but all younger than a week: nothing goes.
    expect(young.list()).toHaveLength(3);

    const journal = new Journal(dir, { keep: 2, minAgeMs: 0 });
    expect((await journal.open()).map((r) => r.id).sort()).toEqual(['m-2', 'm-3']); // pruned on open
    await journal.create({ ...base, id: 'm-open', phase: 'checkpoint' });
    await finish(journal, 'm-4');
    // The open one is never history; of the finished, the newest two stay, on disk too.
    expect(journal.list().map((r) => r.id).sort()).toEqual(['m-3', 'm-4', 'm-open']);
    expect((await new Journal(dir, { keep: 1000 }).open()).map((r) => r.id).sort()).toEqual(['m-3', 'm-4', 'm-open']);
  });

  it('reads records written before phase times were kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-'));
    await new Journal(dir).open();
    const old = { ...base, id: 'm-old', phase: 'transfer', createdAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:01.000Z' };
    writeFileSync(join(dir, 'migrations', 'm-old.json'), JSON.stringify(old));
    const journal = new Journal(dir);
    await journal.open();
    await journal.advance(journal.require('m-old'), 'sealed');
    expect(journal.require('m-old').phases?.map((p) => p.phase)).toEqual(['sealed']);
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
