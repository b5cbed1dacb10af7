// Defaults that the coordinator and the agents both apply, in one place so that they cannot drift
// apart: the CLI shows them in --help, the agents fall back to them when a request leaves a field at 0.
export const DEFAULTS = {
  /** How long a broken transfer keeps being resumed before the migration rolls back. */
  transferRetryMs: 30_000,
  /**
   * How long each published TCP port gets to answer: the coordinator's verify, the destination's
   * own check before it counts as verified, recovery's check at the destination, a resume's check.
   */
  portAnswerMs: 10_000,
  /** podman's checkpoint, and its restore, at most. */
  checkpointTimeoutMs: 10 * 60_000,
  restoreTimeoutMs: 10 * 60_000,
} as const;
