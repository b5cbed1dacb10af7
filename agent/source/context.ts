// What the source's steps need of the agent (checkpoint-and-send.ts, undo.ts): no more.
import type { Dialer } from '../../common/dial.ts';
import type { HostContext } from '../context.ts';

export interface SourceContext extends HostContext {
  /** How this agent reaches the destination: its certificate, and SSH where the request says. */
  dialer: Dialer;
  /** This agent's own rollback of the migration (serialized with the coordinator's). */
  rollback(migrationId: string, reason: string, peerRolledBack: boolean): Promise<string>;
}

