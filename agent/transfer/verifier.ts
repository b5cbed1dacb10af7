// What a byte stream between agents is, and how the receiving end checks it: every chunk at the
// offset it claims and intact (CRC-32, unless TLS vouches for it), no more than announced, and the whole stream against the
// sender's size and SHA-256 at the end.
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { FerryError } from '../../common/errors.ts';

/** Size unknown until the end (a tar made on the fly, an export podman is still writing). */
export const UNKNOWN_SIZE = -1;

/** Checks chunks as they arrive: order, offsets, size and finally the hash. */
export class ChunkVerifier {
  #hash: Hash;
  #received: number;
  readonly #expected: number;
  readonly #crc32: boolean;
  #done = false;

  /**
   * `totalBytes` may be UNKNOWN_SIZE; a resumed stream starts at `offset` with `hash` having taken
   * in the bytes before. `crc32: false`: the chunks' CRC-32s are not checked (TLS checked them).
   */
  constructor(totalBytes: number, resume?: { offset: number; hash: Hash }, options: { crc32?: boolean } = {}) {
    if (!Number.isSafeInteger(totalBytes) || totalBytes < UNKNOWN_SIZE) throw new FerryError('BAD_REQUEST', `invalid stream size ${totalBytes}`);
    this.#expected = totalBytes;
    this.#crc32 = options.crc32 ?? true;
    this.#received = resume?.offset ?? 0;
    this.#hash = resume?.hash ?? createHash('sha256');
  }

  get received(): number {
    return this.#received;
  }

  get complete(): boolean {
    return this.#done;
  }

  /**
   * Returns the bytes to store once they are known to belong at this offset and intact. They may
   * come in pieces (as a socket delivered them): the checks run over the pieces, nothing is copied.
   */
  data(offset: number, data: Buffer | readonly Buffer[], checksum: number): readonly Buffer[] {
    const parts = Buffer.isBuffer(data) ? [data] : data;
    let length = 0;
    let crc = 0;
    for (const part of parts) {
      length += part.length;
      if (this.#crc32) crc = crc32(part, crc);
    }
    if (this.#done) throw integrity('data arrived after the end');
    if (offset !== this.#received) throw integrity(`chunk at offset ${offset} arrived when ${this.#received} was expected`);
    if (this.#expected !== UNKNOWN_SIZE && this.#received + length > this.#expected) {
      throw integrity(`more data than the ${this.#expected} bytes announced`);
    }
    if (this.#crc32 && crc !== checksum) throw integrity(`chunk at offset ${offset} is corrupted (CRC-32 mismatch)`);
    for (const part of parts) this.#hash.update(part);
    this.#received += length;
    return parts;
  }

  /** Checks the end against what arrived; returns the hex SHA-256. */
  end(totalBytes: number, sha256: string): string {
    if (this.#done) throw integrity('a second end arrived');
    this.#done = true;
    if (totalBytes !== this.#received || (this.#expected !== UNKNOWN_SIZE && totalBytes !== this.#expected)) {
      throw integrity(`size mismatch: announced ${this.#expected}, end ${totalBytes}, received ${this.#received}`);
    }
    const actual = this.#hash.digest('hex');
    if (actual !== sha256) throw integrity(`SHA-256 mismatch: sender ${sha256}, received ${actual}`);
    return actual;
  }
}

function integrity(message: string): FerryError {
  return new FerryError('INTEGRITY_MISMATCH', message, { phase: 'transfer' });
}
