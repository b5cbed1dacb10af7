// Destination side of a transfer: checks every message (header first, offsets in order, size
// and SHA-256 at the end) and writes the bytes to a 0600 file. A transfer that fails for any
// reason leaves no partial file behind.
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { FerryError } from '../../common/errors.ts';
import type { TransferChunk__Output } from '../../proto/gen/ferry/v1/TransferChunk.ts';
import { ChunkVerifier, type ArchiveHeader } from './chunks.ts';

export interface ReceiveResult {
  migrationId: string;
  bytes: number;
  sha256: string;
}

/**
 * `accept` is asked, once the header is in, where this migration's archive goes; it throws
 * when the migration is unknown or not expecting an archive.
 */
export async function receiveArchive(
  messages: AsyncIterable<TransferChunk__Output>,
  accept: (header: ArchiveHeader) => Promise<string>,
): Promise<ReceiveResult> {
  const verifier = new ChunkVerifier();
  let header: ArchiveHeader | undefined;
  let path: string | undefined;
  let out: WriteStream | undefined;
  let writeError: unknown;
  try {
    for await (const message of messages) {
      if (message.header) {
        if (header) throw new FerryError('BAD_REQUEST', 'a second header arrived', { phase: 'transfer' });
        header = {
          migrationId: message.header.migrationId,
          sourceHost: message.header.sourceHost,
          totalBytes: Number(message.header.totalBytes),
        };
        verifier.header(header.totalBytes);
        path = await accept(header);
        out = createWriteStream(path, { mode: 0o600, flags: 'wx' });
        // A write error (ENOSPC) arrives as an event; keep it and fail at the next message.
        out.on('error', (error) => (writeError ??= error));
        await once(out, 'open');
      } else if (message.data) {
        if (!out) throw new FerryError('BAD_REQUEST', 'data arrived before the header', { phase: 'transfer' });
        if (writeError) throw writeError;
        const bytes = verifier.data(Number(message.data.offset), message.data.data);
        if (!out.write(bytes)) await once(out, 'drain');
      } else if (message.trailer) {
        if (!out || !header) throw new FerryError('BAD_REQUEST', 'trailer arrived before the header', { phase: 'transfer' });
        const sha256 = verifier.trailer(Number(message.trailer.totalBytes), message.trailer.sha256);
        out.end();
        await finished(out);
        return { migrationId: header.migrationId, bytes: verifier.received, sha256 };
      } else {
        throw new FerryError('BAD_REQUEST', 'empty transfer message', { phase: 'transfer' });
      }
    }
    throw new FerryError('TRANSFER_FAILED', `the stream ended after ${verifier.received} bytes, before the trailer`, {
      phase: 'transfer',
    });
  } catch (error) {
    out?.destroy();
    if (path) await rm(path, { force: true });
    throw asWriteError(error);
  }
}

function asWriteError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FerryError('DISK_FULL', 'the destination disk is full', { phase: 'transfer', cause: error });
  }
  if (code === 'EEXIST') {
    return new FerryError('BAD_REQUEST', 'an archive for this migration is already being received', { phase: 'transfer', cause: error });
  }
  return error;
}
