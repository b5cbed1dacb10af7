// The coordinator's one retry policy: only an agent out of reach is asked again (it restarts, or
// the link dropped for a moment); any other answer is final, and a cancel stops the waiting.
import pRetry from 'p-retry';
import { FerryError } from '../../common/errors.ts';

export interface Patience {
  /** How many times the call is asked again (0: once only). */
  retries: number;
  /** How long the agent may stay out of reach in one go before its last failure is the answer. */
  budgetMs: number;
  signal?: AbortSignal | undefined;
}

/** How long a rollback or the destination's commit keeps trying an agent that does not answer. */
export const SETTLE_BUDGET_MS = 30_000;

/**
 * Runs `call`, asking again while the agent is out of reach. A call that got through and was
 * cut after 2 s or more (the agent restarted while it worked) starts a new outage: the budget
 * counts from then.
 */
export function whileUnreachable<T>(call: () => Promise<T>, patience: Patience): Promise<T> {
  let startedAt = 0;
  let unreachableSince: number | undefined;
  const attempt = () => {
    startedAt = performance.now();
    return call();
  };
  return pRetry(attempt, {
    retries: patience.retries,
    minTimeout: 250,
    maxTimeout: 2_000,
    signal: patience.signal,
    shouldRetry: ({ error }) => {
      if (FerryError.from(error).code !== 'AGENT_UNREACHABLE' || patience.signal?.aborted) return false;
      if (unreachableSince === undefined || performance.now() - startedAt > 2_000) unreachableSince = startedAt;
      return performance.now() - unreachableSince <= patience.budgetMs;
    },
  });
}
