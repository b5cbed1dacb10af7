// Mutual TLS and roles, on a real agent server and its data port (podman is a fake here: these
// calls never reach it). Only certificates of the fleet's CA get in; an agent's certificate
// cannot make control calls; a stream is granted, and its grant redeemed, only by the host the
// migration names; a grant is good once.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { credentials, status, type ServiceError, type Server } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConnection } from '../../common/client.ts';
import { FerryError } from '../../common/errors.ts';
import { initCa, issue, loadTls, type TlsFiles } from '../../common/pki.ts';
import { ferryProto } from '../../common/rpc.ts';
import { DataConnection } from '../../agent/dataplane/client.ts';
import { DataServer } from '../../agent/dataplane/server.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';
import type { DestinationRecord } from '../../agent/record.ts';

const pki = mkdtempSync(join(tmpdir(), 'ferry-pki-'));
const otherPki = mkdtempSync(join(tmpdir(), 'ferry-pki-other-'));
const stateDir = mkdtempSync(join(tmpdir(), 'ferry-tls-state-'));
let server: Server;
let port: number;
let service: AgentService;
let data: DataServer;
const tls: Record<string, TlsFiles> = {};

beforeAll(async () => {
  await initCa(pki);
  await initCa(otherPki);
  await issue(pki, 'hostT', { role: 'agent', ips: ['127.0.0.1'], dns: ['hostT'] });
  await issue(pki, 'hostA', { role: 'agent', ips: ['127.0.0.2'], dns: ['hostA'] });
  await issue(pki, 'hostB', { role: 'agent', ips: ['127.0.0.3'], dns: ['hostB'] });
  await issue(pki, 'coordinator', { role: 'coordinator' });
  await issue(pki, 'expired', { role: 'coordinator', notBefore: '20200101000000Z', notAfter: '20200102000000Z' });
  await issue(otherPki, 'coordinator', { role: 'coordinator' });
  for (const name of ['hostT', 'hostA', 'hostB', 'coordinator', 'expired']) tls[name] = await loadTls(pki, name);
  tls.stranger = await loadTls(otherPki, 'coordinator');
  const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
  service = new AgentService({ name: 'hostT', listen: '127.0.0.1:0', stateDir, podman, log: silentLogger, tls: tls.hostT });
  await service.open();
  ({ server, port } = await startServer(service, silentLogger));
  data = new DataServer({ tls: tls.hostT, log: silentLogger, accept: (open, caller) => service.acceptStream(open, caller) });
  service.dataPort = await data.listen('127.0.0.1', 0);
});

afterAll(async () => {
  server?.forceShutdown();
  await data?.close();
});

const as = (who: string | undefined) => new AgentConnection({ name: 'hostT', agent: `127.0.0.1:${port}` }, who ? tls[who] : undefined);

async function failure(promise: Promise<unknown>): Promise<FerryError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(FerryError);
  return error as FerryError;
}

describe('mutual TLS on the agent', () => {
  it('lets the coordinator in, and shows when its own certificate expires', async () => {
    const agent = as('coordinator');
    const info = await agent.info();
    agent.close();
    expect(info.host).toBe('hostT');
    expect(Date.parse(info.certNotAfter)).toBeGreaterThan(Date.now());
  });

  it('refuses a client with no certificate, one from another CA, an expired one, or plaintext', async () => {
    // A client that trusts our CA but shows no certificate of its own.
    const Agent = ferryProto().ferry.v1.Agent;
    const bare = new Agent(`127.0.0.1:${port}`, credentials.createSsl(tls.coordinator!.ca), { 'grpc.ssl_target_name_override': 'hostT' });
    const bareError = await new Promise<ServiceError | null>((resolve) => bare.info({}, { deadline: Date.now() + 5_000 }, (e) => resolve(e)));
    bare.close();
    expect(bareError?.code).toBe(status.UNAVAILABLE);
    for (const [label, agent] of [['another CA', as('stranger')], ['expired', as('expired')], ['plaintext', as(undefined)]] as const) {
      const error = await failure(agent.info({ timeoutMs: 5_000 }));
      agent.close();
      expect(error.code, label).toBe('AGENT_UNREACHABLE');
    }
  });

  it("does not take control calls from an agent's certificate", async () => {
    const agent = as('hostA');
    expect((await agent.info()).host).toBe('hostT'); // reading is fine
    const prepare = await failure(agent.prepareReceive({
      migrationId: 'm-1', sourceHost: 'hostA', container: { id: 'abc', name: 'c' }, ttlMs: 1000, replaceData: false,
      ignoreBindMounts: false, sourceCpuinfo: Buffer.alloc(0), sourceAddress: '127.0.0.2:1', dryRun: false, archiveBytesEstimate: 0,
    }));
    expect(prepare.code).toBe('UNAUTHORIZED');
    expect(prepare.message).toBe("PrepareReceive needs the coordinator's certificate; hostA is an agent");
    expect((await failure(agent.inspect('c'))).code).toBe('UNAUTHORIZED');
    expect((await failure(agent.restore('m-1', '', 1000))).code).toBe('UNAUTHORIZED');
    agent.close();
  });

  it('grants a stream only for a migration it expects, and only to the host that migration names', async () => {
    const before = readdirSync(stateDir, { recursive: true }).map(String).sort();
    const ask = (who: string, migrationId: string) => failure(as(who).openStream({ migrationId, kind: 'STREAM_KIND_CHECKPOINT', round: 0, resume: false, totalBytes: 1 }));
    expect((await ask('hostA', 'm-nope')).code).toBe('MIGRATION_UNKNOWN');
    // A migration announced by the coordinator, naming hostB as the source: hostA gets nowhere.
    await service.journal.create({
      id: 'm-granted', role: 'destination', container: 'c', containerId: 'abc', peer: 'hostB', phase: 'preflight',
      archivePath: join(stateDir, 'archives', 'm-granted.tar'),
    });
    const impostor = await ask('hostA', 'm-granted');
    expect(impostor.code).toBe('UNAUTHORIZED');
    expect(impostor.message).toBe('hostA (agent) may not send for migration m-granted: it names hostB');
    expect((await ask('coordinator', 'm-granted')).code).toBe('UNAUTHORIZED'); // the coordinator sends no bytes
    expect((await failure(as('hostA').rollback('m-granted', 'not mine'))).code).toBe('UNAUTHORIZED');
    await service.journal.forget('m-granted');
    // A migration is announced for a while only: past its time, even the named host is refused.
    await service.journal.create<DestinationRecord>({
      id: 'm-stale', role: 'destination', container: 'c', containerId: 'abc', peer: 'hostA', phase: 'preflight',
      archivePath: join(stateDir, 'archives', 'm-stale.tar'), expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    const stale = await ask('hostA', 'm-stale');
    expect(stale.code).toBe('MIGRATION_UNKNOWN');
    expect(stale.message).toMatch(/^migration m-stale expired at /);
    await service.journal.forget('m-stale');
    expect(readdirSync(stateDir, { recursive: true }).map(String).sort()).toEqual(before);
  });

  it('the data port takes only certificates of its CA, and a grant only from the host it was issued to', async () => {
    const before = readdirSync(stateDir, { recursive: true }).map(String).sort();
    await service.journal.create({
      id: 'm-data', role: 'destination', container: 'c', containerId: 'abc', peer: 'hostB', phase: 'preflight',
      archivePath: join(stateDir, 'archives', 'm-data.tar'),
    });
    const endpoint = { host: '127.0.0.1', port: service.dataPort, name: 'hostT' };
    const grantFor = async () => (await as('hostB').openStream({ migrationId: 'm-data', kind: 'STREAM_KIND_CHECKPOINT', round: 0, resume: false, totalBytes: -1 })).token;
    const open = (who: TlsFiles | undefined, token: string) => failure(DataConnection.open(endpoint, who, token));
    // No client certificate at all, a certificate of another CA, an expired one: the handshake fails.
    const { connect } = await import('node:tls');
    const bare = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: service.dataPort, ca: tls.coordinator!.ca, servername: 'hostT' }, () => socket.write('x'));
      socket.on('error', (e) => resolve(e.message));
      socket.on('close', () => resolve('closed'));
    });
    expect(bare).toMatch(/certificate|closed|alert/i);
    for (const who of ['stranger', 'expired'] as const) expect((await open(tls[who], await grantFor())).code, who).toBe('TRANSFER_FAILED');
    // A valid grant in the wrong hands: the coordinator's, or another agent's.
    expect((await open(tls.coordinator, await grantFor())).code).toBe('UNAUTHORIZED');
    const stolen = await open(tls.hostA, await grantFor());
    expect(stolen.code).toBe('UNAUTHORIZED');
    expect(stolen.message).toBe('hostA (agent) may not send for migration m-data: it names hostB');
    // The right host, but a grant that was already shown once.
    const once = await grantFor();
    await open(tls.hostA, once);
    expect((await open(tls.hostB, once)).code).toBe('GRANT_INVALID');
    await service.journal.forget('m-data');
    expect(readdirSync(stateDir, { recursive: true }).map(String).sort()).toEqual(before);
  });
});

describe('the agent binary', () => {
  it('will not serve plaintext unless told to, and says how to get certificates', async () => {
    const r = await execa(new URL('../../bin/ferry-agent', import.meta.url).pathname, ['--name', 'nocert', '--listen', '127.0.0.1:0', '--state-dir', mkdtempSync(join(tmpdir(), 'ferry-nocert-')), '--tls-dir', pki], { reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain(`no TLS files for "nocert" in ${pki}`);
    expect(String(r.stderr)).toContain('ferry certs issue nocert');
  });
});
