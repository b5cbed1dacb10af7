// Recovery's table (agent/settle/decisions.ts), row by row, carried out by the real Reconciler
// with this agent's real commit and rollback (settle/commit.ts, settle/rollback.ts) on a journal
// on disk. podman is a stand-in that knows no container: a destination's rollback and every
// commit then run to their end; a source's rollback passes its guards, enters rollback and finds
// no container to resume, which is as far as a host without it gets (ROLLBACK_FAILED).
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { DESTINATION_PHASES, SOURCE_PHASES } from '../../../common/phases.ts';
import { Dialer } from '../../../common/dial.ts';
import type { JournalPhase, Role } from '../../../agent/journal.ts';
import { silentLogger } from '../../../agent/log.ts';
import { commitHere } from '../../../agent/settle/commit.ts';
import { DECISIONS, asksPeer, decide, type Action, type Facts, type PeerSays, type Row } from '../../../agent/settle/decisions.ts';
import { Reconciler, type PeerView, type Peers } from '../../../agent/settle/recovery.ts';
import { rollbackHere } from '../../../agent/settle/rollback.ts';
import { journalAt, settleContext } from './journal-at.ts';

/** A peer's answer that recovery sorts as `says`, for a settle delay of `settleAfterMs`. */
function peerView(says: PeerSays, settleAfterMs: number): PeerView {
  const idle = settleAfterMs * 2 + 60_000;
  switch (says) {
    case 'not asked':
    case 'unreachable':
      return 'unreachable';
    case 'unknown':
      return 'unknown';
    case 'failed':
    case 'done':
      return { phase: says, idleMs: 0, busy: true };
    case 'at work':
      return { phase: 'restored', idleMs: 0, busy: true };
    case 'idle in preflight, transfer or received':
      return { phase: 'received', idleMs: idle, busy: false };
    case 'idle in restored':
      return { phase: 'restored', idleMs: idle, busy: false };
    case 'idle in verified':
      return { phase: 'verified', idleMs: idle, busy: false };
    case 'idle elsewhere':
      return { phase: 'restore', idleMs: idle, busy: false };
  }
}

interface Outcome {
  phase: JournalPhase;
  /** What this host's recovery told its peer. */
  told: string[];
  /** The commits and rollbacks that ran here, and what they ended with. */
  ran: string[];
}

async function settle(role: Role, phase: JournalPhase, facts: Facts, says: PeerSays, deadPorts: string[] = []): Promise<Outcome> {
  const { journal, dir } = await journalAt(role, phase, { expired: facts.expired });
  const settleAfterMs = facts.stale ? 1 : 600_000;
  if (facts.stale) await sleep(5);
  const ctx = settleContext(journal, dir);
  const told: string[] = [];
  const ran: string[] = [];
  const noted = (what: string, work: Promise<string>) =>
    work.then(
      (outcome) => (ran.push(what), outcome),
      (error: unknown) => {
        ran.push(`${what}: ${FerryError.from(error).code}`);
        throw error;
      },
    );
  const peers: Peers = {
    view: async () => peerView(says, settleAfterMs),
    tell: async (_record, action) => void told.push(action),
    deadPorts: async () => deadPorts,
  };
  const agent = {
    journal,
    podman: ctx.podman,
    dialer: new Dialer({ preferDirect: true }),
    isBusy: () => false,
    track: <T>(_id: string, work: () => Promise<T>) => work(),
    commit: (id: string) => noted('commit', commitHere(ctx, id)),
    rollback: (id: string, reason: string, peerRolledBack = false) => noted(peerRolledBack ? 'rollback (peer confirmed)' : 'rollback', rollbackHere(ctx, id, reason, peerRolledBack)),
  };
  const reconciler = new Reconciler(agent, silentLogger, { settleAfterMs, intervalMs: 600_000 }, peers);
  // start() marks what is unfinished as orphaned (as after an agent restart); stopped at once, so only tick() settles.
  if (facts.orphan) {
    reconciler.start();
    reconciler.stop();
  }
  await reconciler.tick();
  return { phase: journal.require('m-1').phase, told, ran };
}

/** What each action must leave behind, said apart from the code that carries it out. */
function expected(role: Role, action: Action): Outcome {
  // A source's rollback passes its guards and then finds no container to resume here (see the header).
  const rollback = (peerConfirmed: boolean) => {
    const ran = peerConfirmed ? 'rollback (peer confirmed)' : 'rollback';
    return role === 'source' ? { phase: 'rollback' as const, ran: [`${ran}: ROLLBACK_FAILED`] } : { phase: 'failed' as const, ran: [ran] };
  };
  switch (action) {
    case 'finish the commit':
    case 'commit: the peer committed':
      return { phase: 'done', told: [], ran: ['commit'] };
    case 'commit both: the destination verified':
    case 'check the ports at the destination': // the ports answer there (no dead port)
      return { phase: 'done', told: ['commit'], ran: ['commit'] };
    case 'finish the rollback':
    case 'remove the cut-off restore':
    case 'remove what arrived: the source gave up':
      return { ...rollback(false), told: [] };
    case 'resume: the destination holds no copy':
      return { ...rollback(true), told: [] };
    case 'resume: the send was cut off':
      return { ...rollback(false), told: ['rollback'] };
    case 'roll back both: the coordinator is gone':
      return { ...rollback(true), told: ['rollback'] };
    case 'wait':
      throw new Error('no row waits');
  }
}

/** The least a row asks of Facts. */
function factsFor(row: Row): Facts {
  switch (row.when) {
    case 'always':
      return { orphan: false, stale: false, expired: false };
    case 'orphaned or stale':
      return { orphan: true, stale: false, expired: false };
    case 'stale':
      return { orphan: false, stale: true, expired: false };
    case 'stale and expired':
      return { orphan: false, stale: true, expired: true };
  }
}

const cases = DECISIONS.flatMap((row) =>
  (row.role === 'either' ? (['source', 'destination'] as const) : [row.role]).flatMap((role) =>
    row.phases
      .filter((phase) => (role === 'source' ? SOURCE_PHASES : DESTINATION_PHASES).includes(phase as never))
      .flatMap((phase) => row.peer.map((says) => ({ row, role, phase, says }))),
  ),
);

describe("recovery's table, row by row, through the real commit and rollback", () => {
  it.each(cases.map((c) => [`${c.role} in ${c.phase}, ${c.row.when}, the peer ${c.says}: ${c.row.action}`, c] as const))('%s', async (_name, { row, role, phase, says }) => {
    const facts = factsFor(row);
    expect(decide(role, phase, facts, says)).toBe(row);
    expect(await settle(role, phase, facts, says)).toEqual(expected(role, row.action));
  });

  it('a restored destination whose ports do not answer is rolled back on both sides', async () => {
    const outcome = await settle('source', 'sent', { orphan: false, stale: true, expired: false }, 'idle in restored', ['10.0.0.9:6379']);
    expect(outcome).toEqual({ phase: 'rollback', told: ['rollback'], ran: ['rollback (peer confirmed): ROLLBACK_FAILED'] });
  });

  it('a sealed source the table would not let resume is refused by the rollback itself', async () => {
    // The table's guard and the rollback's agree: without the destination's word, no resume.
    const { journal, dir } = await journalAt('source', 'sealed');
    const ctx = settleContext(journal, dir);
    await expect(rollbackHere(ctx, 'm-1', 'no word from the destination', false)).rejects.toMatchObject({ code: 'ROLLBACK_FAILED' });
    expect(journal.require('m-1').phase).toBe('sealed');
  });
});

describe('where no row fits, recovery waits and changes nothing', () => {
  const everySays: PeerSays[] = ['unreachable', 'unknown', 'failed', 'done', 'at work', 'idle in preflight, transfer or received', 'idle in restored', 'idle in verified', 'idle elsewhere'];
  const all: Facts = { orphan: true, stale: true, expired: true };
  const none: Facts = { orphan: false, stale: false, expired: false };
  const waits: Array<{ role: Role; phase: JournalPhase; facts: Facts; says: PeerSays }> = [];
  for (const role of ['source', 'destination'] as const) {
    const phases = (role === 'source' ? SOURCE_PHASES : DESTINATION_PHASES).filter((p) => p !== 'done' && p !== 'failed');
    for (const phase of phases) {
      for (const facts of [all, none]) {
        // Recovery asks the peer only where a row needs its word; elsewhere it decides on its own.
        const answers = asksPeer(role, phase, facts) ? everySays : (['not asked'] as const);
        for (const says of answers) if (!decide(role, phase, facts, says)) waits.push({ role, phase, facts, says });
      }
    }
  }

  it('the table leaves the moves that need a word nobody gave to a later round', () => {
    // Among them: a sealed source whose destination cannot be asked, a restored destination
    // whose source does not know the migration, anything not yet stale.
    const has = (role: Role, phase: JournalPhase, says: PeerSays, facts: Facts) => waits.some((w) => w.role === role && w.phase === phase && w.says === says && w.facts === facts);
    expect(has('source', 'sealed', 'unreachable', all)).toBe(true);
    expect(has('source', 'sent', 'at work', all)).toBe(true);
    expect(has('destination', 'restored', 'unknown', all)).toBe(true);
    expect(has('destination', 'received', 'not asked', none)).toBe(true);
    expect(has('source', 'transfer', 'not asked', none)).toBe(true);
  });

  it.each(waits.filter((w) => w.facts === all).map((w) => [`${w.role} in ${w.phase}, the peer ${w.says}`, w] as const))('%s: nothing done', async (_name, { role, phase, facts, says }) => {
    expect(await settle(role, phase, facts, says)).toEqual({ phase, told: [], ran: [] });
  });
});
