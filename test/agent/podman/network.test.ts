import { describe, expect, it } from 'vitest';
import { inSubnet, ipv4ToNumber } from '../../../agent/podman/network.ts';

describe('subnet arithmetic for the IP check', () => {
  it('places addresses in or out of a CIDR', () => {
    expect(inSubnet('10.88.1.5', '10.88.0.0/16')).toBe(true);
    expect(inSubnet('10.89.0.1', '10.88.0.0/16')).toBe(false);
    expect(inSubnet('192.168.1.255', '192.168.1.0/24')).toBe(true);
    expect(inSubnet('192.168.2.0', '192.168.1.0/24')).toBe(false);
    expect(inSubnet('1.2.3.4', '0.0.0.0/0')).toBe(true);
    expect(inSubnet('10.0.0.1', '10.0.0.1/32')).toBe(true);
  });

  it('says no to what it cannot parse', () => {
    expect(inSubnet('fd00::1', '10.88.0.0/16')).toBe(false);
    expect(inSubnet('10.88.0.1', '10.88.0.0/33')).toBe(false);
    expect(ipv4ToNumber('256.0.0.1')).toBeUndefined();
    expect(ipv4ToNumber('10.0.0.1')).toBe(167772161);
  });
});
