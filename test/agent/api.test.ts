// Bad input on the agent's gRPC API itself: a real agent server on 127.0.0.1:0 (podman is a fake
// here, for these error paths only). Each call gets INVALID_ARGUMENT or the like, and the
// agent's state directory is unchanged afterwards.
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import { agentClient, type AgentClient } from '../../common/rpc.ts';
import { DataConnection } from '../../agent/dataplane/client.ts';
import { DataServer } from '../../agent/dataplane/server.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';
import type { DestinationRecord } from '../../agent/record.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'ferry-api-'));
let server: grpc.Server;
let client: AgentClient;
let data: DataServer;
let dataPort: number;
let service: AgentService;

/** An agent named `name` on the fake podman, its state in `dir`, opened. */
async function openAgent(name: string, dir: string): Promise<AgentService> {
  const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
  const agent = new AgentService({ name, listen: '127.0.0.1:0', stateDir: dir, podman, log: silentLogger });
  await agent.open();
  return agent;
}

beforeAll(async () => {
  service = await openAgent('hostT', stateDir);
  const started = await startServer(service, silentLogger);
  server = started.server;
  client = agentClient(`127.0.0.1:${started.port}`);
  data = new DataServer({ log: silentLogger, accept: (open, caller) => service.acceptStream(open, caller) });
  dataPort = await data.listen('127.0.0.1', 0);
  service.dataPort = dataPort;
});

afterAll(async () => {
  client.close();
  server.forceShutdown();
  await data.close();
});

function files(): string[] {
  return readdirSync(stateDir, { recursive: true }).map(String).sort();
}

function unary(method: string, request: unknown): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Function>)[method]!.bind(client);
    fn(request, (error: grpc.ServiceError | null) => (error ? resolve(error) : reject(new Error(`${method} succeeded`))));
  });
}

const code = (e: grpc.ServiceError) => [e.code, e.metadata.get('ferry-code')[0]];

describe('archives at rest', () => {
  it('are removed at start when their migration is over or unknown; an open one keeps its archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-rest-'));
    const first = await openAgent('hostR', dir);
    const base = { role: 'destination' as const, container: 'c', containerId: 'abc', peer: 'hostA' };
    await first.journal.create({ ...base, id: 'm-open', phase: 'preflight', archivePath: join(dir, 'archives', 'm-open.tar') });
    await first.journal.advance(first.journal.require('m-open'), 'transfer');
    await first.journal.create({ ...base, id: 'm-over', phase: 'preflight', archivePath: join(dir, 'archives', 'm-over.tar') });
    await first.journal.advance(first.journal.require('m-over'), 'rollback');
    await first.journal.advance(first.journal.require('m-over'), 'failed');
    for (const name of ['m-open.tar', 'm-over.tar', 'm-over.image.tar', 'm-ghost.tar']) writeFileSync(join(dir, 'archives', name), 'x');
    await openAgent('hostR', dir);
    expect(readdirSync(join(dir, 'archives'))).toEqual(['m-open.tar']);
    expect(statSync(join(dir, 'archives')).mode & 0o777).toBe(0o700);
  });
});

describe('a receive prepared and abandoned before any of it arrived', () => {
  it('is replaced by the next prepare of the same container; one that began, or of another container, is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-abandoned-'));
    const agent = await openAgent('hostR', dir);
    const base = { role: 'destination' as const, peer: 'hostA', phase: 'preflight' as const };
    await agent.journal.create({ ...base, id: 'm-left', container: 'c', containerId: 'abc', archivePath: join(dir, 'archives', 'm-left.tar') });
    await agent.journal.create({ ...base, id: 'm-began', container: 'd', containerId: 'def', archivePath: join(dir, 'archives', 'm-began.tar') });
    await agent.journal.advance(agent.journal.require('m-began'), 'transfer');
    await agent.journal.create({ ...base, id: 'm-other', container: 'e', containerId: 'ghi', archivePath: join(dir, 'archives', 'm-other.tar') });
    // Whether the new prepares pass their checks against the fake podman does not matter here;
    // podman knows no container of that name (the rollback looks).
    process.env.FAKE_PODMAN_STDOUT = '[]';
    try {
      for (const [id, containerId, name] of [['m-new1', 'abc', 'c'], ['m-new2', 'def', 'd']]) {
        await agent.prepareReceive({ migrationId: id, sourceHost: 'hostA', container: { id: containerId, name, mounts: [] } } as never).catch(() => undefined);
      }
    } finally {
      delete process.env.FAKE_PODMAN_STDOUT;
    }
    expect(agent.journal.get('m-left')?.phase).toBe('failed');
    expect(agent.journal.get('m-left')?.outcome).toBeDefined();
    expect(agent.journal.get('m-began')?.phase).toBe('transfer');
    expect(agent.journal.get('m-other')?.phase).toBe('preflight');
  });
});

describe('the agent API refuses bad input and changes nothing', () => {
  it('missing or malformed fields', async () => {
    const before = files();
    expect(code(await unary('inspectContainer', {}))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    const long = await unary('inspectContainer', { container: 'x'.repeat(5000) });
    expect(code(long), long.details).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(code(await unary('prepareReceive', { migrationId: 'm-1', sourceHost: 'hostA' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(code(await unary('prepareReceive', { migrationId: '../../etc', sourceHost: 'hostA', container: { id: 'a', name: 'b' } }))).toEqual([
      grpc.status.INVALID_ARGUMENT,
      'BAD_REQUEST',
    ]);
    expect(code(await unary('restore', { migrationId: '' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(files()).toEqual(before);
  });

  it('fields of the wrong type: the wire format turns them into something, and the agent refuses that', async () => {
    const before = files();
    // proto-loader encodes 'soon' for an int64 as 0, and an object for a string as its text: the
    // agent sees a well-formed call about a migration it does not have, or a malformed ID.
    expect(code(await unary('restore', { migrationId: 'm-1', timeoutMs: 'soon' }))).toEqual([grpc.status.NOT_FOUND, 'MIGRATION_UNKNOWN']);
    expect(code(await unary('restore', { migrationId: { id: 'm-1' } }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(files()).toEqual(before);
  });

  it('unknown migration IDs', async () => {
    const before = files();
    for (const method of ['restore', 'commit', 'rollback', 'migrationStatus']) {
      expect(code(await unary(method, { migrationId: 'm-unknown' })), method).toEqual([grpc.status.NOT_FOUND, 'MIGRATION_UNKNOWN']);
    }
    expect(files()).toEqual(before);
  });

  it('a stream grant for no migration, of no known kind, or of a negative size', async () => {
    const before = files();
    const base = { migrationId: 'm-nope', kind: 'STREAM_KIND_CHECKPOINT', round: 0, totalBytes: 3 };
    expect(code(await unary('openStream', base))).toEqual([grpc.status.NOT_FOUND, 'MIGRATION_UNKNOWN']);
    expect(code(await unary('openStream', { ...base, migrationId: '../../etc' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(code(await unary('openStream', { ...base, kind: 'rootkit' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(files()).toEqual(before);
  });

  /** A destination's journal record in preflight, as a PrepareReceive leaves it. */
  const prepared = (id: string) =>
    service.journal.create({
      id, role: 'destination', container: 'c', containerId: 'abc', peer: 'hostA',
      archivePath: join(stateDir, 'archives', `${id}.tar`), phase: 'preflight',
    });

  it('a resumed archive stream that in fact arrived whole is answered "complete", not refused', async () => {
    await prepared('m-whole');
    await service.journal.advance(service.journal.require('m-whole'), 'transfer');
    await service.journal.advance(service.journal.destination('m-whole'), 'received', { received: { bytes: 42, sha256: 'ab'.repeat(32) } });
    await service.journal.advance(service.journal.require('m-whole'), 'restore');
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) =>
      client.openStream({ migrationId: 'm-whole', kind: 'STREAM_KIND_CHECKPOINT', round: 0, resume: true, totalBytes: -1 }, (e, r) => (e ? reject(e) : resolve(r as never))),
    );
    expect(reply).toMatchObject({ complete: true, resumeFrom: 42, sha256: 'ab'.repeat(32), token: '' });
    // Any other stream of it is refused: the migration no longer expects bytes.
    expect(code(await unary('openStream', { migrationId: 'm-whole', kind: 'STREAM_KIND_DATA', round: 1, totalBytes: -1 }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    await service.journal.forget('m-whole');
  });

  it('a restore asked of a migration this agent rolled back meanwhile is RESTORE_FAILED with why, not a bad request', async () => {
    await prepared('m-gone');
    await service.journal.advance(service.journal.require('m-gone'), 'rollback');
    await service.journal.advance(service.journal.require('m-gone'), 'failed', { outcome: 'the restore was cut off (agent restart)' });
    const error = await unary('restore', { migrationId: 'm-gone' });
    expect(code(error)[1]).toBe('RESTORE_FAILED');
    expect(error.details).toContain('was rolled back on hostT before its restore finished: the restore was cut off (agent restart)');
    await service.journal.forget('m-gone');
  });

  it('a data connection with no grant, or a forged one, is refused and writes nothing', async () => {
    const before = files();
    for (const token of ['', 'forged-token']) {
      const error = await DataConnection.open({ host: '127.0.0.1', port: dataPort, name: 'hostT' }, undefined, token).then(() => undefined, (e: unknown) => e);
      expect((error as FerryError).code).toBe('GRANT_INVALID');
    }
    expect(files()).toEqual(before);
  });

  it("an image podman cannot load is refused as a transfer to send again, saying the file is the bytes that were sent", async () => {
    await service.journal.create<DestinationRecord>({
      id: 'm-image', role: 'destination', container: 'c', containerId: 'abc', peer: 'hostA',
      archivePath: join(stateDir, 'archives', 'm-image.tar'), phase: 'preflight', needsImage: true,
    });
    const grant = await new Promise<{ token: string }>((resolve, reject) =>
      client.openStream({ migrationId: 'm-image', kind: 'STREAM_KIND_IMAGE', round: 0, totalBytes: -1 }, (e, r) => (e ? reject(e) : resolve(r as never))),
    );
    process.env.FAKE_PODMAN_EXIT = '125';
    process.env.FAKE_PODMAN_STDERR = 'Error: payload does not match any of the supported image formats';
    try {
      const connection = await DataConnection.open({ host: '127.0.0.1', port: dataPort, name: 'hostT' }, undefined, grant.token);
      const error = await connection.send({ source: (async function* () { yield Buffer.from('not an image archive'); })() }).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'TRANSFER_FAILED', retryable: true });
      expect((error as FerryError).message).toContain('podman load refused the image (the file holds exactly the bytes that were sent)');
    } finally {
      delete process.env.FAKE_PODMAN_EXIT;
      delete process.env.FAKE_PODMAN_STDERR;
    }
    expect(files().filter((f) => f.includes('m-image.image'))).toEqual([]); // the file went
    await service.journal.forget('m-image');
  });

  it('a checkpoint request with a bad compression or this host as destination', async () => {
    const stream = (request: unknown) =>
      new Promise<grpc.ServiceError>((resolve, reject) => {
        const call = client.checkpointAndSend(request as never);
        call.on('data', () => {});
        call.on('error', resolve);
        call.on('end', () => reject(new Error('accepted')));
      });
    const base = { migrationId: 'm-2', container: 'c', destinationHost: 'hostB', destinationAddress: '127.0.0.1:1', compress: 'COMPRESSION_NONE' };
    expect(code(await stream({ ...base, compress: 'COMPRESSION_UNSPECIFIED' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(code(await stream({ ...base, compress: 'lz4' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(code(await stream({ ...base, destinationHost: 'hostT' }))).toEqual([grpc.status.INVALID_ARGUMENT, 'SAME_HOST']);
  });
});

describe('an agent that is stopping', () => {
  it('refuses new migrations and parks with AGENT_STOPPING, and still answers about the ones it has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-stopping-'));
    const stopping = await openAgent('hostS', dir);
    const started = await startServer(stopping, silentLogger);
    const caller = agentClient(`127.0.0.1:${started.port}`);
    try {
      stopping.stop();
      const call = (method: string, request: unknown) =>
        new Promise<grpc.ServiceError>((resolve, reject) => {
          const fn = (caller as unknown as Record<string, Function>)[method]!.bind(caller);
          fn(request, (error: grpc.ServiceError | null) => (error ? resolve(error) : reject(new Error(`${method} succeeded`))));
        });
      const container = { id: 'a'.repeat(64), name: 'c' };
      expect(code(await call('prepareReceive', { migrationId: 'm-s1', sourceHost: 'hostA', container }))).toEqual([grpc.status.UNAVAILABLE, 'AGENT_STOPPING']);
      const streamed = (method: 'checkpointAndSend' | 'park', request: unknown) =>
        new Promise<grpc.ServiceError>((resolve, reject) => {
          const stream = (caller[method] as (r: never) => grpc.ClientReadableStream<unknown>)(request as never);
          stream.on('data', () => {});
          stream.on('error', resolve);
          stream.on('end', () => reject(new Error('accepted')));
        });
      const checkpoint = { migrationId: 'm-s2', container: 'c', destinationHost: 'hostB', destinationAddress: '127.0.0.1:1', compress: 'COMPRESSION_NONE' };
      expect(code(await streamed('checkpointAndSend', checkpoint))).toEqual([grpc.status.UNAVAILABLE, 'AGENT_STOPPING']);
      expect(code(await streamed('park', { containers: [] }))).toEqual([grpc.status.UNAVAILABLE, 'AGENT_STOPPING']);
      // A question about a migration is not new work: it is answered as ever.
      expect(code(await call('migrationStatus', { migrationId: 'm-none' }))).toEqual([grpc.status.NOT_FOUND, 'MIGRATION_UNKNOWN']);
    } finally {
      caller.close();
      started.server.forceShutdown();
    }
  });
});
