// Feeds `podman container restore --import` the archive while it is still arriving.
//
// podman 4.3 opens the archive three times: the CLI reads config.dump to learn the runtime, the
// import reads config.dump and spec.dump to create the container, and then the whole archive is
// extracted before CRIU starts. Each pass reads to the tar's end. So podman gets a symlink that
// points at a fresh FIFO for each open: the first two get a small tar of just config.dump and
// spec.dump (they sit at the front of podman's export), the third gets the archive as it lands
// on disk. The end marker is held back until the whole archive has checked out (`gate`): podman
// cannot finish extracting, let alone start CRIU, on bytes that are not yet verified; podman
// waits for it inside the header of one more, empty, entry (GATE_ENTRY), so that a pipe closed
// early is an error to it rather than an end.
import { mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { FerryError } from '../../common/errors.ts';
import { BLOCK, END_MARKER_BYTES, TarWalker, type TarEntry } from '../transfer/tar-walk.ts';
import { checkArchiveEntry, refusedArchive } from './archive-policy.ts';
import type { Inbox, Relay } from './inbox.ts';
import { PAGES_ENTRY } from './pages.ts';
import { CONFIG_PASSES, gateHeader, openWriter, passFifo, writtenAll } from './import-fifos.ts';

/** Why the archive cannot be fed while it arrives; the restore then imports the finished file. */
export class NotStreamable extends Error {
  override readonly name = 'NotStreamable';
}

const READ_BYTES = 1024 * 1024;
const CONFIG_FILES = ['config.dump', 'spec.dump'];

export interface FeedOptions {
  archivePath: string;
  /** Milestones, for the agent's log: which pass podman opened, when the end was held and released. */
  note?: ((what: string, fields?: Record<string, unknown>) => void) | undefined;
  /** A private directory for the link and the FIFOs; removed by dispose(). */
  dir: string;
  inbox: Inbox;
  /**
   * Entries this host adds just before the archive's end marker, once the gate has passed (the
   * pages that came beside the archive); told whether the archive holds pages itself.
   */
  addEntries?: ((archiveHasPages: boolean, write: (chunks: Buffer[]) => Promise<void>) => Promise<void>) | undefined;
  /** Judges config.dump and spec.dump (the admission policy) before podman is served a byte; throws to refuse. */
  admit?: ((configDump: Buffer, specDump: Buffer) => Promise<void>) | undefined;
}

export class ImportFeeder {
  readonly link: string;
  readonly #options: FeedOptions;
  #mini: Buffer | undefined;
  /** How many of podman's opens have been served. */
  opens = 0;
  /**
   * Where the feed stands: podman's config-only passes, its extraction with the archive's end
   * held back, the end released (from then on podman may restore), all of it written.
   */
  stage: 'prepared' | 'config' | 'extracting' | 'released' | 'done' = 'prepared';
  /** Bytes podman took from the stream's memory rather than reading them back from the file. */
  relayedBytes = 0;
  /** The archive holds memory pages of its own (they did not come beside it). */
  archiveHasPages = false;

  constructor(options: FeedOptions) {
    this.#options = options;
    this.link = join(options.dir, 'archive.tar');
  }

  /** Whether the end of the archive went to podman: from then on it may restore. */
  get released(): boolean {
    return this.stage === 'released' || this.stage === 'done';
  }

  #fifo(n: number): string {
    return passFifo(this.#options.dir, n);
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
      const contents: Buffer[] = [];
      for (const entry of entries) {
        const part = Buffer.alloc(entry.end - entry.start);
        await file.read(part, 0, part.length, entry.start);
        parts.push(part);
        // The entry's bytes follow its header(s), padded to a block.
        const dataAt = part.length - Math.ceil(entry.size / BLOCK) * BLOCK;
        contents.push(part.subarray(dataAt, dataAt + entry.size));
      }
      await this.#options.admit?.(contents[0] as Buffer, contents[1] as Buffer);
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
      checkArchiveEntry(entry);
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
          if (refusedArchive(error)) throw error;
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
  async run(gate: (archiveHasPages: boolean) => Promise<void>, signal: AbortSignal): Promise<void> {
    const mini = this.#mini;
    if (!mini) throw new Error('prepare() first');
    for (let pass = 1; pass <= CONFIG_PASSES; pass += 1) {
      const fifo = await openWriter(this.#fifo(pass), signal);
      await this.#point(this.#fifo(pass + 1));
      this.opens = pass;
      this.stage = 'config';
      this.#options.note?.(`podman opened the archive (pass ${pass} of ${CONFIG_PASSES + 1}: config only)`);
      await pipeline([mini], fifo, { signal });
    }
    const fifo = await openWriter(this.#fifo(CONFIG_PASSES + 1), signal);
    this.opens = CONFIG_PASSES + 1;
    this.stage = 'extracting';
    this.#options.note?.(`podman opened the archive (pass ${CONFIG_PASSES + 1} of ${CONFIG_PASSES + 1}: extraction)`, { written: this.#options.inbox.written });
    // No fourth pass is expected: an open now fails in podman instead of reading a stale archive.
    await rm(this.link, { force: true });
    const stopped = () => new FerryError('CANCELLED', 'the import was stopped', { phase: 'restore', cause: signal.reason });
    const stop = () => fifo.destroy(stopped());
    signal.addEventListener('abort', stop, { once: true });
    try {
      await this.#feedArchive(fifo, gate, signal);
    } catch (error) {
      fifo.destroy();
      // Whatever the loop tripped over first (a write to the destroyed pipe, the wait), the
      // reason is the stop.
      throw signal.aborted ? stopped() : error;
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /**
   * The archive, into podman's extraction pass, holding its end marker back until `gate` has
   * passed. The bytes come from the file as they land, or, once podman has read all of the file,
   * from the stream's memory right after they are on disk (a relay the archive's sink takes up
   * when it is at the same point, and lets go when the stream stops).
   * Reading the file, two buffers take turns (a gigabyte of fresh buffers would cost a full
   * garbage collection every 64 MB); one is read into only once the socket's write callback said
   * the kernel has its last bytes, which is why this loop waits on writes itself.
   * One function, over 80 lines: the loop, the relay and `consume` share where the feed stands
   * (position, the held end, the pipe's failure), which must change in one place and one order
   * whichever of them moves it; the gate step, which only reads it, is #releaseEnd.
   */
  async #feedArchive(fifo: Socket, gate: (archiveHasPages: boolean) => Promise<void>, signal: AbortSignal): Promise<void> {
    const inbox = this.#options.inbox;
    // Every header is checked as it goes by, before podman gets it (consume pushes, then writes).
    const walker = new TarWalker((entry) => {
      checkArchiveEntry(entry);
      if (PAGES_ENTRY.test(entry.name)) this.archiveHasPages = true;
    });
    /** Bytes taken so far, from the file or the relay: fed to podman, or held back. */
    let position = 0;
    /** The end marker and what follows it, until the gate has passed. */
    const held: Buffer[] = [];
    /** Why feeding must stop: the pipe to podman broke. */
    let failure: Error | undefined;
    /** The part of bytes (which start at `position`) that podman may have now; the rest is held. */
    const consume = (chunk: Buffer): Buffer => {
      let now = chunk;
      if (!this.released) {
        walker.push(chunk);
        const end = walker.zeroBlockAt;
        if (end !== undefined && end < position + chunk.length) {
          const cut = Math.max(0, end - position);
          held.push(Buffer.from(chunk.subarray(cut)));
          now = chunk.subarray(0, cut);
        }
      }
      position += chunk.length;
      return now;
    };
    // The pipe's errors (podman gone: EPIPE; the import stopped) are answered by the write in
    // flight, or by the loop's next turn: none may go unhandled and take the agent down with it.
    fifo.on('error', (error) => {
      failure ??= error;
      inbox.poke();
    });
    /** Whether the sink hands the bytes over: the file is not read meanwhile. */
    let attached = false;
    const relay: Relay = {
      get position() {
        return position;
      },
      attach: () => {
        attached = true;
      },
      detach: () => {
        attached = false;
        inbox.poke();
      },
      take: async (parts) => {
        if (failure) throw failure;
        try {
          // A frame's pieces go to the pipe together (one writev), and are waited for once.
          const now = parts.map(consume).filter((part) => part.length);
          for (const part of parts) this.relayedBytes += part.length;
          if (now.length) await writtenAll(fifo, now);
        } catch (error) {
          failure ??= error as Error;
          throw error;
        } finally {
          inbox.poke();
        }
      },
    };
    const buffers = [Buffer.allocUnsafe(READ_BYTES), Buffer.allocUnsafe(READ_BYTES)];
    const writes: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
    let turn = 0;
    const file = await open(this.#options.archivePath, 'r');
    inbox.offerRelay(relay);
    try {
      for (;;) {
        if (failure) throw failure;
        const verified = inbox.verified;
        if (this.released && verified && position >= verified.bytes) break;
        // What the file holds beyond what podman has: read it (unless the sink hands it over).
        if (!attached && position < inbox.written) {
          await writes[turn]; // this buffer's last bytes are with the kernel
          const buffer = buffers[turn] as Buffer;
          const { bytesRead } = await file.read(buffer, 0, Math.min(READ_BYTES, inbox.written - position), position);
          if (!bytesRead) throw new FerryError('INTERNAL', `the archive file is shorter than the ${inbox.written} bytes written`, { phase: 'restore' });
          const now = consume(buffer.subarray(0, bytesRead));
          if (now.length) {
            writes[turn] = writtenAll(fifo, [now]);
            writes[turn]?.catch(() => undefined); // awaited below or at this buffer's next turn
            turn ^= 1;
          }
          if (position === inbox.written) inbox.poke(); // caught up with the file: the sink may hand over
          continue;
        }
        // Podman has everything up to the end marker: only the gate stands before its end.
        if (!this.released && walker.zeroBlockAt !== undefined) {
          this.#options.note?.('podman has the archive up to its end marker, held back until the whole checks out', { bytes: walker.zeroBlockAt, written: inbox.written, relayed: this.relayedBytes });
          await Promise.all(writes);
          await this.#releaseEnd(fifo, gate, held);
          continue;
        }
        if (!this.released && verified && position >= verified.bytes) {
          throw new FerryError('INTEGRITY_MISMATCH', 'the archive checked out but has no tar end marker', { phase: 'restore' });
        }
        const before = { position, written: inbox.written, verified };
        await inbox.until(
          () => failure !== undefined || position !== before.position || inbox.written !== before.written || inbox.verified !== before.verified,
          signal,
        );
      }
      await Promise.all(writes);
      await new Promise<void>((resolve, reject) => fifo.end((error?: Error | null) => (error ? reject(error) : resolve())));
      this.stage = 'done';
      if (this.relayedBytes) this.#options.note?.('podman took part of the archive from the stream\'s memory', { fromFile: position - this.relayedBytes, relayed: this.relayedBytes });
    } finally {
      if (inbox.relay === relay) inbox.offerRelay(undefined);
      await file.close();
    }
  }

  /**
   * The gate, then the end of the archive. The wait happens inside a header, never at a block
   * boundary: there, podman's tar reader would take the pipe's close (the import stopped, this
   * agent killed) for the archive's end and restore what it has, an archive that never checked
   * out, setting up the container's network before CRIU fails on it or podman is killed (an
   * address left allocated for good). Mid-header, a close is an unexpected EOF: the extraction
   * fails and nothing is set up.
   */
  async #releaseEnd(fifo: Socket, gate: (archiveHasPages: boolean) => Promise<void>, held: Buffer[]): Promise<void> {
    const gateEntry = gateHeader();
    await writtenAll(fifo, [gateEntry.subarray(0, BLOCK - 1)]);
    await gate(this.archiveHasPages);
    if (!this.#options.inbox.verified) throw new FerryError('INTERNAL', 'the gate opened on an archive that has not checked out', { phase: 'restore' });
    await writtenAll(fifo, [gateEntry.subarray(BLOCK - 1)]);
    await this.#options.addEntries?.(this.archiveHasPages, (chunks) => writtenAll(fifo, chunks));
    this.stage = 'released';
    this.#options.note?.('the archive checked out: podman gets its end and restores');
    await writtenAll(fifo, held.splice(0));
  }

  async dispose(): Promise<void> {
    await rm(this.#options.dir, { recursive: true, force: true });
  }
}
