// Recovery's decisions, branch by branch: a real journal, the peer and this agent's own commit and
// rollback recorded instead of done. What each side may do follows from the phases in its journal.
import { Dialer } from '../../../common/dial.ts';
import { describe, expect, it, vi } from 'vitest';
import type { Journal, JournalPhase, Role } from '../../../agent/journal.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { Podman } from '../../../agent/podman/podman.ts';
import { Reconciler, type PeerView, type Peers } from '../../../agent/settle/recovery.ts';
import { journalAt } from './journal-at.ts';

/** One migration in `phase`, left untouched (stale unless `fresh`), and what recovery did about it. */
async function settle(
  role: Role,
  phase: JournalPhase,
  peer: PeerView,
  options: { deadPorts?: string[]; orphan?: boolean; fresh?: boolean; expired?: boolean; meanwhile?: (journal: Journal) => Promise<void> } = {},
) {
  const { journal } = await journalAt(role, phase, { expired: options.expired });
  await new Promise((r) => setTimeout(r, 5));
  const did: string[] = [];
  const agent = {
    journal,
    podman: {} as Podman,
    dialer: new Dialer({ preferDirect: true }),
    isBusy: () => false,
    track: <T>(_id: string, work: () => Promise<T>) => work(),
    commit: async () => {
      did.push('commit here');
      return 'committed';
    },
    rollback: async (_id: string, _reason: string, peerRolledBack = false) => {
      did.push(peerRolledBack ? 'rollback here (peer confirmed)' : 'rollback here');
      return 'rolled back';
    },
  };
  const peers: Peers = {
    // What the migration does while its peer is asked (a call of its coordinator that comes late).
    view: async () => {
      await options.meanwhile?.(journal);
      return peer;
    },
    tell: async (_record, action) => void did.push(`${action} peer`),
    deadPorts: async () => options.deadPorts ?? [],
  };
  const reconciler = new Reconciler(agent, silentLogger, { settleAfterMs: options.fresh ? 60_000 : 1, intervalMs: 60_000 }, peers);
  if (options.orphan) {
    reconciler.start();
    reconciler.stop();
    await vi.waitFor(() => expect(did.length).toBeGreaterThan(0));
  } else {
    await reconciler.tick();
  }
  return did;
}

const at = (phase: JournalPhase, idleMs = 60_000): PeerView => ({ phase, idleMs, busy: false });

describe('recovery at the source', () => {
  it('a send cut off by a restart resumes the container here (the destination cannot have it whole)', async () => {
    expect(await settle('source', 'transfer', 'unreachable', { orphan: true })).toEqual(['rollback peer', 'rollback here']);
  });

  it('a sealed archive stays frozen while the destination cannot be asked', async () => {
    expect(await settle('source', 'sealed', 'unreachable')).toEqual([]);
    expect(await settle('source', 'sent', 'unreachable')).toEqual([]);
  });

  it('resumes only once the destination has no copy', async () => {
    expect(await settle('source', 'sent', 'unknown')).toEqual(['rollback here (peer confirmed)']);
    expect(await settle('source', 'sent', at('failed'))).toEqual(['rollback here (peer confirmed)']);
  });

  it('restored but never verified: commits when the ports answer at the destination, rolls both back when not', async () => {
    expect(await settle('source', 'sent', at('restored'))).toEqual(['commit peer', 'commit here']);
    expect(await settle('source', 'sent', at('restored'), { deadPorts: ['10.0.0.9:6379'] })).toEqual(['rollback peer', 'rollback here (peer confirmed)']);
  });

  it('verified or committed at the destination: commits', async () => {
    expect(await settle('source', 'sent', at('verified'))).toEqual(['commit peer', 'commit here']);
    expect(await settle('source', 'sent', at('done'))).toEqual(['commit here']);
  });

  it('the coordinator gone before the restore: rolls both back', async () => {
    expect(await settle('source', 'sent', at('received'))).toEqual(['rollback peer', 'rollback here (peer confirmed)']);
  });

  it('leaves alone what a live destination is still working on, and what is not stale yet', async () => {
    expect(await settle('source', 'sent', at('restore'))).toEqual([]);
    expect(await settle('source', 'sent', { phase: 'restored', idleMs: 60_000, busy: true })).toEqual([]);
    expect(await settle('source', 'sent', at('restored', 0))).toEqual([]);
    expect(await settle('source', 'sent', at('verified'), { fresh: true })).toEqual([]);
  });
});

describe('recovery at the destination', () => {
  it('a restore cut off by a restart is removed', async () => {
    expect(await settle('destination', 'restore', 'unreachable', { orphan: true })).toEqual(['rollback here']);
  });

  it("a restored copy follows the source's word, and nothing else", async () => {
    expect(await settle('destination', 'restored', at('done'))).toEqual(['commit here']);
    expect(await settle('destination', 'verified', at('done'))).toEqual(['commit here']);
    expect(await settle('destination', 'restored', at('failed'))).toEqual(['rollback here']);
    expect(await settle('destination', 'restored', at('sent'))).toEqual([]);
    expect(await settle('destination', 'restored', 'unreachable')).toEqual([]);
    expect(await settle('destination', 'restored', 'unknown')).toEqual([]);
  });

  it('a receive the source has not begun yet waits for its grant to expire', async () => {
    // The source journals a migration only once asked to checkpoint: until a stream came, not
    // knowing it is no sign that it gave up.
    expect(await settle('destination', 'preflight', 'unknown', {})).toEqual([]);
    expect(await settle('destination', 'preflight', 'unknown', { expired: true })).toEqual(['rollback here']);
  });

  it('does nothing when the migration moved on while its peer was asked', async () => {
    const restoring = async (journal: Journal) => void (await journal.advance(journal.require('m-1'), 'restore'));
    expect(await settle('destination', 'received', 'unknown', { meanwhile: restoring })).toEqual([]);
    const arrived = async (journal: Journal) => void (await journal.advance(journal.require('m-1'), 'transfer'));
    expect(await settle('destination', 'preflight', 'unknown', { expired: true, meanwhile: arrived })).toEqual([]);
    const committing = async (journal: Journal) => void (await journal.advance(journal.require('m-1'), 'commit'));
    expect(await settle('source', 'sent', 'unknown', { meanwhile: committing })).toEqual([]);
  });

  it('what was received goes once the source gave up', async () => {
    expect(await settle('destination', 'received', 'unknown')).toEqual(['rollback here']);
    expect(await settle('destination', 'received', at('failed'))).toEqual(['rollback here']);
    expect(await settle('destination', 'received', at('sent'))).toEqual([]);
  });
});
