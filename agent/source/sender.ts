// The streams of one migration, as the source sends them: each opened with a one-time grant,
// tried again while a retry may help, and all stopped together once one fails for good.
import type { AgentConnection } from '../../common/client.ts';
import type { Dialer, ReachableAgent } from '../../common/dial.ts';
import { STREAM_KIND, type StreamKind } from '../../common/wire.ts';
import type { MigrationEvent } from '../../proto/gen/ferry/v1/MigrationEvent.ts';
import type { Logger } from '../log.ts';
import { Pace } from '../dataplane/client.ts';
import { retrying, StreamOpener } from './streams.ts';

const PROGRESS_EVERY_BYTES = 8 * 1024 * 1024;

export type Emit = (event: MigrationEvent) => void;

export class Sender {
  readonly opener: StreamOpener;
  /** Aborted when the call is cancelled or any stream of the migration failed for good. */
  readonly halt: AbortSignal;
  /** The rate cap of every stream together, bytes per second (--bwlimit). */
  readonly bytesPerSecond: number | undefined;
  /** That cap, shared by the streams: the archive and the pages side by side get it between them. */
  readonly pace: Pace | undefined;
  /** Bytes each stream of the checkpoint had acknowledged, and the total last reported. */
  readonly #acked = new Map<StreamKind, number>();
  #reported = 0;
  readonly #stopping = new AbortController();
  readonly #retryMs: number;
  readonly #log: Logger;
  readonly #emit: Emit;

  constructor(options: {
    peer: AgentConnection<ReachableAgent>;
    dialer: Dialer;
    migrationId: string;
    signal: AbortSignal;
    retryMs: number;
    bytesPerSecond: number | undefined;
    log: Logger;
    emit: Emit;
  }) {
    this.halt = AbortSignal.any([options.signal, this.#stopping.signal]);
    this.opener = new StreamOpener(options.peer, options.dialer, options.migrationId, this.halt);
    this.bytesPerSecond = options.bytesPerSecond;
    this.pace = options.bytesPerSecond ? new Pace(options.bytesPerSecond) : undefined;
    this.#retryMs = options.retryMs;
    this.#log = options.log;
    this.#emit = options.emit;
  }

  /** One failure stops every stream of the migration, not just the one that failed. */
  stop(): void {
    this.#stopping.abort();
  }

  /** `attempt` until it succeeds, or fails in a way no retry helps, or the retry budget is spent. */
  again<T>(stream: StreamKind, attempt: (n: number) => Promise<T>): Promise<T> {
    return retrying(attempt, {
      retryMs: this.#retryMs,
      signal: this.halt,
      onRetry: (n, error) => {
        this.#log.warn({ stream, attempt: n, err: error.message }, 'transfer attempt failed');
        this.#emit({ retrying: { stream: STREAM_KIND.toWire(stream), attempt: n, error: error.message } });
      },
    });
  }

  /**
   * Like again(), with a signal of each attempt's own: it aborts when the attempt ends, so that
   * whatever the attempt left waiting (a follower waiting for podman, or for a buffer) is let go.
   */
  attempts<T>(stream: StreamKind, attempt: (n: number, signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.again(stream, async (n) => {
      const attemptOver = new AbortController();
      try {
        return await attempt(n, AbortSignal.any([this.halt, attemptOver.signal]));
      } finally {
        attemptOver.abort();
      }
    });
  }

  /** One stream of unknown length, sent whole (a retry sends it again from the start). */
  async sendOnce(kind: StreamKind, round: number, source: AsyncIterable<Buffer>): Promise<{ bytes: number; sha256: string; ms: number }> {
    return (await this.opener.connection(kind, round)).send({ source, pace: this.pace, signal: this.halt });
  }

  /**
   * A stream of the checkpoint (the archive, the pages) says how much the destination has
   * acknowledged; their sum goes out as progress every PROGRESS_EVERY_BYTES.
   */
  acknowledged(kind: StreamKind, bytes: number): void {
    this.#acked.set(kind, bytes);
    const total = [...this.#acked.values()].reduce((a, b) => a + b, 0);
    if (total - this.#reported >= PROGRESS_EVERY_BYTES) {
      this.#reported = total;
      this.#emit({ progress: { bytes: total, totalBytes: -1 } });
    }
  }
}
