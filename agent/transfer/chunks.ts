// The wire format of an archive transfer: header, data chunks that carry their offset, and a
// trailer with the total size and SHA-256. Both ends check offsets and the hash.
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { FerryError } from '../../common/errors.ts';
import type { TransferChunk } from '../../proto/gen/ferry/v1/TransferChunk.ts';

/**
 * Fault injection for tests of the receiving side: FERRY_FAULT_CORRUPT_CHUNK=N flips one byte of
 * the Nth data message this process sends (after its CRC-32 was computed), once.
 */
let corruptChunk = Number(process.env.FERRY_FAULT_CORRUPT_CHUNK ?? 0);

/** Bytes per data message; gRPC's message limit is set well above it. */
export const CHUNK_BYTES = 1024 * 1024;

export type StreamKind = 'checkpoint' | 'image' | 'data';
export const STREAM_KINDS: readonly StreamKind[] = ['checkpoint', 'image', 'data'];

export interface ArchiveHeader {
  migrationId: string;
  sourceHost: string;
  /** -1 when the sender cannot know it in advance (a tar made on the fly). */
  totalBytes: number;
  kind: StreamKind;
  round: number;
  /** A checkpoint transfer that continues a broken one: the bytes before this offset are there. */
  resumeFrom?: number | undefined;
}

/** Size unknown until the trailer. */
export const UNKNOWN_SIZE = -1;

/**
 * Wraps a byte stream into transfer messages, hashing as it goes. When resuming, `source` starts
 * at header.resumeFrom and `hash` has already taken in the bytes before it.
 */
export async function* toChunks(
  header: ArchiveHeader,
  source: AsyncIterable<Buffer>,
  onBytes: (sent: number) => void = () => {},
  hash: Hash = createHash('sha256'),
): AsyncGenerator<TransferChunk> {
  let offset = header.resumeFrom ?? 0;
  yield { header };
  for await (const buf of source) {
    for (let start = 0; start < buf.length; start += CHUNK_BYTES) {
      const data = buf.subarray(start, start + CHUNK_BYTES);
      hash.update(data);
      const checksum = crc32(data);
      if (corruptChunk > 0 && --corruptChunk === 0) {
        const damaged = Buffer.from(data);
        damaged[0] = (damaged[0] ?? 0) ^ 0xff;
        yield { data: { offset, data: damaged, crc32: checksum } };
      } else {
        yield { data: { offset, data, crc32: checksum } };
      }
      offset += data.length;
      onBytes(offset);
    }
  }
  yield { trailer: { totalBytes: offset, sha256: hash.digest('hex') } };
}

/** Checks messages as they arrive: order, offsets, size and finally the hash. */
export class ChunkVerifier {
  #hash: Hash = createHash('sha256');
  #received = 0;
  #expected: number | undefined;
  #done = false;

  get received(): number {
    return this.#received;
  }

  header(totalBytes: number): void {
    if (this.#expected !== undefined) throw integrity('a second header arrived');
    if (!Number.isSafeInteger(totalBytes) || totalBytes < UNKNOWN_SIZE) throw new FerryError('BAD_REQUEST', `invalid archive size ${totalBytes}`);
    this.#expected = totalBytes;
  }

  /** Continues after `offset` bytes already stored, whose hash `hash` has taken in. */
  resumeAt(offset: number, hash: Hash): void {
    this.#received = offset;
    this.#hash = hash;
  }

  /** Returns the bytes to write once they are known to belong at this offset and intact. */
  data(offset: number, data: Buffer, checksum: number): Buffer {
    if (this.#expected === undefined) throw new FerryError('BAD_REQUEST', 'data arrived before the header');
    if (this.#done) throw integrity('data arrived after the trailer');
    if (offset !== this.#received) throw integrity(`chunk at offset ${offset} arrived when ${this.#received} was expected`);
    if (this.#expected !== UNKNOWN_SIZE && this.#received + data.length > this.#expected) {
      throw integrity(`more data than the ${this.#expected} bytes announced`);
    }
    if (crc32(data) !== checksum) throw integrity(`chunk at offset ${offset} is corrupted (CRC-32 mismatch)`);
    this.#hash.update(data);
    this.#received += data.length;
    return data;
  }

  /** Checks the trailer against what arrived; returns the hex SHA-256. */
  trailer(totalBytes: number, sha256: string): string {
    if (this.#expected === undefined) throw new FerryError('BAD_REQUEST', 'trailer arrived before the header');
    this.#done = true;
    if (totalBytes !== this.#received || (this.#expected !== UNKNOWN_SIZE && totalBytes !== this.#expected)) {
      throw integrity(`size mismatch: announced ${this.#expected}, trailer ${totalBytes}, received ${this.#received}`);
    }
    const actual = this.#hash.digest('hex');
    if (actual !== sha256) throw integrity(`SHA-256 mismatch: sender ${sha256}, received ${actual}`);
    return actual;
  }

  get complete(): boolean {
    return this.#done;
  }
}

function integrity(message: string): FerryError {
  return new FerryError('INTEGRITY_MISMATCH', message, { phase: 'transfer' });
}
