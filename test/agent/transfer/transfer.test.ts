import { randomBytes, createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { agentClient, ferryProto, fromServiceError, serverOptions, toServiceError, type AgentClient } from '../../../common/rpc.ts';
import { CHUNK_BYTES } from '../../../agent/transfer/chunks.ts';
import { fileTarget, receiveArchive } from '../../../agent/transfer/receive.ts';
import { sendArchive } from '../../../agent/transfer/send.ts';
import type { AgentHandlers } from '../../../proto/gen/ferry/v1/Agent.ts';
import type { TransferChunk } from '../../../proto/gen/ferry/v1/TransferChunk.ts';

// A real gRPC server on 127.0.0.1:0 that implements only Receive, writing into `inbox`.
const inbox = mkdtempSync(join(tmpdir(), 'ferry-inbox-'));
const work = mkdtempSync(join(tmpdir(), 'ferry-send-'));
const known = new Set(['m-1', 'm-2', 'm-2b', 'm-3', 'm-4', 'm-5', 'm-6']);
let server: grpc.Server;
let client: AgentClient;

beforeAll(async () => {
  server = new grpc.Server(serverOptions());
  const handlers: Partial<AgentHandlers> = {
    Receive: (call, callback) => {
      receiveArchive(call, async (header) => {
        if (!known.has(header.migrationId)) throw new FerryError('MIGRATION_UNKNOWN', `no migration "${header.migrationId}"`);
        return fileTarget(join(inbox, `${header.migrationId}.tar`));
      }).then(
        (r) => callback(null, { bytes: r.bytes, sha256: r.sha256 }),
        (e: unknown) => callback(toServiceError(e, 'dest')),
      );
    },
  };
  server.addService(ferryProto().ferry.v1.Agent.service, handlers as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  client = agentClient(`127.0.0.1:${port}`);
});

afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

/** A data message with a correct CRC-32, unless `crc` says otherwise. */
const data = (offset: number, bytes: Buffer, crc = crc32(bytes)) => ({ data: { offset, data: bytes, crc32: crc } });

/** Sends hand-made messages, for the cases a well-behaved sender never produces. */
function sendRaw(messages: TransferChunk[]): Promise<FerryError | { bytes: number }> {
  return new Promise((resolve) => {
    const call = client.receive((error, reply) => resolve(error ? fromServiceError(error, 'dest') : { bytes: Number(reply?.bytes) }));
    for (const m of messages) call.write(m);
    call.end();
  });
}

describe('archive transfer between agents', () => {
  it('moves a file intact, in chunks, and reports progress', async () => {
    const path = join(work, 'a.tar');
    const data = randomBytes(5 * CHUNK_BYTES + 12345);
    writeFileSync(path, data);
    const progress: number[] = [];
    const result = await sendArchive({
      path,
      migrationId: 'm-1',
      sourceHost: 'src',
      destinationHost: 'dest',
      client,
      onProgress: (bytes) => progress.push(bytes),
    });
    const sha = createHash('sha256').update(data).digest('hex');
    expect(result).toMatchObject({ bytes: data.length, sha256: sha });
    expect(readFileSync(join(inbox, 'm-1.tar')).equals(data)).toBe(true);
    expect(statSync(join(inbox, 'm-1.tar')).mode & 0o777).toBe(0o600); // a container's memory: root's eyes only
    expect(progress.at(-1)).toBe(data.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('refuses a whole that does not match its SHA-256 and keeps nothing', async () => {
    const result = await sendRaw([
      { header: { migrationId: 'm-2', sourceHost: 'src', totalBytes: 4 } },
      data(0, Buffer.from('abcd')),
      { trailer: { totalBytes: 4, sha256: '0'.repeat(64) } },
    ]);
    expect((result as FerryError).code).toBe('INTEGRITY_MISMATCH');
    expect((result as FerryError).message).toMatch(/^SHA-256 mismatch/);
    expect(existsSync(join(inbox, 'm-2.tar'))).toBe(false);
  });

  it('refuses a corrupted chunk and keeps nothing', async () => {
    const original = randomBytes(1000);
    const good = createHash('sha256').update(original).digest('hex');
    const bad = Buffer.from(original);
    bad[500] = (bad[500] ?? 0) ^ 0xff;
    const result = await sendRaw([
      { header: { migrationId: 'm-2b', sourceHost: 'src', totalBytes: 1000 } },
      data(0, bad, crc32(original)),
      { trailer: { totalBytes: 1000, sha256: good } },
    ]);
    expect(result).toBeInstanceOf(FerryError);
    expect((result as FerryError).code).toBe('INTEGRITY_MISMATCH');
    expect((result as FerryError).message).toBe('chunk at offset 0 is corrupted (CRC-32 mismatch)');
    expect(existsSync(join(inbox, 'm-2b.tar'))).toBe(false);
  });

  it('refuses a chunk out of order', async () => {
    const result = await sendRaw([
      { header: { migrationId: 'm-3', sourceHost: 'src', totalBytes: 20 } },
      data(10, Buffer.alloc(10)),
    ]);
    expect((result as FerryError).code).toBe('INTEGRITY_MISMATCH');
    expect((result as FerryError).message).toBe('chunk at offset 10 arrived when 0 was expected');
    expect(existsSync(join(inbox, 'm-3.tar'))).toBe(false);
  });

  it('refuses data before the header and a stream cut before the trailer', async () => {
    const early = await sendRaw([data(0, Buffer.alloc(4))]);
    expect((early as FerryError).code).toBe('BAD_REQUEST');
    const cut = await sendRaw([
      { header: { migrationId: 'm-4', sourceHost: 'src', totalBytes: 20 } },
      data(0, Buffer.alloc(10)),
    ]);
    expect((cut as FerryError).code).toBe('TRANSFER_FAILED');
    expect(existsSync(join(inbox, 'm-4.tar'))).toBe(false);
  });

  it('refuses more bytes than announced', async () => {
    const result = await sendRaw([
      { header: { migrationId: 'm-5', sourceHost: 'src', totalBytes: 4 } },
      data(0, Buffer.alloc(8)),
    ]);
    expect((result as FerryError).code).toBe('INTEGRITY_MISMATCH');
  });

  it('writes nothing for a migration the destination does not expect', async () => {
    const path = join(work, 'b.tar');
    writeFileSync(path, randomBytes(100));
    const before = readdirSync(inbox).sort();
    const error = await sendArchive({ path, migrationId: 'm-unknown', sourceHost: 'src', destinationHost: 'dest', client }).catch((e: unknown) => e);
    expect((error as FerryError).code).toBe('MIGRATION_UNKNOWN');
    expect((error as FerryError).host).toBe('dest');
    expect(readdirSync(inbox).sort()).toEqual(before);
  });

  it('fails with TRANSFER_FAILED when the destination is not there', async () => {
    const path = join(work, 'c.tar');
    writeFileSync(path, randomBytes(100));
    const nobody = agentClient('127.0.0.1:1');
    const error = await sendArchive({ path, migrationId: 'm-6', sourceHost: 'src', destinationHost: 'ghost', client: nobody }).catch((e: unknown) => e);
    nobody.close();
    expect((error as FerryError).code).toBe('TRANSFER_FAILED');
    expect((error as FerryError).message).toMatch(/^sending the archive to ghost failed/);
  });
});
