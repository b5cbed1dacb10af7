import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, FerryError, isErrorCode } from '../../common/errors.ts';
import { renderErrorTable } from '../../scripts/error-table.ts';

describe('FerryError', () => {
  it('says where it happened and keeps the code', () => {
    const error = new FerryError('DEST_PORT_BUSY', 'port 6380 is already published by container web2', { phase: 'restore', host: 'hostB' });
    expect(error.describe()).toBe('[restore@hostB] port 6380 is already published by container web2');
    expect(error.code).toBe('DEST_PORT_BUSY');
    expect(error.hint).toBe(ERROR_CODES.DEST_PORT_BUSY.hint);
  });

  it('fills in phase and host only where they are missing', () => {
    const error = new FerryError('CHECKPOINT_FAILED', 'criu failed', { host: 'hostA' });
    const placed = error.at('checkpoint', 'hostB');
    expect(placed.host).toBe('hostA');
    expect(placed.phase).toBe('checkpoint');
  });

  it('turns foreign errors into INTERNAL and aborts into CANCELLED', () => {
    expect(FerryError.from(new Error('boom')).code).toBe('INTERNAL');
    expect(FerryError.from(Object.assign(new Error('x'), { name: 'AbortError' })).code).toBe('CANCELLED');
    expect(isErrorCode('SAME_HOST')).toBe(true);
    expect(isErrorCode('NOPE')).toBe(false);
  });

  it("finds the Ferry error inside stream.pipeline's AggregateError", () => {
    const inner = new FerryError('DISK_FULL', 'the destination disk is full', { host: 'hostB' });
    const aggregated = new AggregateError([new Error('write EPIPE'), inner], 'the destination disk is full');
    expect(FerryError.from(aggregated)).toMatchObject({ code: 'DISK_FULL', host: 'hostB' });
    expect(FerryError.from(new AggregateError([new Error('boom')])).code).toBe('INTERNAL');
  });
});

describe('docs/errors.md', () => {
  it('lists exactly the codes in common/error-codes.ts, with their meaning and fix', () => {
    const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    expect(docs).toBe(renderErrorTable());
    for (const code of Object.keys(ERROR_CODES)) expect(docs).toContain(`| \`${code}\` |`);
  });
});
