// The phases of a migration, one state machine per role, and the only place that says which
// phase may follow which. The coordinator's phases are the ones people see (progress events,
// errors, logs); each agent keeps finer ones in its journal, because what it may still undo
// depends on facts the coordinator's phases blur: whether the whole archive may have left the
// source, whether the destination's ports were checked.

/** What people see: the coordinator's phases, also named in errors and progress events. */
export const PHASES = ['preflight', 'checkpoint', 'transfer', 'restore', 'verify', 'commit', 'rollback', 'done', 'failed'] as const;
export type Phase = (typeof PHASES)[number];

export function isPhase(value: unknown): value is Phase {
  return typeof value === 'string' && (PHASES as readonly string[]).includes(value);
}

/**
 * The source agent's journal. `sealed`: the end of the archive went out, so the destination may
 * hold it whole and restore it; from here the source resumes only once the destination says it
 * holds no copy. `sent`: the destination checked the whole archive, and podman's checkpoint ended well.
 */
export const SOURCE_PHASES = ['checkpoint', 'transfer', 'sealed', 'sent', 'commit', 'rollback', 'done', 'failed'] as const;
export type SourcePhase = (typeof SOURCE_PHASES)[number];

/**
 * The destination agent's journal. `received`: the whole archive is here and checked out.
 * `restored`: podman restored it and the validation matched, but nobody has yet seen its ports
 * answer; `verified`: they answered, and only from here may the move be committed.
 */
export const DESTINATION_PHASES = ['preflight', 'transfer', 'received', 'restore', 'restored', 'verified', 'commit', 'rollback', 'done', 'failed'] as const;
export type DestinationPhase = (typeof DESTINATION_PHASES)[number];

export type Role = 'coordinator' | 'source' | 'destination' | 'park';

export class PhaseMachine<S extends string> {
  readonly role: Role;
  readonly phases: readonly S[];
  readonly #next: Readonly<Record<S, readonly S[]>>;

  constructor(role: Role, next: Readonly<Record<S, readonly S[]>>) {
    this.role = role;
    this.#next = next;
    this.phases = Object.keys(next) as S[];
  }

  has(value: unknown): value is S {
    return typeof value === 'string' && (this.phases as readonly string[]).includes(value);
  }

  may(from: S, to: S): boolean {
    return this.#next[from].includes(to);
  }

  isTerminal(phase: S): boolean {
    return this.#next[phase].length === 0;
  }

  /** Whether `phase` comes at or after `than` on the way forward (rollback and failed lead nowhere forward). */
  reached(phase: S, than: S): boolean {
    const seen = new Set<S>([than]);
    const queue: S[] = [than];
    for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
      if (at === phase) return true;
      for (const next of this.#next[at]) {
        if (next === 'rollback' || next === 'failed' || seen.has(next)) continue;
        seen.add(next);
        queue.push(next);
      }
    }
    return false;
  }

  /** Throws unless `to` may follow `from`; staying in a phase is always allowed. */
  check(from: S, to: S, what: string): void {
    if (from === to || this.may(from, to)) return;
    throw new IllegalPhaseChange(`${what}: the ${this.role} cannot go from phase ${from} to ${to}`);
  }
}

/**
 * A bug in Ferry, never a user's mistake: callers refuse requests that do not fit the phase
 * before they ask for the change. (A plain Error, so that errors.ts can name phases without
 * importing this file back; FerryError.from makes it INTERNAL.)
 */
export class IllegalPhaseChange extends Error {
  override name = 'IllegalPhaseChange';
}

/** A dry run ends in done straight after preflight; nothing is undone before the source was asked to freeze. */
export const COORDINATOR = new PhaseMachine<Phase>('coordinator', {
  preflight: ['checkpoint', 'done', 'failed'],
  checkpoint: ['transfer', 'rollback'],
  transfer: ['restore', 'rollback'],
  restore: ['verify', 'rollback'],
  verify: ['commit', 'rollback'],
  commit: ['done'],
  rollback: ['failed'],
  done: [],
  failed: [],
});

/** Once removal of the source copy has begun (commit), there is no way back. */
export const SOURCE = new PhaseMachine<SourcePhase>('source', {
  checkpoint: ['transfer', 'rollback'],
  transfer: ['sealed', 'rollback'],
  // sealed -> commit: this agent died after the archive's end went out and before it heard
  // podman's exit status (sent); recovery found the destination restored and verified it, so the
  // checkpointed copy here must go (agent/settle/recovery.ts asks, agent/settle/commit.ts does).
  sealed: ['sent', 'commit', 'rollback'],
  sent: ['commit', 'rollback'],
  commit: ['done'],
  rollback: ['failed'],
  done: [],
  failed: [],
});

/** Commit only from verified: a restored container whose ports were never seen answering is not a finished move. */
export const DESTINATION = new PhaseMachine<DestinationPhase>('destination', {
  preflight: ['transfer', 'rollback'],
  transfer: ['received', 'rollback'],
  received: ['restore', 'rollback'],
  restore: ['restored', 'rollback'],
  restored: ['verified', 'rollback'],
  verified: ['commit', 'rollback'],
  commit: ['done'],
  rollback: ['failed'],
  done: [],
  failed: [],
});

/**
 * A container parked on its own host's disk across a reboot (agent/park/). `pending`: named when
 * the park began, not yet touched; `checkpoint`: being dumped; `parked`: its complete checkpoint
 * is on disk and the container is stopped; `restore`: being brought back (a failed restore goes
 * back to parked, so it stays restorable); `failed`: never parked, and it runs (or was started
 * again after a reboot). A container is always running or parked with a complete checkpoint.
 */
export const PARK_PHASES = ['pending', 'checkpoint', 'parked', 'restore', 'done', 'failed'] as const;
export type ParkPhase = (typeof PARK_PHASES)[number];

export const PARK = new PhaseMachine<ParkPhase>('park', {
  pending: ['checkpoint', 'failed'],
  checkpoint: ['parked', 'failed'],
  parked: ['restore'],
  restore: ['done', 'parked'],
  done: [],
  failed: [],
});
