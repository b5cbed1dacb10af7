// The source's commit, run for real against a journal on disk: the phases recovery may ask it to
// commit from, and the ones it must refuse. podman is a stand-in that knows no container (the
// checkpointed copy is already gone), which is all this path asks of it.
import { describe, expect, it } from 'vitest';
import type { Journal, JournalPhase } from '../../../agent/journal.ts';
import { commitHere } from '../../../agent/settle/commit.ts';
import type { SettleContext } from '../../../agent/settle/context.ts';
import { journalAt, settleContext } from './journal-at.ts';

async function sourceIn(phase: JournalPhase): Promise<{ ctx: SettleContext; journal: Journal }> {
  const { journal, dir } = await journalAt('source', phase);
  return { ctx: settleContext(journal, dir), journal };
}

describe('the source commits', () => {
  for (const phase of ['sealed', 'sent'] as const) {
    it(`from ${phase}: the move is kept, the record ends done`, async () => {
      const { ctx, journal } = await sourceIn(phase);
      expect(await commitHere(ctx, 'm-1')).toBe('no source copy left to remove');
      expect(journal.require('m-1').phase).toBe('done');
    });
  }

  it('not from transfer: the destination cannot hold the whole archive yet', async () => {
    const { ctx, journal } = await sourceIn('transfer');
    await expect(commitHere(ctx, 'm-1')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(journal.require('m-1').phase).toBe('transfer');
  });
});
