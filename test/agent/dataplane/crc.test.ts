// Who checks a chunk on the data plane: over mutual TLS, whose records are authenticated already,
// a sender that offers it leaves the CRC-32 out and the receiver does not ask for it; over a
// plaintext port, or from a sender that did not offer, every chunk's CRC-32 is checked as before.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataConnection } from '../../../agent/dataplane/client.ts';
import { controlFrame, CRC32_OPTIONAL, dataHead, endFrame, FrameDecoder, type Frame } from '../../../agent/dataplane/frames.ts';
import { DataServer, type AcceptedStream } from '../../../agent/dataplane/server.ts';
import { silentLogger } from '../../../agent/log.ts';
import { initCa, issue, loadTls, type TlsFiles } from '../../../common/pki.ts';

const pki = mkdtempSync(join(tmpdir(), 'ferry-crc-pki-'));
const tls: Record<string, TlsFiles> = {};
const servers: Record<'tls' | 'plain', { server: DataServer; port: number }> = {} as never;
/** What each stream's target took, by token. */
const stored = new Map<string, Buffer[]>();

function accept(open: { token: unknown }): Promise<AcceptedStream> {
  const parts: Buffer[] = [];
  stored.set(String(open.token), parts);
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(Buffer.from(chunk));
      callback();
    },
  });
  return Promise.resolve({
    label: 'test',
    totalBytes: -1,
    target: { writable, settled: async () => {}, abort: async () => {}, discard: async () => {} },
    complete: async () => {},
    release: () => {},
  });
}

beforeAll(async () => {
  await initCa(pki);
  await issue(pki, 'dest', { role: 'agent', ips: ['127.0.0.1'], dns: ['dest'] });
  await issue(pki, 'src', { role: 'agent', ips: ['127.0.0.2'], dns: ['src'] });
  tls.dest = await loadTls(pki, 'dest');
  tls.src = await loadTls(pki, 'src');
  for (const kind of ['tls', 'plain'] as const) {
    const server = new DataServer({ tls: kind === 'tls' ? tls.dest : undefined, log: silentLogger, accept });
    servers[kind] = { server, port: await server.listen('127.0.0.1', 0) };
  }
});

afterAll(async () => {
  await servers.tls?.server.close();
  await servers.plain?.server.close();
});

/** A hand-made sender: OPEN (with or without the offer), one DATA frame whose CRC-32 is 0, END. */
function rawStream(kind: 'tls' | 'plain', token: string, offer: boolean, payload: Buffer): Promise<Frame[]> {
  return new Promise((resolve) => {
    const { port } = servers[kind];
    const socket: Socket =
      kind === 'tls'
        ? tlsConnect({ host: '127.0.0.1', port, ca: tls.src?.ca, cert: tls.src?.cert, key: tls.src?.key, servername: 'dest', allowHalfOpen: true } as never)
        : netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const replies: Frame[] = [];
    const decoder = new FrameDecoder();
    socket.pipe(decoder);
    decoder.on('data', (frame: Frame) => replies.push(frame));
    decoder.on('end', () => {
      socket.destroy();
      resolve(replies);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(replies));
    const go = () => {
      socket.write(controlFrame('OPEN', offer ? { token, crc32: CRC32_OPTIONAL } : { token }));
      socket.write(Buffer.concat([dataHead(0, 0, payload.length), payload]));
      socket.end(endFrame(payload.length, createHash('sha256').update(payload).digest('hex')));
    };
    if (kind === 'tls') socket.once('secureConnect', go);
    else socket.once('connect', go);
  });
}

const body = (replies: Frame[], type: string) => {
  const frame = replies.find((f) => f.type === type);
  return frame && 'body' in frame ? frame.body : undefined;
};

describe('CRC-32 on the data plane', () => {
  it('over TLS, a sender that offers sends no CRC-32, and the stream checks out by its SHA-256', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    const replies = await rawStream('tls', 'tls-offered', true, payload);
    expect(body(replies, 'READY')).toMatchObject({ crc32: false });
    expect(body(replies, 'DONE')).toMatchObject({ bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') });
    expect(Buffer.concat(stored.get('tls-offered') ?? []).equals(payload)).toBe(true);
  });

  it("over TLS, a sender that did not offer (an older agent) still has each chunk's CRC-32 checked", async () => {
    const replies = await rawStream('tls', 'tls-old', false, Buffer.from('some bytes'));
    expect(body(replies, 'READY')).toMatchObject({ crc32: true });
    expect(body(replies, 'ERROR')).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: 'chunk at offset 0 is corrupted (CRC-32 mismatch)' });
  });

  it('on a plaintext port the CRC-32 is checked even when the sender offers to leave it out', async () => {
    const replies = await rawStream('plain', 'plain-offered', true, Buffer.from('some bytes'));
    expect(body(replies, 'READY')).toMatchObject({ crc32: true });
    expect(body(replies, 'ERROR')).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: 'chunk at offset 0 is corrupted (CRC-32 mismatch)' });
  });

  it("Ferry's own sender leaves it out over TLS and keeps it on a plaintext port; both streams arrive whole", async () => {
    const payload = randomBytes(2 * 1024 * 1024 + 5);
    async function* source() {
      yield payload;
    }
    const overTls = await DataConnection.open({ host: '127.0.0.1', port: servers.tls.port, name: 'dest' }, tls.src, 'sender-tls');
    expect(overTls.crc32).toBe(false);
    await overTls.send({ source: source() });
    const plain = await DataConnection.open({ host: '127.0.0.1', port: servers.plain.port, name: 'dest' }, undefined, 'sender-plain');
    expect(plain.crc32).toBe(true);
    await plain.send({ source: source() });
    expect(Buffer.concat(stored.get('sender-tls') ?? []).equals(payload)).toBe(true);
    expect(Buffer.concat(stored.get('sender-plain') ?? []).equals(payload)).toBe(true);
  });
});
