// A send that failed, undone: the source's container back, and the destination's copy gone first
// where it may hold the whole archive (checkpoint-and-send.ts calls it from its failure).
import type { AgentConnection } from '../../common/client.ts';
import { FerryError } from '../../common/errors.ts';
import { mayBeWholeThere } from '../journal.ts';
import type { Logger } from '../log.ts';
import type { SourceContext } from './context.ts';

/**
 * Until the destination restores, the source copy is the container: bring it back now rather
 * than wait for a coordinator that may be gone. Once the archive may have reached the destination
 * whole, the destination drops it (and any copy it restored) first; if it cannot be asked, the
 * container stays frozen here and the agents settle it later. Never two running copies.
 * Resolves with the local rollback's failure, if any.
 */
export async function undoSend(ctx: SourceContext, peer: AgentConnection, id: string, failure: FerryError, log: Logger): Promise<FerryError | undefined> {
  const reason = `${failure.code}: ${failure.message}`;
  const tellPeer = () =>
    peer.rollback(id, reason, { timeoutMs: 30_000 }).then(
      () => true,
      (error: unknown) => {
        log.warn({ err: FerryError.from(error).message }, 'could not roll back the destination');
        return FerryError.from(error).code === 'MIGRATION_UNKNOWN';
      },
    );
  const local = (peerRolledBack: boolean) =>
    ctx.rollback(id, reason, peerRolledBack).then(
      () => undefined,
      (error: unknown) => {
        const e = FerryError.from(error);
        log.error({ code: e.code, err: e.message }, 'rollback after the failed send failed');
        return e;
      },
    );
  const record = ctx.journal.get(id);
  if (record && mayBeWholeThere(record)) return local(await tellPeer());
  const unresumed = await local(false);
  await tellPeer();
  return unresumed;
}
