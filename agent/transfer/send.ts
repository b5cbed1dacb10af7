// Source side of a transfer: the archive file, read in chunks, hashed and written to the
// destination agent's Receive stream. pipeline() carries gRPC's backpressure back to the disk
// read, so memory stays flat whatever the archive size.
import { createReadStream } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as grpc from '@grpc/grpc-js';
import { FerryError } from '../../common/errors.ts';
import { fromServiceError, type AgentClient } from '../../common/rpc.ts';
import type { ReceiveReply__Output } from '../../proto/gen/ferry/v1/ReceiveReply.ts';
import { CHUNK_BYTES, toChunks, type StreamKind } from './chunks.ts';

export interface SendRequest {
  path: string;
  migrationId: string;
  kind?: StreamKind | undefined;
  sourceHost: string;
  destinationHost: string;
  client: AgentClient;
  signal?: AbortSignal | undefined;
  onProgress?: ((bytes: number, total: number) => void) | undefined;
}

export interface SendResult {
  bytes: number;
  ms: number;
  sha256: string;
}

/** SHA-256 state after the first `length` bytes of a file: where a resumed transfer picks up. */
export async function hashPrefix(path: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: CHUNK_BYTES })) hash.update(chunk as Buffer);
  }
  return hash;
}

/**
 * Sends a file: its size is known, so the destination can refuse it early for lack of space.
 * With `resumeFrom`, only the bytes from there on go (the destination kept the ones before).
 */
export async function sendArchive(request: SendRequest & { resumeFrom?: number | undefined }): Promise<SendResult> {
  const { size } = await stat(request.path);
  const from = request.resumeFrom ?? 0;
  const file = createReadStream(request.path, { highWaterMark: CHUNK_BYTES, start: from });
  return sendStream({
    ...request,
    source: file,
    totalBytes: size,
    kind: request.kind ?? 'checkpoint',
    round: 0,
    resumeFrom: from,
    hash: from > 0 ? await hashPrefix(request.path, from) : undefined,
  });
}

export interface SendStreamRequest extends Omit<SendRequest, 'path' | 'kind'> {
  source: AsyncIterable<Buffer>;
  totalBytes: number;
  kind: StreamKind;
  round: number;
  resumeFrom?: number | undefined;
  /** The SHA-256 state of the bytes before resumeFrom. */
  hash?: Hash | undefined;
}

/** Sends any byte stream as one transfer; `totalBytes` may be UNKNOWN_SIZE. */
export async function sendStream(request: SendStreamRequest): Promise<SendResult> {
  const started = performance.now();
  const size = request.totalBytes;
  let failure: unknown;
  let reply: ReceiveReply__Output | undefined;
  const answered = new Promise<void>((resolve) => {
    const call = request.client.receive(new grpc.Metadata(), (error, value) => {
      if (error) failure ??= error;
      reply = value;
      resolve();
    });
    const abort = () => call.cancel();
    request.signal?.addEventListener('abort', abort, { once: true });
    const header = {
      migrationId: request.migrationId,
      sourceHost: request.sourceHost,
      totalBytes: size,
      kind: request.kind,
      round: request.round,
      resumeFrom: request.resumeFrom ?? 0,
    };
    const chunks = Readable.from(toChunks(header, request.source, (sent) => request.onProgress?.(sent, size), request.hash));
    // A pipeline error (the destination hung up, a read failed) is reported through the
    // unary callback too, which is the one answer we wait for.
    pipeline(chunks, call as unknown as NodeJS.WritableStream)
      .catch((error: unknown) => {
        failure ??= error;
        call.cancel();
      })
      .finally(() => request.signal?.removeEventListener('abort', abort));
  });
  await answered;
  if (request.signal?.aborted) throw new FerryError('CANCELLED', 'the transfer was cancelled', { phase: 'transfer' });
  if (failure !== undefined || !reply) {
    const error = fromServiceError(failure ?? new Error('no reply'), request.destinationHost);
    throw error.code === 'AGENT_UNREACHABLE' || error.code === 'INTERNAL' || error.code === 'CANCELLED'
      ? new FerryError('TRANSFER_FAILED', `sending the archive to ${request.destinationHost} failed: ${error.message}`, {
          phase: 'transfer',
          cause: error,
        })
      : error.at('transfer', undefined);
  }
  return { bytes: reply.bytes, ms: Math.round(performance.now() - started), sha256: reply.sha256 };
}
