// The pages' stream (pages.ts) as the source sends it: opened before the freeze, fed while CRIU
// writes, resumed after a break from what the destination kept, or found complete when only the
// reply was lost. Dropped, not failed, when the pages turned out to be in podman's export.
import { FerryError } from '../../common/errors.ts';
import { STREAM_KIND } from '../../common/wire.ts';
import { BufferPool } from '../dataplane/pool.ts';
import type { DataConnection } from '../dataplane/client.ts';
import type { Logger } from '../log.ts';
import { metrics, safely } from '../metrics/metrics.ts';
import { followPages, hashLayoutPrefix, pagesAside, PagesInArchive, type PagesFile } from './pages.ts';
import type { Seal } from './seal.ts';
import type { Emit, Sender } from './sender.ts';

export interface PagesStreamOptions {
  sender: Sender;
  userdata: string;
  /** Settles once CRIU's dump is over. */
  dumpOver: Promise<unknown>;
  /** The stream's first connection, made before the freeze. */
  first: DataConnection;
  destination: string;
  log: Logger;
  emit: Emit;
  started: number;
  /** Where the pages' stream waits, its bytes all sent, before its END (seal.ts). */
  seal: Seal;
}

export interface PagesSent {
  bytes: number;
  sha256: string;
  ms: number;
  files: PagesFile[];
}

export class PagesStream {
  readonly #options: PagesStreamOptions;

  constructor(options: PagesStreamOptions) {
    this.#options = options;
  }

  /** The pages at the destination, checked there; undefined when they travel in the archive instead. */
  async send(): Promise<PagesSent | undefined> {
    try {
      return await this.#options.sender.attempts('pages', (attempt, signal) => this.#attempt(attempt, signal));
    } catch (error) {
      if (error instanceof PagesInArchive) {
        this.#options.log.warn({ reason: error.message }, 'the pages were not moved aside: they travel in the archive');
        this.#options.seal.leave('pages');
        return undefined;
      }
      throw error;
    }
  }

  async #attempt(attempt: number, signal: AbortSignal): Promise<PagesSent> {
    const { sender, userdata, emit } = this.#options;
    const connection = attempt === 1 ? this.#options.first : await sender.opener.open('pages', 0, { resume: true });
    if ('complete' in connection) {
      // The last attempt arrived whole; only its reply was lost. The same bytes as the layout's here?
      const files = await this.#filesOnceDumped(signal);
      const { bytes, sha256 } = connection.complete;
      if ((await hashLayoutPrefix(userdata, files, bytes)).digest('hex') !== sha256) {
        throw new FerryError('INTEGRITY_MISMATCH', `${this.#options.destination} holds pages of ${bytes} bytes whose SHA-256 differs from this host's`, { phase: 'transfer' });
      }
      return { bytes, sha256, ms: Math.round(performance.now() - this.#options.started), files };
    }
    const from = connection.resumeFrom;
    let files: PagesFile[] = [];
    if (from) {
      emit({ retrying: { stream: STREAM_KIND.toWire('pages'), attempt, error: '', resumeFrom: from } });
      safely(() => metrics.transfersResumed.inc({ kind: 'pages' }));
    }
    const pool = new BufferPool(1024 * 1024, 4);
    try {
      const hash = from ? await hashLayoutPrefix(userdata, await this.#filesOnceDumped(signal), from) : undefined;
      const seal = this.#options.seal;
      const pages = followPages({ userdata, dumpOver: this.#options.dumpOver, from, pool, signal, onFiles: (f) => (files = f) });
      const sealing = async function* () {
        yield* pages;
        await seal.arrive('pages');
      };
      const sent = await connection.send({
        source: sealing(),
        pool,
        hash,
        pace: sender.pace,
        signal,
        onProgress: (bytes) => sender.acknowledged('pages', bytes),
      });
      return { ...sent, files };
    } catch (error) {
      // The generator's own word, not the connection's wrapping of it.
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof PagesInArchive) throw cause;
      throw error;
    } finally {
      connection.close();
    }
  }

  async #filesOnceDumped(signal: AbortSignal): Promise<PagesFile[]> {
    await this.#options.dumpOver.catch(() => undefined);
    const files = await pagesAside(this.#options.userdata);
    if (signal.aborted) throw new FerryError('CANCELLED', 'the pages stream was stopped', { phase: 'transfer' });
    if (!files) throw new PagesInArchive('the dump ended and its pages were not moved aside');
    return files;
  }
}
