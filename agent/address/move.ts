// A service address changing hosts in a migration: given up by the source at the freeze (its
// flows read first), taken by the destination before the restore (their conntrack entries first),
// and given back the other way by a rollback.
import type { Flow__Output as Flow } from '../../proto/gen/ferry/v1/Flow.ts';
import { deleteFlow, flowsTo, insertFlow } from './conntrack.ts';
import { hostInterface, release, take } from './ip.ts';

/**
 * Source, at the freeze: the established flows to `address` that reach the container (not stale
 * entries of an earlier container with another IP), kept by `keep` (for a rollback), then the
 * address off this host.
 */
export async function releaseServiceAddress(hostIp: string, address: string, containerIps: readonly string[], keep: (flows: Flow[]) => Promise<unknown>): Promise<Flow[]> {
  const flows = (await flowsTo(address)).filter((f) => containerIps.includes(f.containerIp));
  await keep(flows);
  await release(address, (await hostInterface(hostIp)).iface);
  // Nothing here answers them any more; left behind, they would be stale if the container came back.
  for (const flow of flows) await deleteFlow(flow);
  return flows;
}

/** Before a restore: the flows' conntrack entries, so that the restored sockets' packets belong to them. */
export async function recreateFlows(flows: readonly Flow[]): Promise<void> {
  for (const flow of flows) await insertFlow(flow);
}

/**
 * Once the container's sockets are back (after its restore on the destination, or its resume on
 * the source): the address, announced. Not before: a client's packet that reached the container's
 * network while CRIU was still restoring its sockets would be answered with a reset.
 */
export async function takeServiceAddress(hostIp: string, address: string): Promise<void> {
  await take(address, (await hostInterface(hostIp)).iface);
}

/** Destination, in a rollback: the flows' entries it recreated go. */
export async function forgetFlows(flows: readonly Flow[]): Promise<void> {
  for (const flow of flows) await deleteFlow(flow);
}

/** Destination, in a rollback: the address goes back to the source. */
export async function giveUpServiceAddress(hostIp: string, address: string): Promise<void> {
  await release(address, (await hostInterface(hostIp)).iface);
}
