// Destination: the source gave up the container's service address at the freeze. Its flows'
// conntrack entries go in now, and the restore waits for them; the address itself comes once the
// container is restored (destination/restore.ts), because a client's packet that reached the
// container's network before CRIU put its sockets back would be answered with a reset.
import { FerryError } from '../../common/errors.ts';
import type { TakeAddressRequest__Output as TakeAddressRequest } from '../../proto/gen/ferry/v1/TakeAddressRequest.ts';
import type { HostContext } from '../context.ts';
import type { Inbox } from '../destination/inbox.ts';
import type { MigrationRecord } from '../journal.ts';
import { recreateFlows } from './move.ts';

/** The phases in which the restore has not yet begun to wait for the address. */
const BEFORE_RESTORED = new Set(['preflight', 'transfer', 'received', 'restore']);

export async function takeAddress(ctx: HostContext & { inbox: (record: MigrationRecord) => Inbox }, record: MigrationRecord, request: TakeAddressRequest): Promise<void> {
  if (record.role !== 'destination' || !record.serviceAddress || record.serviceAddress !== request.address) {
    throw new FerryError('BAD_REQUEST', `migration ${record.id} has no service address ${request.address} to take here`, { phase: 'restore' });
  }
  if (!BEFORE_RESTORED.has(record.phase)) {
    throw new FerryError('BAD_REQUEST', `migration ${record.id} is in phase ${record.phase}: too late to take its address`, { phase: 'restore' });
  }
  // Kept in the journal first: a rollback forgets them again, even after a restart.
  await ctx.journal.update(record, { flows: request.flows, address: 'flows' });
  await recreateFlows(request.flows);
  ctx.inbox(record).takenAddress();
  ctx.log.info({ migrationId: record.id, address: request.address, flows: request.flows.length }, "recreated the service address's flows");
}
