// The SHA-256 state of a file's first bytes: where a resumed stream picks its whole-stream hash
// up, at either end, without sending those bytes again.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const READ_BYTES = 1024 * 1024;

/** The SHA-256 of `path`'s first `length` bytes; with `into`, those bytes are added to that hash instead. */
export async function hashPrefix(path: string, length: number, into?: Hash): Promise<Hash> {
  const hash = into ?? createHash('sha256');
  if (length > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: READ_BYTES })) hash.update(chunk as Buffer);
  }
  return hash;
}
