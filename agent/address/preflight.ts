// The destination's checks of a container's service address: its interface is on the address's
// subnet, and no host but the source answers for the address. And what the move means for the
// container's clients, said in the preflight output either way.
import type { PreflightCheck } from '../destination/checks.ts';
import { SERVICE_ADDRESS_LABEL } from '../../common/service-address.ts';
import { inSubnet } from '../podman/network.ts';
import { answering, hostInterface } from './ip.ts';

export async function addressChecks(address: string | undefined, hostIp: string, sourceIp: string): Promise<PreflightCheck[]> {
  if (!address) {
    return [
      {
        name: 'connections',
        ok: true,
        detail: `no service address (${SERVICE_ADDRESS_LABEL}): clients connected to the source's own address lose their connections (they are reset) and reconnect to the destination`,
      },
    ];
  }
  const own = await hostInterface(hostIp);
  if (!inSubnet(address, own.cidr)) {
    return [{ name: 'subnet', ok: false, detail: `service address ${address} is not on the subnet of ${own.iface} (${own.cidr}); it cannot move here` }];
  }
  // Whoever answers for the address must be the source (or nobody, if it does not hold it yet).
  const [holders, source] = await Promise.all([answering(address, own.iface), answering(sourceIp, own.iface)]);
  const others = holders.filter((mac) => !source.includes(mac));
  if (others.length) {
    return [{ name: 'address', ok: false, detail: `service address ${address} is held by another host (${others.join(', ')}), not by the source` }];
  }
  return [{ name: 'connections', ok: true, detail: `service address ${address} moves with the container on ${own.iface}: established connections are kept` }];
}
