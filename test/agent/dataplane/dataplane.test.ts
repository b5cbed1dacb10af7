// The data plane on a real server at 127.0.0.1:0: streams move intact, resume from what the
// receiver kept, and every kind of bad stream is refused with a reason the sender gets.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { DataConnection, type SendOptions } from '../../../agent/dataplane/client.ts';
import { controlFrame, dataHead, endFrame, FrameDecoder, type Frame } from '../../../agent/dataplane/frames.ts';
import { Grants } from '../../../agent/dataplane/grants.ts';
import { BufferPool } from '../../../agent/dataplane/pool.ts';
import { DataServer, type AcceptedStream } from '../../../agent/dataplane/server.ts';
import { silentLogger } from '../../../agent/log.ts';
import { hashPrefix } from '../../../agent/transfer/hash.ts';
import { fileTarget, type Target } from '../../../agent/transfer/targets.ts';

const inbox = mkdtempSync(join(tmpdir(), 'ferry-inbox-'));
const grants = new Grants();
let server: DataServer;
let port: number;
/** What the acceptor made of each stream, by migration. */
const completed = new Map<string, { bytes: number; sha256: string }>();
/** The target each stream got, by migration. */
const targets = new Map<string, Target>();
/** A target that refuses to store more than this many bytes (a full disk), by migration. */
const diskBytes = new Map<string, number>();

function fullDisk(limit: number): Target {
  let stored = 0;
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stored += chunk.length;
      callback(stored > limit ? Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) : null);
    },
  });
  return { writable, settled: async () => {}, abort: async () => {}, discard: async () => {} };
}

beforeAll(async () => {
  server = new DataServer({
    log: silentLogger,
    idleMs: 3_000,
    accept: async (open): Promise<AcceptedStream> => {
      const grant = grants.redeem(open.token, undefined);
      const path = join(inbox, `${grant.migrationId}.tar`);
      const limit = diskBytes.get(grant.migrationId);
      const resuming = grant.resumeFrom > 0;
      const target = limit !== undefined ? fullDisk(limit) : await fileTarget(path, { resumable: grant.kind === 'checkpoint', resumeFrom: grant.resumeFrom });
      targets.set(grant.migrationId, target);
      return {
        label: grant.kind,
        totalBytes: grant.totalBytes,
        target,
        resume: resuming ? { offset: grant.resumeFrom, hash: await hashPrefix(path, grant.resumeFrom) } : undefined,
        complete: async (result) => void completed.set(grant.migrationId, result),
        release: () => {},
      };
    },
  });
  port = await server.listen('127.0.0.1', 0);
});

afterAll(() => server?.close());

const endpoint = () => ({ host: '127.0.0.1', port, name: 'dest' });
const grant = (migrationId: string, options: { totalBytes?: number; resumeFrom?: number; kind?: 'checkpoint' | 'image' } = {}) =>
  grants.issue({ migrationId, kind: options.kind ?? 'checkpoint', round: 0, peer: 'src', resumeFrom: options.resumeFrom ?? 0, totalBytes: options.totalBytes ?? -1 }).token;

async function* bytesOf(data: Buffer, piece = 300_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
}

/** A hand-made stream: OPEN, then the given frames; resolves with every frame the receiver sent back. */
function raw(token: string, frames: Buffer[], options: { end?: boolean } = {}): Promise<Frame[]> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const replies: Frame[] = [];
    const decoder = new FrameDecoder();
    socket.pipe(decoder);
    decoder.on('data', (frame: Frame) => replies.push(frame));
    socket.on('error', () => {});
    // The receiver half-closes after its reply (DONE or ERROR): that is the end of the exchange.
    decoder.on('end', () => {
      socket.destroy();
      resolve(replies);
    });
    socket.on('close', () => resolve(replies));
    socket.write(controlFrame('OPEN', { token }));
    for (const frame of frames) socket.write(frame);
    if (options.end ?? true) socket.end();
  });
}

const data = (offset: number, bytes: Buffer, crc = crc32(bytes)) => Buffer.concat([dataHead(offset, crc, bytes.length), bytes]);
const errorOf = (replies: Frame[]) => {
  const error = replies.find((f) => f.type === 'ERROR');
  return error && 'body' in error ? error.body : undefined;
};

describe('the data plane', () => {
  it('moves a stream intact into a 0600 file and reports what the receiver acknowledged', async () => {
    const payload = randomBytes(9 * 1024 * 1024 + 12345);
    const acked: number[] = [];
    const connection = await DataConnection.open(endpoint(), undefined, grant('m-1'));
    expect(connection.resumeFrom).toBe(0);
    const result = await connection.send({ source: bytesOf(payload), onProgress: (bytes) => acked.push(bytes) });
    const sha = createHash('sha256').update(payload).digest('hex');
    expect(result).toMatchObject({ bytes: payload.length, sha256: sha });
    expect(completed.get('m-1')).toEqual({ bytes: payload.length, sha256: sha });
    expect(readFileSync(join(inbox, 'm-1.tar')).equals(payload)).toBe(true);
    expect(statSync(join(inbox, 'm-1.tar')).mode & 0o777).toBe(0o600); // a container's memory: root's eyes only
    expect(acked.length).toBeGreaterThan(0);
    expect(acked).toEqual([...acked].sort((a, b) => a - b));
  });

  it("copies what arrives into the file sink's own buffers, and each is free again once stored", async () => {
    // More than the sink has buffers: a buffer not given back would stall the stream here.
    const payload = randomBytes(24 * 1024 * 1024 + 999);
    const connection = await DataConnection.open(endpoint(), undefined, grant('m-slabs'));
    await connection.send({ source: bytesOf(payload, 1024 * 1024) });
    expect(readFileSync(join(inbox, 'm-slabs.tar')).equals(payload)).toBe(true);
    const slabs = targets.get('m-slabs')?.slabs;
    expect(slabs).toBeDefined();
    expect(slabs?.free).toBe(6);
  });

  it('caps the rate when asked (bwlimit)', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const connection = await DataConnection.open(endpoint(), undefined, grant('m-slow'));
    const started = performance.now();
    await connection.send({ source: bytesOf(payload, 256 * 1024), bytesPerSecond: 4 * 1024 * 1024 });
    // 2 MiB at 4 MiB/s: at least about half a second, whatever the machine.
    expect(performance.now() - started).toBeGreaterThan(400);
  });

  it('resumes from what the receiver kept: only the rest travels, and the whole checks out', async () => {
    const payload = randomBytes(3 * 1024 * 1024);
    const kept = 1024 * 1024 + 7;
    writeFileSync(join(inbox, 'm-resume.tar'), payload.subarray(0, kept));
    const connection = await DataConnection.open(endpoint(), undefined, grant('m-resume', { resumeFrom: kept }));
    expect(connection.resumeFrom).toBe(kept);
    const prefix = createHash('sha256').update(payload.subarray(0, kept));
    const result = await connection.send({ source: bytesOf(payload.subarray(kept)), hash: prefix });
    expect(result.sha256).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(readFileSync(join(inbox, 'm-resume.tar')).equals(payload)).toBe(true);
  });

  it('refuses a whole that does not match its SHA-256 and keeps nothing of it', async () => {
    const replies = await raw(grant('m-2', { totalBytes: 4 }), [data(0, Buffer.from('abcd')), endFrame(4, '0'.repeat(64))]);
    expect(errorOf(replies)).toMatchObject({ code: 'INTEGRITY_MISMATCH' });
    expect(String(errorOf(replies)?.message)).toMatch(/^SHA-256 mismatch/);
    expect(existsSync(join(inbox, 'm-2.tar'))).toBe(false);
  });

  it('refuses a corrupted chunk, keeping the good bytes before it for a resume', async () => {
    const good = randomBytes(1000);
    const original = randomBytes(1000);
    const bad = Buffer.from(original);
    bad[500] = (bad[500] ?? 0) ^ 0xff;
    const replies = await raw(grant('m-2b', { totalBytes: 2000 }), [data(0, good), data(1000, bad, crc32(original))], { end: false });
    expect(errorOf(replies)).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: 'chunk at offset 1000 is corrupted (CRC-32 mismatch)' });
    expect(readFileSync(join(inbox, 'm-2b.tar')).equals(good)).toBe(true);
  });

  it('refuses a chunk out of order, more bytes than announced, and a stream cut before its end', async () => {
    const order = await raw(grant('m-3', { totalBytes: 20 }), [data(10, Buffer.alloc(10))], { end: false });
    expect(errorOf(order)).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: 'chunk at offset 10 arrived when 0 was expected' });
    const more = await raw(grant('m-5', { totalBytes: 4 }), [data(0, Buffer.alloc(8))], { end: false });
    expect(errorOf(more)).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: 'more data than the 4 bytes announced' });
    const cut = await raw(grant('m-4', { totalBytes: 20 }), [data(0, Buffer.alloc(10))]);
    expect(errorOf(cut)).toMatchObject({ code: 'TRANSFER_FAILED' });
    expect(String(errorOf(cut)?.message)).toMatch(/^the stream ended after 10 bytes/);
  });

  it('refuses frames that are not frames, and writes nothing for them', async () => {
    const before = readdirSync(inbox).sort();
    const garbage = Buffer.alloc(16, 0x77);
    const replies = await raw(grant('m-junk'), [garbage], { end: false });
    expect(errorOf(replies)).toMatchObject({ code: 'BAD_REQUEST' });
    expect(String(errorOf(replies)?.message)).toMatch(/^data plane: unknown frame type 119/);
    const huge = Buffer.alloc(5);
    huge[0] = 0x01;
    huge.writeUInt32BE(0xffffffff, 1);
    expect(errorOf(await raw(grant('m-huge'), [huge], { end: false }))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(readdirSync(inbox).filter((f) => !f.startsWith('m-junk') && !f.startsWith('m-huge')).sort()).toEqual(before.filter((f) => !f.startsWith('m-junk') && !f.startsWith('m-huge')));
  });

  it('refuses an unknown, a reused and an expired grant, and writes nothing', async () => {
    const before = readdirSync(inbox).sort();
    expect(errorOf(await raw('no-such-token', []))).toMatchObject({ code: 'GRANT_INVALID', message: 'the stream grant is unknown or was already used' });
    const token = grant('m-once');
    const first = await DataConnection.open(endpoint(), undefined, token);
    await first.send({ source: bytesOf(Buffer.from('hello')) });
    expect(errorOf(await raw(token, []))).toMatchObject({ code: 'GRANT_INVALID' });
    const clock = { now: Date.now() };
    const short = new Grants(1_000, () => clock.now);
    const stale = short.issue({ migrationId: 'm-late', kind: 'checkpoint', round: 0, peer: 'src', resumeFrom: 0, totalBytes: -1 });
    clock.now += 2_000;
    expect(() => short.redeem(stale.token, undefined)).toThrow(/expired/);
    const error = await DataConnection.open(endpoint(), undefined, 'forged').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).code).toBe('GRANT_INVALID');
    expect(readdirSync(inbox).sort()).toEqual([...before, 'm-once.tar'].sort());
  });

  it("passes the receiver's reason to the sender: a full disk is DISK_FULL, not a broken pipe", async () => {
    diskBytes.set('m-full', 2 * 1024 * 1024);
    const connection = await DataConnection.open(endpoint(), undefined, grant('m-full'));
    const error = await connection.send({ source: bytesOf(randomBytes(8 * 1024 * 1024)) }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).code).toBe('DISK_FULL');
    expect((error as FerryError).host).toBe('dest');
  });

  it('gives up on a receiver that stops acknowledging, so the caller can resume', async () => {
    // A receiver that takes the OPEN, says READY, then never reads again.
    const { createServer } = await import('node:net');
    const mute = createServer((socket) => {
      socket.once('data', () => {
        socket.write(controlFrame('READY', { resumeFrom: 0 }));
        socket.pause();
      });
    });
    const mutePort = await new Promise<number>((resolve) => mute.listen(0, '127.0.0.1', () => resolve((mute.address() as { port: number }).port)));
    try {
      const connection = await DataConnection.open({ host: '127.0.0.1', port: mutePort, name: 'mute' }, undefined, 'x', { stallMs: 1_500 });
      const started = performance.now();
      const error = await connection.send({ source: bytesOf(randomBytes(64 * 1024 * 1024), 1024 * 1024) }).then(() => undefined, (e: unknown) => e);
      expect((error as FerryError).code).toBe('TRANSFER_FAILED');
      expect((error as FerryError).message).toMatch(/acknowledged nothing for 2 s/);
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      mute.close();
    }
  });

  /** A receiver that takes the OPEN, says READY, reads a little, then dies; and the sender's outcome. */
  async function sendToDying(options: SendOptions): Promise<{ error: unknown; ms: number }> {
    const { createServer } = await import('node:net');
    const dying = createServer((socket) => {
      socket.once('data', () => {
        socket.write(controlFrame('READY', { resumeFrom: 0 }));
        socket.once('data', () => socket.destroy());
      });
    });
    const port = await new Promise<number>((resolve) => dying.listen(0, '127.0.0.1', () => resolve((dying.address() as { port: number }).port)));
    try {
      const connection = await DataConnection.open({ host: '127.0.0.1', port, name: 'dying' }, undefined, 'x');
      const started = performance.now();
      const error = await connection.send(options).then(() => undefined, (e: unknown) => e);
      return { error, ms: performance.now() - started };
    } finally {
      dying.close();
    }
  }

  it('a destination that dies while the source waits (for podman, for a buffer) fails the send at once', async () => {
    const pool = new BufferPool(256 * 1024, 1);
    const giveUp = new AbortController();
    // A source like the export follower: each chunk in the pool's only buffer, and the second
    // one late, as when podman is still writing.
    async function* slowPooled() {
      yield (await pool.take(giveUp.signal)).fill(1);
      await new Promise((r) => setTimeout(r, 300));
      yield (await pool.take(giveUp.signal)).fill(2);
    }
    try {
      const { error, ms } = await sendToDying({ source: slowPooled(), pool });
      expect((error as FerryError).code).toBe('TRANSFER_FAILED');
      expect(ms).toBeLessThan(5_000);
    } finally {
      giveUp.abort();
    }
  });

  it('a destination that dies while the rate cap holds the sender back fails the send at once', async () => {
    // 1 MiB/s, 1 MiB chunks: the sender sleeps a second before each chunk after the first,
    // and the destination is gone by the time it wakes up with a full socket buffer to wait on.
    const { error, ms } = await sendToDying({ source: bytesOf(randomBytes(16 * 1024 * 1024), 1024 * 1024), bytesPerSecond: 1024 * 1024 });
    expect((error as FerryError).code).toBe('TRANSFER_FAILED');
    expect(ms).toBeLessThan(5_000);
  });

  it('fails with TRANSFER_FAILED when the destination is not there', async () => {
    const error = await DataConnection.open({ host: '127.0.0.1', port: 1, name: 'ghost' }, undefined, 'x').then(() => undefined, (e: unknown) => e);
    expect((error as FerryError).code).toBe('TRANSFER_FAILED');
    expect((error as FerryError).message).toMatch(/^cannot reach ghost's data port 127.0.0.1:1/);
  });
});
