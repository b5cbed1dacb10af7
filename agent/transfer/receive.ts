// Destination side of a transfer: checks every message (header first, offsets in order, size
// and SHA-256 at the end) and hands the bytes to a target: a 0600 file for archives and images,
// or a consumer such as the data extractor. A transfer that fails for any reason aborts its
// target, which removes what it wrote.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Hash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { FerryError } from '../../common/errors.ts';
import type { TransferChunk__Output } from '../../proto/gen/ferry/v1/TransferChunk.ts';
import { ChunkVerifier, STREAM_KINDS, type ArchiveHeader, type StreamKind } from './chunks.ts';

export interface ReceiveResult {
  header: ArchiveHeader;
  bytes: number;
  sha256: string;
}

/** Where received bytes go. `finish` runs once the whole stream is verified. */
export interface Target {
  writable: Writable;
  finish(): Promise<void>;
  /** The stream broke: keep what is resumable, drop the rest. */
  abort(): Promise<void>;
  /** The bytes are wrong as a whole: keep nothing. */
  discard?(): Promise<void>;
  /** A resumed transfer: bytes before this offset are stored already, and hashed in `hash`. */
  resume?: { offset: number; hash: Hash } | undefined;
}

export interface FileTargetOptions {
  /** Keep every verified byte when the stream breaks, so the sender can resume from the size. */
  resumable?: boolean;
  /** Bytes already in the file (it was cut to this length), and their hash. */
  resumeFrom?: number;
  hash?: Hash | undefined;
}

/** A 0600 file; unless resumable, removed again if the transfer fails. */
export function fileTarget(path: string, options: FileTargetOptions = {}): Target {
  const from = options.resumeFrom ?? 0;
  const out = createWriteStream(path, { mode: 0o600, flags: from > 0 ? 'r+' : 'w', start: from });
  const discard = async () => {
    out.destroy();
    await rm(path, { force: true });
  };
  return {
    writable: out,
    finish: async () => {
      out.end();
      await finished(out);
    },
    abort: options.resumable
      ? async () => {
          out.end();
          await finished(out).catch(() => undefined);
        }
      : discard,
    discard,
    resume: from > 0 && options.hash ? { offset: from, hash: options.hash } : undefined,
  };
}

/** Feeds the bytes to `consume` as they arrive (e.g. tar extraction into a staging path). */
export function streamTarget(consume: (input: AsyncIterable<Buffer>) => Promise<unknown>): Target {
  const pass = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const consumed = consume(pass);
  consumed.catch(() => undefined); // surfaced by finish() or swallowed by abort()
  return {
    writable: pass,
    finish: async () => {
      pass.end();
      await consumed;
    },
    abort: async () => {
      pass.destroy();
      await consumed.catch(() => undefined);
    },
  };
}

function headerOf(message: NonNullable<TransferChunk__Output['header']>): ArchiveHeader {
  const kind = (message.kind || 'checkpoint') as StreamKind;
  if (!STREAM_KINDS.includes(kind)) throw new FerryError('BAD_REQUEST', `unknown transfer kind "${message.kind}"`, { phase: 'transfer' });
  return {
    migrationId: message.migrationId,
    sourceHost: message.sourceHost,
    totalBytes: Number(message.totalBytes),
    kind,
    round: Number(message.round),
    resumeFrom: Number(message.resumeFrom) || 0,
  };
}

/**
 * `accept` is asked, once the header is in, where this stream goes; it throws when the
 * migration is unknown or not expecting it.
 */
export async function receiveArchive(
  messages: AsyncIterable<TransferChunk__Output>,
  accept: (header: ArchiveHeader) => Promise<Target>,
): Promise<ReceiveResult> {
  const verifier = new ChunkVerifier();
  let header: ArchiveHeader | undefined;
  let target: Target | undefined;
  let writeError: unknown;
  try {
    for await (const message of messages) {
      if (message.header) {
        if (header) throw new FerryError('BAD_REQUEST', 'a second header arrived', { phase: 'transfer' });
        header = headerOf(message.header);
        verifier.header(header.totalBytes);
        target = await accept(header);
        if (target.resume) verifier.resumeAt(target.resume.offset, target.resume.hash);
        // A write error (ENOSPC) arrives as an event; keep it and fail at the next message.
        target.writable.on('error', (error) => (writeError ??= error));
      } else if (message.data) {
        if (!target) throw new FerryError('BAD_REQUEST', 'data arrived before the header', { phase: 'transfer' });
        if (writeError) throw writeError;
        const bytes = verifier.data(Number(message.data.offset), message.data.data, message.data.crc32);
        if (!target.writable.write(bytes)) await once(target.writable, 'drain');
      } else if (message.trailer) {
        if (!target || !header) throw new FerryError('BAD_REQUEST', 'trailer arrived before the header', { phase: 'transfer' });
        let sha256: string;
        try {
          sha256 = verifier.trailer(Number(message.trailer.totalBytes), message.trailer.sha256);
        } catch (error) {
          await (target.discard ?? target.abort)();
          target = undefined;
          throw error;
        }
        if (writeError) throw writeError;
        await target.finish();
        return { header, bytes: verifier.received, sha256 };
      } else {
        throw new FerryError('BAD_REQUEST', 'empty transfer message', { phase: 'transfer' });
      }
    }
    throw new FerryError('TRANSFER_FAILED', `the stream ended after ${verifier.received} bytes, before the trailer`, {
      phase: 'transfer',
    });
  } catch (error) {
    await target?.abort();
    throw asWriteError(error);
  }
}

function asWriteError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FerryError('DISK_FULL', 'the destination disk is full', { phase: 'transfer', cause: error });
  }
  if (code === 'EEXIST') {
    return new FerryError('BAD_REQUEST', 'this stream of the migration is already being received', { phase: 'transfer', cause: error });
  }
  return error;
}
