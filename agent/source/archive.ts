// The checkpoint archive's stream. It follows podman's export as podman writes it (the file is
// kept for resume and rollback), waits at the seal (seal.ts) once the export's end marker
// went out, and after a break resumes from what the destination kept, or finds that the
// destination had it all and only the reply was lost.
import { FerryError } from '../../common/errors.ts';
import { STREAM_KIND, type Compression } from '../../common/wire.ts';
import { BufferPool } from '../dataplane/pool.ts';
import type { DataConnection } from '../dataplane/client.ts';
import type { MigrationRecord } from '../journal.ts';
import type { Logger } from '../log.ts';
import type { CheckpointStats } from '../podman/checkpoint.ts';
import { hashPrefix } from '../transfer/hash.ts';
import { metrics, safely } from '../metrics/metrics.ts';
import { followExport } from './follow-export.ts';
import type { Seal } from './seal.ts';
import type { Emit, Sender } from './sender.ts';

export interface ArchiveOptions {
  sender: Sender;
  record: MigrationRecord;
  log: Logger;
  emit: Emit;
  compress: Compression;
  /** podman's checkpoint, writing the export. */
  dumping: Promise<CheckpointStats>;
  /** The stream's first connection, made before the freeze. */
  first: DataConnection;
  destination: string;
  /** performance.now() when the checkpoint began. */
  started: number;
  /** Where the archive's stream waits, its bytes all sent, before its END (seal.ts). */
  seal: Seal;
}

export class ArchiveStream {
  /** Resolves when podman's export appears: CRIU is done, the processes are gone. */
  readonly appeared: Promise<void>;
  /** performance.now() of that moment. */
  appearedAt: number | undefined;
  readonly #options: ArchiveOptions;
  #markAppeared!: () => void;

  constructor(options: ArchiveOptions) {
    this.#options = options;
    this.appeared = new Promise<void>((resolve, reject) => {
      this.#markAppeared = resolve;
      options.sender.halt.addEventListener('abort', () => reject(new FerryError('CANCELLED', 'stopped before the export appeared', { phase: 'checkpoint' })), {
        once: true,
      });
    });
    this.appeared.catch(() => undefined); // whoever waits for it hears of it
  }

  /** The whole archive at the destination, checked there: its size and SHA-256. */
  send(): Promise<{ bytes: number; sha256: string; ms: number }> {
    return this.#options.sender.attempts('checkpoint', (attempt, signal) => this.#attempt(attempt, signal));
  }

  /** One attempt at the stream: from the start, or from what the destination kept. */
  async #attempt(attempt: number, signal: AbortSignal): Promise<{ bytes: number; sha256: string; ms: number }> {
    const { sender, record, emit, log } = this.#options;
    const connection = attempt === 1 ? this.#options.first : await sender.opener.open('checkpoint', 0, { resume: true });
    if ('complete' in connection) {
      // The last attempt's stream arrived whole; only its reply was lost. Same bytes as here?
      const { bytes, sha256 } = connection.complete;
      const ours = (await hashPrefix(record.archivePath, bytes)).digest('hex');
      if (ours !== sha256) {
        throw new FerryError('INTEGRITY_MISMATCH', `${this.#options.destination} holds an archive of ${bytes} bytes whose SHA-256 differs from this host's`, { phase: 'transfer' });
      }
      return { bytes, sha256, ms: Math.round(performance.now() - this.#options.started) };
    }
    const from = connection.resumeFrom;
    if (from) {
      emit({ retrying: { stream: STREAM_KIND.toWire('checkpoint'), attempt, error: '', resumeFrom: from } });
      safely(() => metrics.transfersResumed.inc({ kind: 'checkpoint' }));
    }
    const pool = new BufferPool(1024 * 1024, 4);
    const follow = followExport({
      path: record.archivePath,
      exited: this.#options.dumping,
      from,
      plainTar: this.#options.compress === 'none',
      pool,
      signal,
      onAppeared: () => {
        if (this.appearedAt !== undefined) return;
        this.appearedAt = performance.now();
        this.#markAppeared();
      },
    });
    const seal = this.#options.seal;
    const sealing = async function* () {
      yield* follow;
      // The END frame follows these bytes, once every stream the restore needs is this far (seal.ts).
      log.info({}, "the export's end marker was read");
      await seal.arrive('checkpoint');
    };
    return connection.send({
      source: sealing(),
      pool,
      hash: from ? await hashPrefix(record.archivePath, from) : undefined,
      pace: sender.pace,
      signal,
      onProgress: (bytes) => sender.acknowledged('checkpoint', bytes),
    });
  }
}
