// What every step of a migration gets of the agent it runs in, whatever its role: which host
// this is, where its published ports answer, and its podman, journal, log and archive folder.
// Each room's context adds what that step alone needs.
import type { Journal } from './journal.ts';
import type { Logger } from './log.ts';
import type { Podman } from './podman/podman.ts';

export interface HostContext {
  host: string;
  /** This host's own address (its agent's): where its published ports answer, and the interface a service address goes on. */
  address: string;
  podman: Podman;
  journal: Journal;
  log: Logger;
  archiveDir: string;
  /** The agent's own state (journal, archives, units set aside): no container may bind it. */
  stateDir: string;
  /** This host's admission policy (admission/policy.ts), read at each check so that an edit counts at once. */
  policyPath: string;
}
