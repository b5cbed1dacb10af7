// Past migrations as the agents' journals tell them. Both agents of a migration journal it, each
// its own side; here the sides are joined into one migration: what it moved, from where to where,
// how it ended, how long the service was gone, and every phase of both sides with its time.
import { JOURNAL_PHASE, ROLE, type AgentRole, type JournalPhase } from '../common/wire.ts';
import type { MigrationEntry__Output as MigrationEntry } from '../proto/gen/ferry/v1/MigrationEntry.ts';

/** One host's side of a migration. */
export interface MigrationSide {
  host: string;
  role: AgentRole;
  /** The other host, as this side's journal names it. */
  peer: string;
  container: string;
  phase: JournalPhase;
  outcome: string;
  reason: string;
  createdAt: string;
  updatedAt: string;
  phases: Array<{ phase: JournalPhase; at: string }>;
  downtimeMs?: number | undefined;
}

export interface MigrationView {
  migrationId: string;
  container: string;
  from: string;
  to: string;
  /** done (committed), failed (rolled back), or the phase of a side still under way. */
  result: string;
  /** Every side known is over. */
  over: boolean;
  /** Why it was rolled back, when it was. */
  reason: string;
  downtimeMs?: number | undefined;
  startedAt: string;
  /** When its last side ended (over only). */
  endedAt?: string | undefined;
  /** Oldest first. */
  sides: MigrationSide[];
}

const OVER: ReadonlySet<JournalPhase> = new Set(['done', 'failed']);

/** A journal entry off the wire as one side; undefined for one whose role or phase this coordinator does not know. */
export function sideOf(host: string, entry: MigrationEntry): MigrationSide | undefined {
  const role = ROLE.fromWire(entry.role);
  const phase = JOURNAL_PHASE.fromWire(entry.phase);
  if (!role || !phase) return undefined;
  const phases = entry.phases.flatMap((p) => {
    const known = JOURNAL_PHASE.fromWire(p.phase);
    return known ? [{ phase: known, at: p.at }] : [];
  });
  return {
    host,
    role,
    peer: entry.peer,
    container: entry.container,
    phase,
    outcome: entry.outcome,
    reason: entry.reason,
    createdAt: entry.createdAt,
    updatedAt: entry.updatedAt,
    phases,
    downtimeMs: entry.downtimeMs,
  };
}

/** Joins the sides of one migration (one or two: a host that was not asked, or forgot it, is missing). */
export function viewOf(migrationId: string, sides: MigrationSide[]): MigrationView {
  const source = sides.find((s) => s.role === 'source');
  const destination = sides.find((s) => s.role === 'destination');
  const open = sides.find((s) => !OVER.has(s.phase));
  // The destination's end decides: it commits first, and a source resumes only once it rolled back.
  const ended = destination ?? source;
  const startedAt = sides.map((s) => s.createdAt).sort()[0] ?? '';
  return {
    migrationId,
    container: source?.container ?? destination?.container ?? '',
    from: source?.host ?? destination?.peer ?? '',
    to: destination?.host ?? source?.peer ?? '',
    result: open ? open.phase : (ended?.phase ?? 'unknown'),
    over: !open,
    reason: destination?.reason || source?.reason || '',
    downtimeMs: destination?.downtimeMs ?? source?.downtimeMs,
    startedAt,
    endedAt: open ? undefined : sides.map((s) => s.updatedAt).sort().at(-1),
    sides: [...sides].sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
  };
}

/** Every host's journal entries, joined into one view per migration, newest first. */
export function mergeHistory(perHost: ReadonlyArray<{ host: string; entries: readonly MigrationEntry[] }>): MigrationView[] {
  const byId = new Map<string, MigrationSide[]>();
  for (const { host, entries } of perHost) {
    for (const entry of entries) {
      const side = sideOf(host, entry);
      if (!side) continue;
      const sides = byId.get(entry.migrationId) ?? [];
      // The same host asked twice (named twice in the inventory) is one side.
      if (!sides.some((s) => s.host === side.host && s.role === side.role)) sides.push(side);
      byId.set(entry.migrationId, sides);
    }
  }
  return [...byId]
    .map(([id, sides]) => viewOf(id, sides))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.migrationId.localeCompare(a.migrationId));
}

/** Each phase of each side, in time order, with how long that side stayed in it (undefined for its last). */
export function timeline(view: MigrationView): Array<{ at: string; host: string; role: AgentRole; phase: JournalPhase; lastedMs?: number | undefined }> {
  const rows = view.sides.flatMap((side) =>
    side.phases.map((p, i) => {
      const next = side.phases[i + 1];
      return { at: p.at, host: side.host, role: side.role, phase: p.phase, lastedMs: next ? Date.parse(next.at) - Date.parse(p.at) : undefined };
    }),
  );
  return rows.sort((a, b) => a.at.localeCompare(b.at));
}
