// Feeds `podman container restore --import` the archive while it is still arriving.
//
// podman 4.3 opens the archive three times: the CLI reads config.dump to learn the runtime, the
// import reads config.dump and spec.dump to create the container, and then the whole archive is
// extracted before CRIU starts. Each pass reads to the tar's end. So podman gets a symlink that
// points at a fresh FIFO for each open: the first two get a small tar of just config.dump and
// spec.dump (they sit at the front of podman's export), the third gets the archive as it lands
// on disk. The end marker is held back until the whole archive has checked out (`gate`): podman
// cannot finish extracting, let alone start CRIU, on bytes that are not yet verified.
import { constants, openSync } from 'node:fs';
import { mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { FerryError } from '../../common/errors.ts';
import { END_MARKER_BYTES, TarWalker, type TarEntry } from '../transfer/tar-walk.ts';
import type { Inbox } from './inbox.ts';

/** Why the archive cannot be fed while it arrives; the restore then imports the finished file. */
export class NotStreamable extends Error {
  override readonly name = 'NotStreamable';
}

const READ_BYTES = 1024 * 1024;
const POLL_MS = 2;
/** The passes that need only config.dump and spec.dump, before the one that extracts everything. */
const CONFIG_PASSES = 2;
const CONFIG_FILES = ['config.dump', 'spec.dump'];

export interface FeedOptions {
  archivePath: string;
  /** Milestones, for the agent's log: which pass podman opened, when the end was held and released. */
  note?: ((what: string, fields?: Record<string, unknown>) => void) | undefined;
  /** A private directory for the link and the FIFOs; removed by dispose(). */
  dir: string;
  inbox: Inbox;
}

export class ImportFeeder {
  readonly link: string;
  readonly #options: FeedOptions;
  #mini: Buffer | undefined;
  /** How many of podman's opens have been served. */
  opens = 0;
  /** Whether the end of the archive went to podman: from then on it may restore. */
  released = false;

  constructor(options: FeedOptions) {
    this.#options = options;
    this.link = join(options.dir, 'archive.tar');
  }

  #fifo(n: number): string {
    return join(this.#options.dir, `pass-${n}.fifo`);
  }

  /**
   * Waits for config.dump and spec.dump to arrive and makes the link and the FIFOs. Throws
   * NotStreamable when the archive is not a plain tar (compressed) or lacks them.
   */
  async prepare(signal: AbortSignal): Promise<void> {
    const entries = await this.#configEntries(signal);
    const file = await open(this.#options.archivePath, 'r');
    try {
      const parts: Buffer[] = [];
      for (const entry of entries) {
        const part = Buffer.alloc(entry.end - entry.start);
        await file.read(part, 0, part.length, entry.start);
        parts.push(part);
      }
      this.#mini = Buffer.concat([...parts, Buffer.alloc(END_MARKER_BYTES)]);
    } finally {
      await file.close();
    }
    await rm(this.#options.dir, { recursive: true, force: true });
    await mkdir(this.#options.dir, { recursive: true, mode: 0o700 });
    for (let n = 1; n <= CONFIG_PASSES + 1; n += 1) await execa('mkfifo', ['-m', '600', this.#fifo(n)]);
    await this.#point(this.#fifo(1));
  }

  /** The entries of config.dump and spec.dump, once they are on disk whole. */
  async #configEntries(signal: AbortSignal): Promise<TarEntry[]> {
    const found = new Map<string, TarEntry>();
    const walker = new TarWalker((entry) => {
      const name = entry.name.replace(/^\.\//, '');
      if (CONFIG_FILES.includes(name) && entry.type === '0') found.set(name, entry);
    });
    const inbox = this.#options.inbox;
    let file: Awaited<ReturnType<typeof open>> | undefined;
    try {
      let position = 0;
      for (;;) {
        const entries = CONFIG_FILES.map((name) => found.get(name));
        if (entries.every((e) => e !== undefined && e.end <= inbox.written)) return entries as TarEntry[];
        if (walker.length !== undefined || (inbox.verified && position >= inbox.verified.bytes)) {
          throw new NotStreamable(`the archive has no ${CONFIG_FILES.filter((n) => !found.has(n)).join(' or ')}`);
        }
        if (position >= inbox.written) {
          await inbox.until(() => inbox.written > position || inbox.verified !== undefined, signal);
          continue;
        }
        file ??= await open(this.#options.archivePath, 'r');
        const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, inbox.written - position));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        if (!bytesRead) throw new NotStreamable(`the archive file is shorter than the ${inbox.written} bytes written`);
        try {
          walker.push(buffer.subarray(0, bytesRead));
        } catch (error) {
          throw new NotStreamable(`the archive is not a plain tar (${(error as Error).message}); compressed archives are imported once whole`);
        }
        position += bytesRead;
      }
    } finally {
      await file?.close();
    }
  }

  /** Points the link podman was given at `target`, atomically. */
  async #point(target: string): Promise<void> {
    const next = `${this.link}.next`;
    await rm(next, { force: true });
    await symlink(target, next);
    await rename(next, this.link);
  }

  /**
   * Serves podman's opens of the link, in order; resolves once the whole archive went in.
   * `gate` runs when only the end marker is left: it waits for the archive to check out and
   * readies what must be in place before podman goes on (the bind-mounted data).
   */
  async run(gate: () => Promise<void>, signal: AbortSignal): Promise<void> {
    const mini = this.#mini;
    if (!mini) throw new Error('prepare() first');
    for (let pass = 1; pass <= CONFIG_PASSES; pass += 1) {
      const fifo = await openWriter(this.#fifo(pass), signal);
      await this.#point(this.#fifo(pass + 1));
      this.opens = pass;
      this.#options.note?.(`podman opened the archive (pass ${pass} of ${CONFIG_PASSES + 1}: config only)`);
      await pipeline([mini], fifo, { signal });
    }
    const fifo = await openWriter(this.#fifo(CONFIG_PASSES + 1), signal);
    this.opens = CONFIG_PASSES + 1;
    this.#options.note?.(`podman opened the archive (pass ${CONFIG_PASSES + 1} of ${CONFIG_PASSES + 1}: extraction)`, { written: this.#options.inbox.written });
    // No fourth pass is expected: an open now fails in podman instead of reading a stale archive.
    await rm(this.link, { force: true });
    await pipeline(this.#archive(gate, signal), fifo, { signal });
  }

  /** The archive as it lands on disk, holding back the end marker until `gate` has passed. */
  async *#archive(gate: () => Promise<void>, signal: AbortSignal): AsyncGenerator<Buffer> {
    const inbox = this.#options.inbox;
    const walker = new TarWalker();
    const file = await open(this.#options.archivePath, 'r');
    try {
      let position = 0;
      for (;;) {
        const verified = inbox.verified;
        if (this.released && verified && position >= verified.bytes) return;
        let limit = this.released && verified ? verified.bytes : inbox.written;
        const endAt = walker.zeroBlockAt;
        if (!this.released && endAt !== undefined) limit = Math.min(limit, endAt);
        if (position < limit) {
          const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, limit - position));
          const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
          if (!bytesRead) throw new FerryError('INTERNAL', `the archive file is shorter than the ${limit} bytes expected`, { phase: 'restore' });
          let chunk = buffer.subarray(0, bytesRead);
          if (!this.released) {
            walker.push(chunk);
            const end = walker.zeroBlockAt;
            if (end !== undefined && end < position + chunk.length) chunk = chunk.subarray(0, Math.max(0, end - position));
          }
          position += chunk.length;
          if (chunk.length) yield chunk;
          continue;
        }
        if (!this.released && endAt !== undefined && position === endAt) {
          this.#options.note?.('podman has the archive up to its end marker, held back until the whole checks out', { bytes: position, written: inbox.written });
          await gate();
          if (!inbox.verified) throw new FerryError('INTERNAL', 'the gate opened on an archive that has not checked out', { phase: 'restore' });
          this.released = true;
          this.#options.note?.('the archive checked out: podman gets its end and restores');
          continue;
        }
        if (!this.released && verified && position >= verified.bytes) {
          throw new FerryError('INTEGRITY_MISMATCH', 'the archive checked out but has no tar end marker', { phase: 'restore' });
        }
        await inbox.until(() => inbox.written > position || (inbox.verified !== undefined && inbox.verified !== verified), signal);
      }
    } finally {
      await file.close();
    }
  }

  async dispose(): Promise<void> {
    await rm(this.#options.dir, { recursive: true, force: true });
  }
}

/**
 * Opens a FIFO for writing once podman opened it for reading. Non-blocking opens, polled, keep
 * the wait off libuv's thread pool and make it cancellable; the socket writes through the event loop.
 */
async function openWriter(path: string, signal: AbortSignal): Promise<Socket> {
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
