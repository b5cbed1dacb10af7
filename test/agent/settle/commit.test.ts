// The source's commit, run for real against a journal on disk: the phases recovery may ask it to
// commit from, and the ones it must refuse. podman is a stand-in that knows no container (the
// checkpointed copy is already gone), which is all this path asks of it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { Journal, type JournalPhase } from '../../../agent/journal.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { Podman } from '../../../agent/podman/podman.ts';
import { commitHere } from '../../../agent/settle/commit.ts';
import { Origins } from '../../../agent/fleet/origins.ts';
import type { SettleContext } from '../../../agent/settle/context.ts';

const gone = async () => {
  throw new FerryError('PODMAN_FAILED', 'podman container inspect: Error: no such container abc');
};

async function sourceIn(phase: JournalPhase): Promise<{ ctx: SettleContext; journal: Journal }> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-commit-'));
  const journal = new Journal(dir);
  await journal.open();
  await journal.create({ id: 'm-1', role: 'source', container: 'redis', containerId: 'abc', peer: 'hostB', phase: 'checkpoint', archivePath: join(dir, 'm-1.tar'), touched: true });
  const path: JournalPhase[] = ['transfer', 'sealed', 'sent'];
  for (const step of path.slice(0, path.indexOf(phase) + 1)) await journal.advance('m-1', step);
  const ctx: SettleContext = {
    host: 'hostA',
    address: '127.0.0.1',
    podman: { run: gone, runJson: gone } as unknown as Podman,
    journal,
    log: silentLogger,
    archiveDir: dir,
    stateDir: dir,
    policyPath: join(dir, 'policy.json'),
    stopReceiving: async () => {},
    over: () => {},
    problems: new Map(),
    origins: new Origins(dir),
  };
  return { ctx, journal };
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
