// What recovery (recovery.ts) does with a migration nobody drives any more, as one table:
// (role, phase, what this host knows, what the peer says) -> action. The first row that fits
// decides; a migration no row fits waits for the next round. recovery.ts carries the actions
// out with this agent's own commit and rollback, and test/agent/settle/decisions.test.ts runs
// every row against them.
import type { DestinationPhase, SourcePhase } from '../../common/phases.ts';
import type { JournalPhase, Role } from '../record.ts';

/** What the peer says of the migration, as recovery sorts its answer. */
export type PeerSays =
  /** Recovery does not ask: the row decides on this host's journal alone. */
  | 'not asked'
  | 'unreachable'
  /** Its agent answers, and knows no such migration. */
  | 'unknown'
  | 'failed'
  | 'done'
  /** A call works on it there, or it changed lately: its coordinator may still be at work. */
  | 'at work'
  /** Untouched there for longer than the settle delay, in this phase (or in another: 'idle elsewhere'). */
  | 'idle in preflight, transfer or received'
  | 'idle in restored'
  | 'idle in verified'
  | 'idle elsewhere';

/** What this host knows of the migration, beside its phase. */
export interface Facts {
  /** Unfinished when this agent started: the calls that worked on it died with the previous run. */
  orphan: boolean;
  /** Untouched here for longer than the settle delay. */
  stale: boolean;
  /** Destination: the source's grant to send has expired. */
  expired: boolean;
}

export type Action =
  | 'finish the commit'
  | 'finish the rollback'
  /** Source: tell the destination to roll back (it cannot hold the whole archive), then resume here. */
  | 'resume: the send was cut off'
  /** Source: the destination holds no copy, which is the confirmation a sealed source needs to resume. */
  | 'resume: the destination holds no copy'
  | 'commit: the peer committed'
  /** Source: the destination verified the move and its coordinator is gone: commit there, then here. */
  | 'commit both: the destination verified'
  /** Source: commit both if the container's ports answer at the destination, roll back both if not. */
  | 'check the ports at the destination'
  /** Source: the coordinator is gone before the restore: roll back there, then resume here. */
  | 'roll back both: the coordinator is gone'
  /** Destination: a restore nobody finishes; podman may have half made the container. */
  | 'remove the cut-off restore'
  /** Destination: the source rolled back, or gave up, or its grant ran out: undo what arrived or was restored. */
  | 'remove what arrived: the source gave up'
  | 'wait';

/** When a row applies, in words over Facts. */
export type When = 'always' | 'orphaned or stale' | 'stale' | 'stale and expired';

export interface Row {
  role: Role | 'either';
  phases: readonly JournalPhase[];
  when: When;
  peer: readonly PeerSays[];
  action: Action;
  /** Why this is right, for whoever reads the table. */
  because: string;
}

const SENDING: readonly SourcePhase[] = ['checkpoint', 'transfer'];
/** The end of the archive went out: the destination may hold it whole and restore it. */
const MAY_BE_WHOLE_THERE: readonly SourcePhase[] = ['sealed', 'sent'];
const BEFORE_RESTORE: readonly DestinationPhase[] = ['preflight', 'transfer', 'received'];
const RESTORED: readonly DestinationPhase[] = ['restored', 'verified'];

export const DECISIONS: readonly Row[] = [
  { role: 'either', phases: ['commit'], when: 'always', peer: ['not asked'], action: 'finish the commit', because: 'a commit that a crash interrupted is simply finished' },
  { role: 'either', phases: ['rollback'], when: 'always', peer: ['not asked'], action: 'finish the rollback', because: 'a rollback that a crash interrupted is simply finished' },
  {
    role: 'source',
    phases: SENDING,
    when: 'orphaned or stale',
    peer: ['not asked'],
    action: 'resume: the send was cut off',
    because: 'checkpointing or sending when the agent died: the destination cannot have the whole archive',
  },
  {
    role: 'source',
    phases: MAY_BE_WHOLE_THERE,
    when: 'stale',
    peer: ['unknown', 'failed'],
    action: 'resume: the destination holds no copy',
    because: 'the destination never restored it, or removed what it restored',
  },
  { role: 'source', phases: MAY_BE_WHOLE_THERE, when: 'stale', peer: ['done'], action: 'commit: the peer committed', because: 'the destination keeps the container for good' },
  {
    role: 'source',
    phases: MAY_BE_WHOLE_THERE,
    when: 'stale',
    peer: ['idle in verified'],
    action: 'commit both: the destination verified',
    because: 'its ports answered there, and the coordinator that would have committed is gone',
  },
  {
    role: 'source',
    phases: MAY_BE_WHOLE_THERE,
    when: 'stale',
    peer: ['idle in restored'],
    action: 'check the ports at the destination',
    because: 'restored and validated there, and the coordinator is gone, maybe while it checked the ports: the move is finished only once they answer',
  },
  {
    role: 'source',
    phases: MAY_BE_WHOLE_THERE,
    when: 'stale',
    peer: ['idle in preflight, transfer or received'],
    action: 'roll back both: the coordinator is gone',
    because: 'nothing runs there yet, and nobody will ask it to restore',
  },
  {
    role: 'destination',
    phases: ['restore'],
    when: 'orphaned or stale',
    peer: ['not asked'],
    action: 'remove the cut-off restore',
    because: 'nothing restores it any more (the agent restarted, or the call that did ended)',
  },
  { role: 'destination', phases: RESTORED, when: 'stale', peer: ['done'], action: 'commit: the peer committed', because: 'the source commits only after the ports were seen answering here' },
  {
    role: 'destination',
    phases: RESTORED,
    when: 'stale',
    peer: ['failed'],
    action: 'remove what arrived: the source gave up',
    because: 'a restored copy follows the source word for word: it rolled back, so this copy goes',
  },
  {
    role: 'destination',
    phases: BEFORE_RESTORE,
    when: 'stale',
    peer: ['failed'],
    action: 'remove what arrived: the source gave up',
    because: 'the source rolled the migration back',
  },
  {
    role: 'destination',
    phases: ['transfer', 'received'],
    when: 'stale',
    peer: ['unknown'],
    action: 'remove what arrived: the source gave up',
    because: 'bytes came from it, and it no longer knows the migration',
  },
  {
    role: 'destination',
    phases: ['preflight'],
    when: 'stale and expired',
    peer: ['unknown', 'unreachable'],
    action: 'remove what arrived: the source gave up',
    because:
      'a source that does not know the migration may not have begun it yet (it journals it when its coordinator asks it to checkpoint, after this host prepared); once the grant expired it never will',
  },
  {
    role: 'destination',
    phases: ['transfer', 'received'],
    when: 'stale and expired',
    peer: ['unreachable'],
    action: 'remove what arrived: the source gave up',
    because: 'the grant to send expired and the source cannot be asked',
  },
];

const HOLDS: Record<When, (facts: Facts) => boolean> = {
  always: () => true,
  'orphaned or stale': (facts) => facts.orphan || facts.stale,
  stale: (facts) => facts.stale,
  'stale and expired': (facts) => facts.stale && facts.expired,
};

function fits(row: Row, role: Role, phase: JournalPhase, facts: Facts): boolean {
  return (row.role === 'either' || row.role === role) && row.phases.includes(phase) && HOLDS[row.when](facts);
}

/** Whether some row needs the peer's word before it can decide (recovery asks only then). */
export function asksPeer(role: Role, phase: JournalPhase, facts: Facts): boolean {
  const rows = DECISIONS.filter((row) => fits(row, role, phase, facts));
  return !rows.some((row) => row.peer.includes('not asked')) && rows.length > 0;
}

export function decide(role: Role, phase: JournalPhase, facts: Facts, peer: PeerSays): Row | undefined {
  return DECISIONS.find((row) => fits(row, role, phase, facts) && row.peer.includes(peer));
}
