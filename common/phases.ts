// The phases of a migration, and which phase may follow which. Progress events, logs and the
// agents' journals all use these names.
export const PHASES = [
  'preflight',
  'checkpoint',
  'transfer',
  'restore',
  'verify',
  'commit',
  'rollback',
  'done',
  'failed',
] as const;

export type Phase = (typeof PHASES)[number];

const NEXT: Record<Phase, readonly Phase[]> = {
  preflight: ['checkpoint', 'failed'],
  checkpoint: ['transfer', 'rollback'],
  transfer: ['restore', 'rollback'],
  restore: ['verify', 'rollback'],
  verify: ['commit', 'rollback'],
  commit: ['done'],
  rollback: ['failed'],
  done: [],
  failed: [],
};

export function isPhase(value: unknown): value is Phase {
  return typeof value === 'string' && (PHASES as readonly string[]).includes(value);
}

export function canTransition(from: Phase, to: Phase): boolean {
  return NEXT[from].includes(to);
}

export function isTerminal(phase: Phase): boolean {
  return NEXT[phase].length === 0;
}
