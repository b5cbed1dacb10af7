// grpc.health.v1.Health on a real agent server with mutual TLS (podman is a fake: health never
// reaches it): Check answers SERVING, and NOT_SERVING once the agent is stopping; Watch hears the
// change; only certificates of the fleet's CA get an answer.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConnection } from '../../common/client.ts';
import { initCa, issue, loadTls, type TlsFiles } from '../../common/pki.ts';
import type { AgentHealth } from '../../agent/health.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';

const pki = mkdtempSync(join(tmpdir(), 'ferry-health-pki-'));
const otherPki = mkdtempSync(join(tmpdir(), 'ferry-health-pki-other-'));
let server: grpc.Server;
let port: number;
let health: AgentHealth;
const tls: Record<string, TlsFiles> = {};

beforeAll(async () => {
  await initCa(pki);
  await initCa(otherPki);
  await issue(pki, 'hostT', { role: 'agent', ips: ['127.0.0.1'], dns: ['hostT'] });
  await issue(pki, 'hostA', { role: 'agent', ips: ['127.0.0.2'], dns: ['hostA'] });
  await issue(pki, 'coordinator', { role: 'coordinator' });
  await issue(otherPki, 'coordinator', { role: 'coordinator' });
  for (const name of ['hostT', 'hostA', 'coordinator']) tls[name] = await loadTls(pki, name);
  tls.stranger = await loadTls(otherPki, 'coordinator');
  const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
  const service = new AgentService({ name: 'hostT', listen: '127.0.0.1:0', stateDir: mkdtempSync(join(tmpdir(), 'ferry-health-')), podman, log: silentLogger, tls: tls.hostT });
  await service.open();
  ({ server, port, health } = await startServer(service, silentLogger));
});

afterAll(() => server?.forceShutdown());

const as = (who: string) => new AgentConnection({ name: 'hostT', agent: `127.0.0.1:${port}` }, tls[who]);

/** A Watch of the whole server: each status it streams, until `count` have come. */
function watch(count: number, onFirst: () => void): Promise<string[]> {
  const Health = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');
  const creds = grpc.credentials.createSsl(tls.coordinator?.ca, tls.coordinator?.key, tls.coordinator?.cert);
  const client = new Health(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'hostT' }) as unknown as grpc.Client & {
    watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
  };
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const call = client.watch({ service: '' });
    call.on('data', (reply: { status: string }) => {
      seen.push(reply.status);
      if (seen.length === 1) onFirst();
      if (seen.length === count) {
        call.cancel();
        client.close();
        resolve(seen);
      }
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
  });
}

describe('the health service of an agent', () => {
  it('answers SERVING to the coordinator and to a peer agent, on the same port and credentials as the Agent service', async () => {
    for (const who of ['coordinator', 'hostA']) {
      const agent = as(who);
      try {
        expect(await agent.health()).toBe('SERVING');
        expect(await agent.health({ timeoutMs: 5_000 })).toBe('SERVING');
      } finally {
        agent.close();
      }
    }
  });

  it('answers nobody without a certificate of the fleet', async () => {
    const stranger = as('stranger');
    await expect(stranger.health({ timeoutMs: 3_000 })).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
    stranger.close();
    const plain = new AgentConnection({ name: 'hostT', agent: `127.0.0.1:${port}` });
    await expect(plain.health({ timeoutMs: 3_000 })).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
    plain.close();
  });

  it('turns NOT_SERVING once the agent is stopping: Watch hears it, Check says it', async () => {
    expect(health.state).toBe('SERVING');
    const seen = await watch(2, () => health.stopping());
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    const agent = as('coordinator');
    try {
      expect(await agent.health()).toBe('NOT_SERVING');
    } finally {
      agent.close();
    }
  });
});
