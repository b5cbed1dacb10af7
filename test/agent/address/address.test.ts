import { describe, expect, it } from 'vitest';
import { parseFlows } from '../../../agent/address/conntrack.ts';
import { parseAddresses } from '../../../agent/address/ip.ts';
import { inSubnet } from '../../../agent/podman/network.ts';
import { serviceAddressOf } from '../../../common/service-address.ts';

describe('service addresses', () => {
  it('come from the label, and a malformed one is refused', () => {
    expect(serviceAddressOf({ 'io.ferry.service-address': ' 172.31.78.100 ' })).toBe('172.31.78.100');
    expect(serviceAddressOf({})).toBeUndefined();
    expect(() => serviceAddressOf({ 'io.ferry.service-address': '172.31.78.300' })).toThrow(/not an IPv4 address/);
    expect(() => serviceAddressOf({ 'io.ferry.service-address': 'db.example' })).toThrow(/not an IPv4 address/);
  });

  it("find the interface of the host's address, and whether an address is on its subnet", () => {
    const text = [
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
      '2: eth0@if7    inet 172.31.78.11/24 brd 172.31.78.255 scope global eth0\\       valid_lft forever preferred_lft forever',
      '2: eth0@if7    inet 172.31.78.100/32 scope global eth0\\       valid_lft forever preferred_lft forever',
      '5: podman0    inet 10.88.0.1/16 brd 10.88.255.255 scope global podman0\\       valid_lft forever preferred_lft forever',
    ].join('\n');
    expect(parseAddresses(text)).toEqual([
      { iface: 'lo', cidr: '127.0.0.1/8' },
      { iface: 'eth0', cidr: '172.31.78.11/24' },
      { iface: 'eth0', cidr: '172.31.78.100/32' },
      { iface: 'podman0', cidr: '10.88.0.1/16' },
    ]);
    expect(inSubnet('172.31.78.100', '172.31.78.11/24')).toBe(true);
    expect(inSubnet('172.31.79.100', '172.31.78.11/24')).toBe(false);
    expect(inSubnet('10.0.0.1', '0.0.0.0/0')).toBe(true);
  });

  it('read the established flows to the address from conntrack, with where the DNAT sends them', () => {
    const text = [
      'tcp      6 431999 ESTABLISHED src=172.31.78.1 dst=172.31.78.100 sport=40312 dport=6390 src=10.88.0.5 dst=172.31.78.1 sport=6379 dport=40312 [ASSURED] mark=0 use=1',
      'tcp      6 117 TIME_WAIT src=172.31.78.1 dst=172.31.78.100 sport=40300 dport=6390 src=10.88.0.5 dst=172.31.78.1 sport=6379 dport=40300 [ASSURED] mark=0 use=1',
      'tcp      6 431999 ESTABLISHED src=172.31.78.1 dst=172.31.78.11 sport=40313 dport=6390 src=10.88.0.5 dst=172.31.78.1 sport=6379 dport=40313 [ASSURED] mark=0 use=1',
      'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.',
    ].join('\n');
    expect(parseFlows(text, '172.31.78.100')).toEqual([
      { client: '172.31.78.1', clientPort: 40312, address: '172.31.78.100', port: 6390, containerIp: '10.88.0.5', containerPort: 6379 },
    ]);
  });
});
