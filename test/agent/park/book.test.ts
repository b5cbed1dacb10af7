// The park book: every phase change through PARK, durable records that a restart reads back,
// and nothing left once a record is forgotten.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParkBook } from '../../../agent/park/book.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-park-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('park book', () => {
  it('walks pending -> checkpoint -> parked -> restore -> done, refuses shortcuts, and survives a restart', async () => {
    const book = new ParkBook(dir);
    await book.open();
    const record = await book.create({ container: 'db', containerId: 'a'.repeat(64), batch: 'b1', ports: [] });
    expect(record.phase).toBe('pending');
    await expect(book.advance(record.id, 'parked')).rejects.toThrow(/cannot go from phase pending to parked/);
    await book.advance(record.id, 'checkpoint', { validation: 'rows=3' });
    writeFileSync(record.archivePath, 'checkpoint bytes');
    await book.advance(record.id, 'parked');

    // Another process (the agent after a reboot) reads what this one wrote.
    const again = new ParkBook(dir);
    const read = await again.open();
    expect(read.map((r) => [r.container, r.phase, r.validation])).toEqual([['db', 'parked', 'rows=3']]);
    expect(again.unfinished()).toHaveLength(1);
    await again.advance(record.id, 'restore');
    await again.advance(record.id, 'parked', { outcome: 'restore failed' }); // a failed restore stays restorable
    await again.advance(record.id, 'restore');
    await again.advance(record.id, 'done');
    expect(again.unfinished()).toHaveLength(0);
    await again.forget(record.id);
    expect(existsSync(record.archivePath)).toBe(false);
    expect(readdirSync(join(dir, 'parked'))).toEqual([]);
  });
});
