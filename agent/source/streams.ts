// How the source opens byte streams to the destination: a one-time grant over the control plane
// (OpenStream), then a connection to the destination's data port that presents it. And how a
// broken stream is tried again: only while its errors say a retry may help, for a bounded time.
import pRetry from 'p-retry';
import type { AgentConnection } from '../../common/client.ts';
import { FerryError } from '../../common/errors.ts';
import type { Dialer, ReachableAgent } from '../../common/dial.ts';
import { DataConnection } from '../dataplane/client.ts';
import { STREAM_KIND, type StreamKind } from '../../common/wire.ts';
import { UNKNOWN_SIZE } from '../transfer/verifier.ts';

export class StreamOpener {
  readonly #peer: AgentConnection<ReachableAgent>;
  readonly #dialer: Dialer;
  readonly #migrationId: string;
  readonly #signal: AbortSignal;

  constructor(peer: AgentConnection<ReachableAgent>, dialer: Dialer, migrationId: string, signal: AbortSignal) {
    this.#peer = peer;
    this.#dialer = dialer;
    this.#migrationId = migrationId;
    this.#signal = signal;
  }

  /**
   * Asks for a grant and connects with it; the connection knows where the bytes start. A resumed
   * checkpoint stream may instead turn out complete at the destination: then its size and SHA-256.
   */
  async open(kind: StreamKind, round: number, options: { resume?: boolean; totalBytes?: number } = {}): Promise<DataConnection | Complete> {
    const host = this.#peer.host;
    const grant = await this.#peer
      .openStream(
        { migrationId: this.#migrationId, kind: STREAM_KIND.toWire(kind), round, resume: options.resume ?? false, totalBytes: options.totalBytes ?? UNKNOWN_SIZE },
        { signal: this.#signal, timeoutMs: 5_000 },
      )
      .catch((error: unknown) => {
        const e = FerryError.from(error);
        // An agent that cannot be reached (restarting, link down) may be back for the next attempt.
        if (e.code === 'AGENT_UNREACHABLE') throw new FerryError('TRANSFER_FAILED', `cannot open a ${kind} stream to ${host.name}: ${e.message}`, { phase: 'transfer', cause: e });
        throw e.at('transfer', host.name);
      });
    if (grant.complete) return { complete: { bytes: Number(grant.resumeFrom), sha256: grant.sha256 } };
    // The data port is on the agent's address: straight there, or through the same SSH login.
    const where = await this.#dialer.endpoint(host, grant.port).catch((error: unknown) => {
      throw new FerryError('TRANSFER_FAILED', `cannot reach ${host.name}'s data port: ${FerryError.from(error).message}`, { phase: 'transfer', cause: error });
    });
    return DataConnection.open({ ...where, name: host.name }, this.#dialer.tls, grant.token, { signal: this.#signal, kind });
  }

  /** A stream that needs no resuming: a connection, or the word that it is already complete. */
  async connection(kind: StreamKind, round: number): Promise<DataConnection> {
    const opened = await this.open(kind, round);
    if ('complete' in opened) throw new FerryError('INTERNAL', `the destination says a new ${kind} stream is already complete`, { phase: 'transfer' });
    return opened;
  }
}

/** The destination's word that it already holds a stream whole. */
export interface Complete {
  complete: { bytes: number; sha256: string };
}

export interface RetryOptions {
  retryMs: number;
  signal: AbortSignal;
  onRetry: (attempt: number, error: FerryError) => void;
}

/** Runs a transfer again while its errors say a retry may help, for at most retryMs. */
export function retrying<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  return pRetry(attempt, {
    retries: 1_000,
    minTimeout: 250,
    maxTimeout: 2_000,
    maxRetryTime: options.retryMs,
    signal: options.signal,
    shouldRetry: ({ error }) => !options.signal.aborted && FerryError.from(error).retryable,
    onFailedAttempt: ({ error, attemptNumber }) => {
      // Said only of failures that will be tried again: a cancelled or final one is not "retrying".
      const failure = FerryError.from(error);
      if (!options.signal.aborted && failure.retryable) options.onRetry(attemptNumber, failure);
    },
  });
}
