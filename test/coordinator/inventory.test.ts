import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import { locateInventory, parseInventory, resolveHost, sameHost } from '../../coordinator/inventory.ts';
import { inventoryJsonSchema } from '../../coordinator/inventory-schema.ts';

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

  it('reads an SSH login per host, with port 22 and root when left out, and a known_hosts file', () => {
    const ssh = parseInventory(
      JSON.stringify({
        knownHosts: '/lab/known_hosts',
        hosts: {
          dc2a: { address: '10.9.0.5', agent: '127.0.0.1:7070', ssh: { host: '10.9.0.5', user: 'ferry', port: 2222, identity: '/keys/id' } },
          dc2b: { address: '10.9.0.6', agent: '127.0.0.1:7070', ssh: { host: '10.9.0.6' } },
        },
      }),
      'inv.json',
    );
    expect(ssh.knownHosts).toBe('/lab/known_hosts');
    expect(resolveHost(ssh, 'dc2a').ssh).toEqual({ host: '10.9.0.5', port: 2222, user: 'ferry', identity: '/keys/id' });
    expect(resolveHost(ssh, 'dc2b').ssh).toEqual({ host: '10.9.0.6', port: 22, user: 'root', identity: undefined });
    // Both agents say 127.0.0.1:7070, as their own hosts see them: different hosts all the same.
    expect(sameHost(resolveHost(ssh, 'dc2a'), resolveHost(ssh, 'dc2b'))).toBe(false);
    expect(sameHost(resolveHost(inventory, 'hostA'), resolveHost(inventory, '172.31.77.11:7070'))).toBe(true);
    for (const bad of [{ host: '' }, { host: 'x', port: 0 }, { host: 'x', user: 5 }, 'x']) {
      const text = JSON.stringify({ hosts: { h: { address: '1.2.3.4', agent: '127.0.0.1:7070', ssh: bad } } });
      expect(() => parseInventory(text, 'inv.json')).toThrow(expect.objectContaining({ code: 'INVENTORY_INVALID' }));
    }
  });

  it('rejects malformed files with the file named and every bad field pointed at', () => {
    expect(() => parseInventory('{', '/f.json')).toThrow('/f.json is not valid JSON');
    expect(() => parseInventory('{"hosts": []}', '/f.json')).toThrow(/^\/f\.json: hosts: /);
    expect(() => parseInventory('{"hosts": {"a": {"address": "1.2.3.4", "agent": "nope"}}}', '/f.json')).toThrow(
      '/f.json: hosts.a.agent: must be the agent address ADDRESS:PORT (e.g. 10.0.0.5:7070)',
    );
    let error: FerryError | undefined;
    try {
      parseInventory(JSON.stringify({ tls: { name: 'c' }, hosts: { a: { agent: '1.2.3.4:99999' }, b: { address: 'x', agent: 'x:1', ssh: { host: 'x', port: 0 } } } }), '/f.json');
    } catch (e) {
      error = e as FerryError;
    }
    expect(error?.code).toBe('INVENTORY_INVALID');
    expect(error?.details.map((d) => d.split(':')[0]).sort()).toEqual(['hosts.a.address', 'hosts.a.agent', 'hosts.b.ssh.port', 'tls.dir']);
    expect(error?.hint).toContain('packaging/inventory.schema.json');
  });

  it('publishes its schema for editors: packaging/inventory.schema.json is what the parser checks (npm run gen writes it)', () => {
    const file = JSON.parse(readFileSync(new URL('../../packaging/inventory.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(file).toEqual(inventoryJsonSchema());
    // The lab's own inventory passes, with the keys it adds beside the schema's.
    const lab = { tls: { dir: '/lab/pki', name: 'coordinator' }, hosts: { hostA: { address: '172.31.77.11', agent: '172.31.77.11:7070', stateDir: '/var/lib/ferry-lab/x/hostA', site: 1 } } };
    expect(parseInventory(JSON.stringify(lab), 'lab.json').hosts.get('hostA')?.agent).toBe('172.31.77.11:7070');
  });

  it('takes --inventory, then FERRY_INVENTORY', () => {
    expect(locateInventory('/a.json', { FERRY_INVENTORY: '/b.json' })).toBe('/a.json');
    expect(locateInventory(undefined, { FERRY_INVENTORY: '/b.json' })).toBe('/b.json');
  });
});
