// Renewed certificates without a restart (agent/tls-reload.ts), on a real agent server and its
// data port: `ferry certs renew` writes a new pair, the agent puts it in use for new connections
// on both ports, a connection already open keeps working, and a pair that does not check out is
// not used; a revoked certificate is refused on every port. Also what `ferry hosts` says of a
// certificate about to end.
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { Server } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConnection } from '../../common/client.ts';
import { describeCertificate, initCa, issue, loadTls, renew, revoke, revokedPeer, serialKey, type TlsFiles } from '../../common/pki.ts';
import { certificateWarning } from '../../coordinator/commands/hosts.ts';
import { DataConnection } from '../../agent/dataplane/client.ts';
import { DataServer } from '../../agent/dataplane/server.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';
import { TlsReloader } from '../../agent/tls-reload.ts';

const pki = mkdtempSync(join(tmpdir(), 'ferry-pki-renew-'));
let server: Server;
let port: number;
let data: DataServer;
let dataPort: number;
let reloader: TlsReloader;
let coordinator: TlsFiles;

/** The serial number of the certificate a port presents to a new connection. */
function servedSerial(at: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: at, ca: coordinator.ca, cert: coordinator.cert, key: coordinator.key, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  await initCa(pki);
  await issue(pki, 'hostR', { role: 'agent', ips: ['127.0.0.1'], dns: ['hostR'], days: 10 });
  await issue(pki, 'coordinator', { role: 'coordinator' });
  coordinator = await loadTls(pki, 'coordinator');
  const tls = await loadTls(pki, 'hostR');
  reloader = new TlsReloader(tls, { dir: pki, name: 'hostR' }, silentLogger);
  const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
  const service = new AgentService({ name: 'hostR', listen: '127.0.0.1:0', stateDir: mkdtempSync(join(tmpdir(), 'ferry-renew-state-')), podman, log: silentLogger, tls });
  await service.open();
  ({ server, port } = await startServer(service, silentLogger, reloader));
  data = new DataServer({ tls, log: silentLogger, accept: (open, caller) => service.acceptStream(open, caller) });
  reloader.onChange((files) => data.useTls(files));
  dataPort = await data.listen('127.0.0.1', 0);
  service.dataPort = dataPort;
});

afterAll(async () => {
  server?.forceShutdown();
  await data?.close();
});

describe('a renewed agent certificate', () => {
  it('is renewed with the same role and names, a new key and validity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-pki-names-'));
    await initCa(dir);
    await issue(dir, 'hostN', { role: 'agent', ips: ['10.1.2.3'], dns: ['hostN', 'hostN.example'], days: 3 });
    const before = describeCertificate((await loadTls(dir, 'hostN')).cert);
    const renewed = await renew(dir, 'hostN', 400);
    const after = describeCertificate((await loadTls(dir, 'hostN')).cert);
    expect(after).toMatchObject({ name: 'hostN', role: 'agent', ips: ['10.1.2.3'], dns: ['hostN', 'hostN.example'] });
    expect(renewed.before).toBe(before.notAfter);
    expect(Date.parse(after.notAfter) - Date.parse(before.notAfter)).toBeGreaterThan(300 * 86_400_000);
  });

  it('is served on both ports to new connections, without a restart; a connection already open keeps working', async () => {
    const open = new AgentConnection({ name: 'hostR', agent: `127.0.0.1:${port}` }, coordinator);
    const before = (await open.info()).certNotAfter;
    const [grpcBefore, dataBefore] = [await servedSerial(port), await servedSerial(dataPort)];
    expect(grpcBefore).toBe(dataBefore);

    await renew(pki, 'hostR', 400);
    expect(await reloader.check()).toBe(true);

    const [grpcAfter, dataAfter] = [await servedSerial(port), await servedSerial(dataPort)];
    expect(grpcAfter).not.toBe(grpcBefore);
    expect(dataAfter).toBe(grpcAfter);
    // The call on the connection made before, and a new connection: both served, the new date shown.
    const after = (await open.info()).certNotAfter;
    open.close();
    const fresh = new AgentConnection({ name: 'hostR', agent: `127.0.0.1:${port}` }, coordinator);
    expect((await fresh.info()).certNotAfter).toBe(after);
    fresh.close();
    expect(Date.parse(after) - Date.parse(before)).toBeGreaterThan(300 * 86_400_000);
  });

  it('is not used when its key is not its own: the one in use stays', async () => {
    const serving = await servedSerial(port);
    copyFileSync(join(pki, 'coordinator.key'), join(pki, 'hostR.key')); // a pair that does not match
    expect(await reloader.check()).toBe(false);
    expect(await servedSerial(port)).toBe(serving);
  });

  it('a revoked coordinator is refused on both ports once crl.pem is there; another coordinator still gets in', async () => {
    await issue(pki, 'coordinator2', { role: 'coordinator' });
    const other = await loadTls(pki, 'coordinator2');
    const revoked = await revoke(pki, 'coordinator');
    expect(revoked.serial).toBe(serialKey(new X509Certificate(coordinator.cert).serialNumber));
    expect(await reloader.check()).toBe(true);
    const refused = await new AgentConnection({ name: 'hostR', agent: `127.0.0.1:${port}` }, coordinator).info().then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('was revoked') });
    const onData = await DataConnection.open({ host: '127.0.0.1', port: dataPort, name: 'hostR' }, coordinator, 'any-token').then(() => undefined, (e: unknown) => e);
    expect(onData).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('was revoked') });
    const allowed = new AgentConnection({ name: 'hostR', agent: `127.0.0.1:${port}` }, other);
    expect((await allowed.info()).host).toBe('hostR');
    allowed.close();
  });

  it('a client refuses an agent whose certificate was revoked, on both of its ports', async () => {
    await revoke(pki, 'hostR');
    const client = await loadTls(pki, 'coordinator2'); // crl.pem is read with the files
    const refused = await new AgentConnection({ name: 'hostR', agent: `127.0.0.1:${port}` }, client).info().then(() => undefined, (e: unknown) => e);
    expect(String((refused as Error).message)).toContain('was revoked');
    const onData = await DataConnection.open({ host: '127.0.0.1', port: dataPort, name: 'hostR' }, client, 'any-token').then(() => undefined, (e: unknown) => e);
    expect(String((onData as Error).message)).toContain('was revoked');
    expect(revokedPeer(client, { serialNumber: new X509Certificate(client.cert).serialNumber })).toBeUndefined();
  });

  it('ferry hosts says so 30 days before it ends, and once it has', () => {
    const now = Date.parse('2026-12-07T00:00:00Z');
    expect(certificateWarning('hostR', '2027-02-01T00:00:00.000Z', now)).toBeUndefined();
    expect(certificateWarning('hostR', '2026-12-20T00:00:00.000Z', now)).toMatch(/^the certificate of hostR expires in 13 days \(2026-12-20\): run `ferry certs renew hostR`/);
    expect(certificateWarning('hostR', '2026-12-01T00:00:00.000Z', now)).toMatch(/^the certificate of hostR expired on 2026-12-01/);
  });
});
