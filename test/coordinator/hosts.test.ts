// ferry hosts asks each agent's health first (grpc.health.v1), then its Info: real agent servers
// on 127.0.0.1:0 (podman a fake), one of them stopping, and an address where nothing listens.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialer } from '../../common/dial.ts';
import { initCa, issue, loadTls } from '../../common/pki.ts';
import type { AgentHealth } from '../../agent/health.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';
import { runHosts } from '../../coordinator/commands/hosts.ts';
import type { HostEntry, Inventory } from '../../coordinator/inventory.ts';
import type { Output } from '../../coordinator/output.ts';

const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
const servers: grpc.Server[] = [];
const hosts: HostEntry[] = [];
let stopping: AgentHealth;
const dialer = new Dialer({ preferDirect: false });

async function agentFor(name: string): Promise<AgentHealth> {
  const service = new AgentService({ name, listen: '127.0.0.1:0', stateDir: mkdtempSync(join(tmpdir(), `ferry-hosts-${name}-`)), podman, log: silentLogger });
  await service.open();
  const { server, port, health } = await startServer(service, silentLogger);
  servers.push(server);
  hosts.push({ name, address: '127.0.0.1', agent: `127.0.0.1:${port}` });
  return health;
}

function capture(json = false): Output & { lines: string[] } {
  const lines: string[] = [];
  return { json, out: (t) => lines.push(t), err: (t) => lines.push(t), lines };
}

const inventory = (names: string[]): Inventory => ({ path: undefined, hosts: new Map(hosts.filter((h) => names.includes(h.name)).map((h) => [h.name, h])) });

beforeAll(async () => {
  await agentFor('hostA');
  stopping = await agentFor('hostB');
  hosts.push({ name: 'hostC', address: '127.0.0.1', agent: '127.0.0.1:1' }); // nothing listens there
}, 60_000);

afterAll(async () => {
  for (const server of servers) server.forceShutdown();
  await dialer.close();
});

describe('ferry hosts', () => {
  it('shows each agent SERVING beside its info; exit code 0 when all serve', async () => {
    const io = capture();
    expect(await runHosts(inventory(['hostA', 'hostB']), dialer, io)).toBe(0);
    expect(io.lines[0]).toMatch(/^hostA +127\.0\.0\.1:\d+ +SERVING +podman /);
    // Under each host, the containers it agrees to take from others (docs/admission.md).
    expect(io.lines[1]).toMatch(/^ +admission policy: default$/);
    expect(io.lines[2]).toMatch(/^hostB +127\.0\.0\.1:\d+ +SERVING +podman /);
  });

  it('shows an agent that is down as DOWN with the reason, one that is stopping as NOT_SERVING; the exit code says so', async () => {
    stopping.stopping();
    const io = capture();
    expect(await runHosts(inventory(['hostA', 'hostB', 'hostC']), dialer, io)).toBe(1);
    const heads = io.lines.filter((line) => /^host/.test(line));
    expect(heads[0]).toMatch(/^hostA +\S+ +SERVING +podman /);
    expect(heads[1]).toMatch(/^hostB +\S+ +NOT_SERVING +podman /);
    expect(heads[2]).toMatch(/^hostC +127\.0\.0\.1:1 +DOWN +agent on hostC is unreachable/);

    const json = capture(true);
    expect(await runHosts(inventory(['hostA', 'hostB', 'hostC']), dialer, json)).toBe(1);
    const event = JSON.parse(json.lines[0] ?? '{}') as { event: string; hosts: Array<{ host: string; state: string; ok: boolean; error?: { code: string } }> };
    expect(event.event).toBe('hosts');
    expect(event.hosts.map((h) => [h.host, h.state, h.ok, h.error?.code])).toEqual([
      ['hostA', 'SERVING', true, undefined],
      ['hostB', 'NOT_SERVING', false, undefined],
      ['hostC', 'DOWN', false, 'AGENT_UNREACHABLE'],
    ]);
  });

  it("warns of the coordinator's own certificate when it ends within 30 days", async () => {
    const pki = mkdtempSync(join(tmpdir(), 'ferry-hosts-pki-'));
    await initCa(pki);
    await issue(pki, 'coordinator', { role: 'coordinator', days: 5 });
    const io = capture();
    await runHosts(inventory(['hostC']), new Dialer({ preferDirect: false, tls: await loadTls(pki, 'coordinator') }), io);
    expect(io.lines.at(-1)).toMatch(/^coordinator !! the certificate of coordinator expires in [45] days \(\d{4}-\d\d-\d\d\): run `ferry certs renew coordinator`/);
  });
});
