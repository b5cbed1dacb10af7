// A host's cordon as everyone says it: the agent keeps it (agent/fleet/cordon.ts), its refusal,
// ferry cordon and ferry hosts show it.

export interface CordonState {
  cordoned: boolean;
  reason: string;
  /** ISO 8601; empty when not cordoned. */
  since: string;
}

/** "since ... (reason)". */
export function cordonedSince(state: Pick<CordonState, 'since' | 'reason'>): string {
  return `since ${state.since}${state.reason ? ` (${state.reason})` : ''}`;
}

/** "HOST is cordoned since ... (reason)". */
export function describeCordon(host: string, state: Pick<CordonState, 'since' | 'reason'>): string {
  return `${host} is cordoned ${cordonedSince(state)}`;
}
