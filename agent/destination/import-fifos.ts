// podman's end of a streamed import (import-feed.ts): one FIFO per pass podman makes over the
// archive, written through the event loop, and the release of a reader an earlier agent left.
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileHeader } from '../transfer/tar-header.ts';
import { BLOCK } from '../transfer/tar-walk.ts';

/** The passes that need only config.dump and spec.dump, before the one that extracts everything. */
export const CONFIG_PASSES = 2;

/**
 * An empty file that ends every streamed import, after the archive's own entries: podman waits
 * for the gate inside its header. It lands in the container's directory, which podman's export
 * does not take whole, so it never travels on.
 */
export const GATE_ENTRY = 'ferry-gate';

/** The gate entry's tar header; podman is held by being given all of it but its last byte. */
export function gateHeader(): Buffer {
  return fileHeader(GATE_ENTRY, 0, Date.now());
}

const POLL_MS = 2;

/** The FIFO podman's pass `n` reads, in the feed's private directory. */
export function passFifo(dir: string, n: number): string {
  return join(dir, `pass-${n}.fifo`);
}

/** Writes chunks in one go (corked: one writev) and resolves once the kernel has the last. */
export function writtenAll(socket: Socket, chunks: readonly Buffer[]): Promise<void> {
  if (!chunks.length) return Promise.resolve();
  socket.cork();
  const last = chunks.length - 1;
  const done = new Promise<void>((resolve, reject) => {
    chunks.forEach((chunk, i) => socket.write(chunk, i === last ? (error?: Error | null) => (error ? reject(error) : resolve()) : undefined));
  });
  socket.uncork();
  return done;
}

/**
 * Opens a FIFO for writing once podman opened it for reading. Non-blocking opens, polled, keep
 * the wait off libuv's thread pool and make it cancellable; the socket writes through the event loop.
 */
export async function openWriter(path: string, signal: AbortSignal): Promise<Socket> {
  for (;;) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      return new Socket({ fd, readable: false, writable: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error;
    }
    await sleep(POLL_MS, undefined, { signal });
  }
}

/**
 * Frees a podman import that an earlier life of this agent was feeding: podman runs in a session
 * of its own (podman/podman.ts, detached), so it outlives an agent killed with its process group,
 * and one that was between two passes sits in open(2) on a FIFO that nobody will write, holding
 * its container's lock: every later podman command on that container (the recovery's inspect, the
 * rollback's rm) would wait behind it for ever. Each FIFO of `dir` that a reader waits on gets a
 * header cut short and its end, which podman's tar reader refuses as an unexpected EOF, so the
 * import fails and cleans up after itself as it does for any archive cut inside a header (what
 * test/e2e/cut-off.test.ts measures). Returns how many readers were released.
 */
export async function releaseOrphanedImport(dir: string): Promise<number> {
  let released = 0;
  for (let n = 1; n <= CONFIG_PASSES + 1; n += 1) {
    let fd: number;
    try {
      fd = openSync(passFifo(dir, n), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      continue; // ENXIO: nobody reads it; ENOENT: never made
    }
    const fifo = new Socket({ fd, readable: false, writable: true });
    await new Promise<void>((resolve) => fifo.end(gateHeader().subarray(0, BLOCK - 1), () => resolve()));
    fifo.destroy();
    released += 1;
  }
  return released;
}
