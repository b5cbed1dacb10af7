import { describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import { locateInventory, parseInventory, resolveHost } from '../../coordinator/inventory.ts';

const inventory = parseInventory(
  JSON.stringify({ hosts: { hostA: { address: '172.31.77.11', agent: '172.31.77.11:7070' }, hostB: { address: '172.31.77.12', agent: '172.31.77.12:7070' } } }),
  '/lab/inventory.json',
);

describe('inventory', () => {
  it('resolves names, and agent addresses given directly', () => {
    expect(resolveHost(inventory, 'hostB')).toEqual({ name: 'hostB', address: '172.31.77.12', agent: '172.31.77.12:7070' });
    expect(resolveHost(inventory, '10.1.2.3:7070')).toEqual({ name: '10.1.2.3:7070', address: '10.1.2.3', agent: '10.1.2.3:7070' });
    expect(resolveHost(inventory, '[::1]:7070').address).toBe('::1');
  });

  it('names the known hosts when a host is unknown', () => {
    let error: FerryError | undefined;
    try {
      resolveHost(inventory, 'hostZ');
    } catch (e) {
      error = e as FerryError;
    }
    expect(error?.code).toBe('UNKNOWN_HOST');
    expect(error?.message).toBe('unknown host "hostZ"');
    expect(error?.hint).toContain('Known hosts: hostA, hostB (from /lab/inventory.json)');
    expect(() => resolveHost(inventory, 'host:99999')).toThrow(expect.objectContaining({ code: 'UNKNOWN_HOST' }));
  });

  it('rejects malformed files with the file named', () => {
    expect(() => parseInventory('{', '/f.json')).toThrow('/f.json is not valid JSON');
    expect(() => parseInventory('{"hosts": []}', '/f.json')).toThrow('/f.json has no "hosts" object');
    expect(() => parseInventory('{"hosts": {"a": {"address": "1.2.3.4", "agent": "nope"}}}', '/f.json')).toThrow(
      '/f.json: host "a" needs "address" and "agent" ("ADDRESS:PORT")',
    );
  });

  it('takes --inventory, then FERRY_INVENTORY', () => {
    expect(locateInventory('/a.json', { FERRY_INVENTORY: '/b.json' })).toBe('/a.json');
    expect(locateInventory(undefined, { FERRY_INVENTORY: '/b.json' })).toBe('/b.json');
  });
});
