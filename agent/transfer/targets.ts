// Where the verified bytes of a stream go on the destination: a 0600 file for archives and
// images, or a consumer such as the data extractor. A stream that fails aborts its target, which
// keeps what a resumed stream can build on and removes the rest.
import { open, rm, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { PassThrough, Writable } from 'node:stream';
import { BufferPool } from '../dataplane/pool.ts';

export interface Target {
  /** Verified bytes go here; the pipeline ends it with the stream. */
  writable: Writable;
  /** After the writable finished: resolves once what consumes the bytes is done with them too. */
  settled(): Promise<void>;
  /** The stream broke: keep what a resumed stream can build on, drop the rest. */
  abort(): Promise<void>;
  /** The bytes are wrong as a whole: keep nothing. */
  discard(): Promise<void>;
  /**
   * Buffers the receiver copies the verified bytes into before writing them here; the target
   * gives each back once it is done with it. Without this, the socket's own buffers (one per
   * TLS record) would wait in the sink's queue while a write runs, outlive V8's young generation
   * and be freed only by full collections: measured, 60 of them and 2.9 s of CPU on the
   * destination per gigabyte, in the freeze. Copied at once, those buffers die young.
   */
  slabs?: BufferPool | undefined;
}

/** Bytes the sink may hold while a write is under way: what arrives meanwhile goes in one writev. */
const FILE_SINK_BYTES = 8 * 1024 * 1024;
/**
 * The receiver's slabs for a file: a few batches' worth. When they are all out, the receiver
 * waits for one, and that wait is the stream's backpressure: two streams side by side (the
 * archive and the pages) then hold 12 MiB between them, not twice the sink's 8 MiB.
 */
export const SLAB_BYTES = 1024 * 1024;
const SLABS = 6;

/**
 * Writes to a file at a position, batching what queued up while the previous write ran into one
 * writev: one system call per several frames rather than one per TLS record.
 */
export class FileSink extends Writable {
  readonly #file: FileHandle;
  #position: number;
  readonly #onWritten: (position: number) => void;
  /** What the receiver copies into; each batch goes back once stored (and handed on). */
  readonly slabs = new BufferPool(SLAB_BYTES, SLABS);

  constructor(file: FileHandle, position: number, onWritten: (position: number) => void) {
    super({ highWaterMark: FILE_SINK_BYTES });
    this.#file = file;
    this.#position = position;
    this.#onWritten = onWritten;
  }

  /** Where the next byte goes: the file's length so far. */
  protected get position(): number {
    return this.#position;
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    this.store(buffers).then(
      () => {
        // Done with them (on disk, and with podman where a sink hands them on): the slabs are free.
        for (const buffer of buffers) this.slabs.give(buffer);
        callback();
      },
      callback,
    );
  }

  /** Puts a batch on disk; a sink that also hands the bytes on does it around this. */
  protected async store(buffers: Buffer[]): Promise<void> {
    let pending = buffers;
    while (pending.length) {
      const { bytesWritten } = await this.#file.writev(pending, this.#position);
      this.#position += bytesWritten;
      this.#onWritten(this.#position);
      pending = skip(pending, bytesWritten);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // FileHandle.close waits for a write under way; the file then holds exactly what was written.
    this.#file.close().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError as Error)),
    );
  }
}

/** The buffers left after the first `bytes` of them. */
function skip(buffers: Buffer[], bytes: number): Buffer[] {
  const rest: Buffer[] = [];
  let left = bytes;
  for (const buffer of buffers) {
    if (left >= buffer.length) {
      left -= buffer.length;
    } else {
      rest.push(left ? buffer.subarray(left) : buffer);
      left = 0;
    }
  }
  return rest;
}

export interface FileTargetOptions {
  /** Keep every written byte when the stream breaks, so the sender can resume from the size. */
  resumable?: boolean | undefined;
  /** Bytes already in the file (it was cut to this length). */
  resumeFrom?: number | undefined;
  /** Called after each write with the file's length so far. */
  onWritten?: ((bytes: number) => void) | undefined;
  /** A sink of its own that writes the file the same way (the archive's, which also feeds podman). */
  sink?: ((file: FileHandle, position: number) => FileSink) | undefined;
}

/** A 0600 file; unless resumable, removed again if the stream fails. */
export async function fileTarget(path: string, options: FileTargetOptions = {}): Promise<Target> {
  const from = options.resumeFrom ?? 0;
  const file = await open(path, from > 0 ? 'r+' : 'w', 0o600);
  const sink = options.sink?.(file, from) ?? new FileSink(file, from, options.onWritten ?? (() => {}));
  const closed = new Promise<void>((resolve) => sink.once('close', resolve));
  const discard = async () => {
    sink.destroy();
    await closed;
    await rm(path, { force: true });
  };
  return {
    writable: sink,
    slabs: sink.slabs,
    settled: () => closed,
    abort: options.resumable
      ? async () => {
          sink.destroy();
          await closed;
        }
      : discard,
    discard,
  };
}

/** Feeds the bytes to `consume` as they arrive (e.g. tar extraction into a staging path). */
export function streamTarget(consume: (input: AsyncIterable<Buffer>) => Promise<unknown>): Target {
  const pass = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const consumed = consume(pass);
  consumed.catch(() => undefined); // surfaced by settled() or swallowed by abort()
  const abort = async () => {
    pass.destroy();
    await consumed.catch(() => undefined);
  };
  return {
    writable: pass,
    settled: async () => {
      await finished(pass, { readable: false }).catch(() => undefined);
      await consumed;
    },
    abort,
    discard: abort,
  };
}
