// Reads podman's checkpoint export while podman writes it. podman creates the file only after
// CRIU's dump and then writes the tar progressively; an uncompressed tar ends with its end marker
// well before podman exits (it still tears down the network and unmounts), so the bytes can be on
// their way, and complete, while podman is still busy. The file stays on disk for resuming the
// stream and for rolling back; podman's exit status is checked by the caller before any commit.
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../../common/errors.ts';
import type { BufferPool } from '../dataplane/pool.ts';
import { TarWalker } from '../transfer/tar-walk.ts';

export interface FollowOptions {
  path: string;
  /** Settles when podman's checkpoint exits; rejects with its failure. */
  exited: Promise<unknown>;
  /** Start here: a resumed stream whose first bytes the destination kept. */
  from?: number | undefined;
  /**
   * The export is a plain tar: stop at its end marker rather than at podman's exit. A compressed
   * export has no marker we can see, so it is read until podman has exited.
   */
  plainTar: boolean;
  /** Called once the file exists: CRIU is done and the container's processes are gone. */
  onAppeared?: (() => void) | undefined;
  /** Buffers to read into, given back by whoever consumes the chunks; without one, fresh ones. */
  pool?: BufferPool | undefined;
  signal?: AbortSignal | undefined;
}

const READ_BYTES = 1024 * 1024;
/** How often to look again at a file that has not grown: podman writes in 32 KiB steps. */
const POLL_MS = 2;
/** Bytes worth a chunk while podman is still writing, unless they have waited GATHER_POLLS polls. */
const GATHER_BYTES = 512 * 1024;
const GATHER_POLLS = 2;

/** Yields the export's bytes from `from` to its end, as podman writes them. */
export async function* followExport(options: FollowOptions): AsyncGenerator<Buffer> {
  const { path, signal, pool } = options;
  let exit: { error?: unknown } | undefined;
  options.exited.then(
    () => (exit = {}),
    (error: unknown) => (exit = { error }),
  );
  const file = await appeared(path, () => exit, signal);
  options.onAppeared?.();
  const walker = options.plainTar ? new TarWalker() : undefined;
  try {
    let position = 0;
    const from = options.from ?? 0;
    // A resumed stream: walk the bytes already sent, so the end marker is still recognised.
    while (walker && position < from) {
      const exitedBefore = exit;
      const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, from - position));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead) {
        walker.push(buffer.subarray(0, bytesRead));
        position += bytesRead;
      } else if (exitedBefore) {
        throw new FerryError('INTERNAL', `the export ${path} is shorter (${position} bytes) than what was already sent (${from})`);
      } else {
        await sleep(POLL_MS, undefined, { signal });
      }
    }
    position = from;
    for (;;) {
      if (walker?.length !== undefined && position >= walker.length) return;
      const buffer = pool ? await pool.take(signal) : Buffer.allocUnsafe(READ_BYTES);
      // Fill the buffer while podman writes, a little at a time (it writes in 32 KiB steps), but
      // not for long: fewer, larger frames cost less at both ends; waiting costs downtime.
      let filled = 0;
      let ended = false;
      for (let polls = 0; ; ) {
        // Whether podman had exited before this read: then the read sees everything it wrote.
        const exitedBefore = exit;
        const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, position + filled);
        walker?.push(buffer.subarray(filled, filled + bytesRead));
        filled += bytesRead;
        // The archive is whole as soon as its end marker is: nothing more to wait for.
        if (filled === buffer.length || walker?.length !== undefined) break;
        if (!bytesRead && exitedBefore) {
          if (exitedBefore.error !== undefined) {
            pool?.give(buffer);
            throw exitedBefore.error;
          }
          ended = true;
          break;
        }
        if (filled >= GATHER_BYTES || (filled && polls >= GATHER_POLLS)) break;
        if (!bytesRead) {
          polls += filled ? 1 : 0;
          await sleep(POLL_MS, undefined, { signal }).catch((error: unknown) => {
            pool?.give(buffer);
            throw error;
          });
        }
      }
      let chunk = buffer.subarray(0, filled);
      // Nothing past the end marker: a writer's padding is not part of the archive.
      if (walker?.length !== undefined) chunk = chunk.subarray(0, Math.max(0, walker.length - position));
      position += chunk.length;
      if (chunk.length) yield chunk;
      else pool?.give(buffer);
      if (ended) {
        if (walker?.length === undefined && walker) {
          throw new FerryError('CHECKPOINT_FAILED', `podman's export ${path} ended at ${position} bytes without the tar end marker`, { phase: 'checkpoint' });
        }
        return;
      }
    }
  } finally {
    await file.close();
  }
}

/** Waits for podman to create the export; fails with podman's error if it exits first. */
async function appeared(path: string, exit: () => { error?: unknown } | undefined, signal: AbortSignal | undefined): Promise<FileHandle> {
  for (;;) {
    const exitedBefore = exit();
    try {
      return await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (exitedBefore) {
      throw exitedBefore.error ?? new FerryError('CHECKPOINT_FAILED', `podman's checkpoint exited without writing its export ${path}`, { phase: 'checkpoint' });
    }
    await sleep(POLL_MS, undefined, { signal });
  }
}
