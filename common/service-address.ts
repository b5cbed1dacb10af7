// The service address a container declares (label io.ferry.service-address): the address its
// clients talk to, which moves with it from host to host (agent/address/ holds and moves it).
import { FerryError } from './errors.ts';

export const SERVICE_ADDRESS_LABEL = 'io.ferry.service-address';

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The container's service address, if it declares one; a malformed one is an error, not ignored. */
export function serviceAddressOf(labels: Record<string, string>): string | undefined {
  const value = labels[SERVICE_ADDRESS_LABEL]?.trim();
  if (!value) return undefined;
  if (!IPV4.test(value)) {
    throw new FerryError('BAD_REQUEST', `label ${SERVICE_ADDRESS_LABEL}=${value} is not an IPv4 address`, {
      hint: 'Give the container one IPv4 address of the subnet its hosts share, e.g. --label io.ferry.service-address=192.0.2.50.',
    });
  }
  return value;
}
