import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../agent/dataplane/pool.ts';

describe('BufferPool', () => {
  it('gives a buffer back once, by any view of it, and ignores buffers it never lent', async () => {
    const pool = new BufferPool(1024, 1);
    const buffer = await pool.take();
    pool.give(Buffer.alloc(1024)); // not the pool's
    pool.give(buffer.subarray(10, 20));
    pool.give(buffer.subarray(0, 5)); // a second view of the same: still one buffer
    const again = await pool.take();
    expect(again.buffer).toBe(buffer.buffer);
    expect(again.length).toBe(1024);
    const third = pool.take();
    const raced = await Promise.race([third.then(() => 'took'), new Promise((r) => setTimeout(r, 50, 'waiting'))]);
    expect(raced).toBe('waiting');
    pool.give(again);
    await expect(third).resolves.toHaveLength(1024);
  });

  it('a taker that gave up does not swallow the buffer meant for the next one', async () => {
    const pool = new BufferPool(64, 1);
    const held = await pool.take();
    const quitting = new AbortController();
    const first = pool.take(quitting.signal);
    const second = pool.take();
    quitting.abort();
    await expect(first).rejects.toMatchObject({ code: 'CANCELLED' });
    pool.give(held);
    const got = await Promise.race([second, new Promise((r) => setTimeout(r, 200, 'still waiting'))]);
    expect(got).not.toBe('still waiting');
  });
});
