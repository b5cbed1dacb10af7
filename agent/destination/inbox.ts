// What a destination holds of one migration while it arrives: how much of the checkpoint archive
// is on disk, whether the whole of it checked out, and which round of bind-mounted data is in
// staging. The restore waits on it (it feeds podman the archive as it grows); the data plane
// moves it forward; a rollback fails it, which wakes every waiter.
import { FerryError } from '../../common/errors.ts';

/** The import feeder's offer: bytes for podman, taken from memory at `position`. */
export interface Relay {
  /** The bytes podman has (or holds back) so far. */
  readonly position: number;
  /** From now on the sink hands over every batch it wrote; the feeder stops reading the file. */
  attach(): void;
  /** Feeds podman these bytes, which start at `position` and are on disk; resolves once the pipe has them. */
  take(parts: readonly Buffer[]): Promise<void>;
  /** The stream stopped: the feeder goes back to following the file, which holds all podman has. */
  detach(): void;
}

export interface VerifiedArchive {
  bytes: number;
  sha256: string;
  /** performance.now() when it checked out. */
  at: number;
}

export class Inbox {
  /** Bytes of the archive written to disk so far. */
  written: number;
  verified: VerifiedArchive | undefined;
  /** The last round of bind-mounted data fully received (-1: none). */
  dataRound: number;
  /** The memory pages that came beside the archive, once whole and checked. */
  pages: { bytes: number; sha256: string } | undefined;
  /** podman's import, offering to take the archive's bytes from the stream's memory once it has read the file. */
  relay: Relay | undefined;
  #failure: FerryError | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(initial: { written?: number; verified?: VerifiedArchive | undefined; dataRound?: number; pages?: { bytes: number; sha256: string } | undefined } = {}) {
    this.written = initial.written ?? 0;
    this.verified = initial.verified;
    this.pages = initial.pages;
    this.dataRound = initial.dataRound ?? -1;
  }

  wrote(bytes: number): void {
    this.written = bytes;
    this.#notify();
  }

  verify(archive: { bytes: number; sha256: string }): void {
    this.verified = { ...archive, at: performance.now() };
    this.#notify();
  }

  pagesVerified(pages: { bytes: number; sha256: string }): void {
    this.pages = pages;
    this.#notify();
  }

  offerRelay(relay: Relay | undefined): void {
    this.relay = relay;
    this.#notify();
  }

  /** Something a waiter may care about changed (podman took bytes, or caught up with the file). */
  poke(): void {
    this.#notify();
  }

  /** The conntrack entries of the service address's flows are here (the address comes after the restore). */
  addressReady = false;

  takenAddress(): void {
    this.addressReady = true;
    this.#notify();
  }

  dataArrived(round: number): void {
    this.dataRound = Math.max(this.dataRound, round);
    this.#notify();
  }

  get failure(): FerryError | undefined {
    return this.#failure;
  }

  /** The migration is over here (rolled back): whoever waits stops waiting. */
  fail(error: FerryError): void {
    this.#failure ??= error;
    this.#notify();
  }

  /** Resolves once `ready()` holds; rejects when the inbox fails or `signal` aborts. */
  async until(ready: () => boolean, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      if (signal?.aborted) throw new FerryError('CANCELLED', 'stopped waiting for the archive', { phase: 'restore', cause: signal.reason });
      if (ready()) return;
      await this.#changed(signal);
    }
  }

  #changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
