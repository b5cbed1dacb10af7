// The SHA-256 state of a file's first bytes: where a resumed stream picks its whole-stream hash
// up, at either end, without sending those bytes again.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const READ_BYTES = 1024 * 1024;

export async function hashPrefix(path: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: READ_BYTES })) hash.update(chunk as Buffer);
  }
  return hash;
}
