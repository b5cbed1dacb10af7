// The streams of one migration, as the source sends them: each opened with a one-time grant,
// tried again while a retry may help, and all stopped together once one fails for good.
import type { AgentConnection } from '../../common/client.ts';
import type { Dialer, ReachableAgent } from '../../common/dial.ts';
import { STREAM_KIND, type StreamKind } from '../../common/wire.ts';
import type { MigrationEvent } from '../../proto/gen/ferry/v1/MigrationEvent.ts';
import type { Logger } from '../log.ts';
import { retrying, StreamOpener } from './streams.ts';

export type Emit = (event: MigrationEvent) => void;

export class Sender {
  readonly opener: StreamOpener;
  /** Aborted when the call is cancelled or any stream of the migration failed for good. */
  readonly halt: AbortSignal;
  /** The rate cap of every stream, bytes per second. */
  readonly bytesPerSecond: number | undefined;
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

  /** One stream of unknown length, sent whole (a retry sends it again from the start). */
  async sendOnce(kind: StreamKind, round: number, source: AsyncIterable<Buffer>): Promise<{ bytes: number; sha256: string; ms: number }> {
    return (await this.opener.connection(kind, round)).send({ source, bytesPerSecond: this.bytesPerSecond, signal: this.halt });
  }
}
