// The destination's data port: a mutual-TLS (or, with --insecure, plain) TCP listener that takes
// byte streams from source agents. A stream starts with OPEN and a grant token; the agent's
// acceptor says where its bytes go; every DATA frame is checked (offset, and CRC-32 where TLS
// does not already authenticate it) on its way to the target, and the whole stream (size,
// SHA-256) at END. The reply, DONE or ERROR, goes back on the same connection.
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, Server as TlsServer, type TLSSocket } from 'node:tls';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../../common/errors.ts';
import { revocationOf, type TlsFiles } from '../../common/pki.ts';
import type { Caller } from '../../common/rpc.ts';
import type { Logger } from '../log.ts';
import type { StreamKind } from '../../common/wire.ts';
import { metrics, safely } from '../metrics/metrics.ts';
import type { Target } from '../transfer/targets.ts';
import { ChunkVerifier } from '../transfer/verifier.ts';
import type { BufferPool } from './pool.ts';
import { controlFrame, CRC32_OPTIONAL, FrameDecoder, type Frame } from './frames.ts';
import { readControl, callerOfSocket } from './socket.ts';

/** What a stream's OPEN frame carries: the token; the grant says the rest. */
export interface StreamOpen {
  token: unknown;
}

/** The acceptor's answer: where the bytes go, and what to do when they are all there. */
export interface AcceptedStream {
  /** For logs and errors. */
  label: string;
  /** What the stream carries, for the metrics' bytes received. */
  kind?: StreamKind | undefined;
  totalBytes: number;
  target: Target;
  /** Bytes already stored (a resumed checkpoint stream) and the hash over them. */
  resume?: { offset: number; hash: import('node:crypto').Hash } | undefined;
  /** Runs once the whole stream checked out and the target settled (e.g. `podman load`). */
  complete(result: { bytes: number; sha256: string }): Promise<void>;
  /** Runs last, whatever happened (busy bookkeeping). */
  release(): void;
  /** Aborts when the migration is over here (rolled back): the stream is cut. */
  signal?: AbortSignal | undefined;
}

export type Acceptor = (open: StreamOpen, caller: Caller | undefined) => Promise<AcceptedStream>;

export interface DataServerOptions {
  tls?: TlsFiles | undefined;
  accept: Acceptor;
  log: Logger;
  /** A connection that brings nothing for this long is dropped: the link or the sender is gone. */
  idleMs?: number | undefined;
}

const DEFAULT_IDLE_MS = 30_000;
const OPEN_TIMEOUT_MS = 10_000;
/** Acknowledge at least every this many bytes: the sender's proof that the stream moves. */
const ACK_EVERY_BYTES = 4 * 1024 * 1024;
/** How often a receiver says it is there while it takes nothing. */
const ALIVE_EVERY_MS = 2_000;
/** After an ERROR, how long the sender gets to read it and hang up. */
const LINGER_MS = 5_000;

/**
 * Checks each frame of a stream: DATA at its offset and intact goes on as bytes; END closes the
 * stream after checking size and SHA-256; PING and progress are answered with ACK.
 */
class StreamVerifier extends Transform {
  readonly #verifier: ChunkVerifier;
  readonly #ack: (bytes: number) => void;
  readonly #onBytes: ((bytes: number) => void) | undefined;
  #acked = 0;
  sha256: string | undefined;
  /** The END frame came and the whole did not match it. */
  endFailed = false;

  /** Where the target wants the bytes copied (see Target.slabs); else the socket's buffers go on. */
  readonly #slabs: BufferPool | undefined;

  constructor(verifier: ChunkVerifier, ack: (bytes: number) => void, options: { onBytes?: ((bytes: number) => void) | undefined; slabs?: BufferPool | undefined } = {}) {
    super({ writableObjectMode: true, writableHighWaterMark: 2 });
    this.#verifier = verifier;
    this.#ack = ack;
    this.#onBytes = options.onBytes;
    this.#slabs = options.slabs;
    this.#acked = verifier.received;
  }

  get received(): number {
    return this.#verifier.received;
  }

  override _transform(frame: Frame, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      switch (frame.type) {
        case 'DATA': {
          const before = this.#verifier.received;
          const parts = this.#verifier.data(frame.offset, frame.parts, frame.crc32);
          this.#onBytes?.(this.#verifier.received - before);
          if (this.#verifier.received - this.#acked >= ACK_EVERY_BYTES) this.#acknowledge();
          if (!this.#slabs) {
            for (const part of parts) this.push(part);
            callback();
            return;
          }
          // A slab is taken only when one is free: that wait is the sink's backpressure.
          this.#copied(this.#slabs, parts).then(() => callback(), callback);
          return;
        }
        case 'PING':
          this.#acknowledge();
          break;
        case 'END':
          this.endFailed = true;
          this.sha256 = this.#verifier.end(frame.totalBytes, frame.sha256);
          this.endFailed = false;
          break;
        default:
          throw new FerryError('BAD_REQUEST', `data plane: a ${frame.type} frame in the middle of a stream`, { phase: 'transfer' });
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** The parts copied into slabs, each pushed once full (or at the frame's end). */
  async #copied(slabs: BufferPool, parts: readonly Buffer[]): Promise<void> {
    let slab: Buffer | undefined;
    let filled = 0;
    for (const part of parts) {
      for (let at = 0; at < part.length; ) {
        slab ??= await slabs.take();
        const n = part.copy(slab, filled, at);
        filled += n;
        at += n;
        if (filled === slab.length) {
          this.push(slab);
          slab = undefined;
          filled = 0;
        }
      }
    }
    if (slab) this.push(slab.subarray(0, filled));
  }

  override _flush(callback: TransformCallback): void {
    if (this.sha256 === undefined) {
      callback(new FerryError('TRANSFER_FAILED', `the stream ended after ${this.#verifier.received} bytes, before its end`, { phase: 'transfer' }));
      return;
    }
    callback();
  }

  #acknowledge(): void {
    this.#acked = this.#verifier.received;
    this.#ack(this.#acked);
  }
}

export class DataServer {
  readonly #options: DataServerOptions;
  readonly #server: TcpServer;
  readonly #sockets = new Set<Socket>();

  /** A renewed certificate for the connections made from now on (tls-reload.ts); those open keep theirs. */
  useTls(files: TlsFiles): void {
    if (this.#server instanceof TlsServer) this.#server.setSecureContext({ ca: files.ca, cert: files.cert, key: files.key });
  }

  constructor(options: DataServerOptions) {
    this.#options = options;
    const onSocket = (socket: Socket) => void this.#serve(socket);
    this.#server = options.tls
      ? createTlsServer(
          { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true },
          onSocket,
        )
      : createTcpServer({ allowHalfOpen: true }, onSocket);
    // A handshake that fails (no certificate, another CA) never reaches #serve; it is only logged.
    this.#server.on('tlsClientError', (error: Error) => options.log.warn({ err: error.message }, 'data connection refused at the TLS handshake'));
    // Every connection, handshake or not, so that close() can cut them all.
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Binds; resolves with the port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stops taking connections and cuts the ones open: their senders resume elsewhere or later. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async #serve(socket: Socket): Promise<void> {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5_000);
    const idleMs = this.#options.idleMs ?? DEFAULT_IDLE_MS;
    socket.setTimeout(idleMs, () =>
      socket.destroy(new FerryError('TRANSFER_FAILED', `nothing arrived on the data connection for ${Math.round(idleMs / 1000)} s`, { phase: 'transfer' })),
    );
    // Errors reach the pipeline below or end the handshake; none may go unhandled.
    socket.on('error', () => {});
    const log = this.#options.log.child({ component: 'dataplane', peer: socket.remoteAddress });
    let accepted: AcceptedStream | undefined;
    try {
      const opened = await readControl(socket, 'OPEN', OPEN_TIMEOUT_MS);
      const open = { token: opened.token };
      // TLS authenticates every record: a CRC-32 over the same bytes adds nothing but cost. On a
      // plaintext port (--insecure), or to a sender that did not offer, the CRC-32 stays.
      const crc32 = !(this.#options.tls && opened.crc32 === CRC32_OPTIONAL);
      const caller = this.#options.tls ? callerOfSocket(socket as TLSSocket) : undefined;
      // The CA's revocations, as the agent last read them (tls-reload.ts).
      const revoked = caller && revocationOf(this.#options.tls, caller);
      if (revoked) throw revoked.at('transfer', undefined);
      accepted = await this.#options.accept(open, caller);
      const stream = accepted;
      const cut = () => socket.destroy(new FerryError('CANCELLED', `migration stream ${stream.label} cut: the migration was rolled back here`, { phase: 'transfer' }));
      if (stream.signal?.aborted) cut();
      stream.signal?.addEventListener('abort', cut, { once: true });
      socket.once('close', () => stream.signal?.removeEventListener('abort', cut));
      const verifier = new ChunkVerifier(stream.totalBytes, stream.resume, { crc32 });
      socket.write(controlFrame('READY', { resumeFrom: verifier.received, crc32 }));
      const kind = stream.kind;
      const counted = kind ? (bytes: number) => safely(() => metrics.bytesReceived.inc({ kind }, bytes)) : undefined;
      const check = new StreamVerifier(verifier, (bytes) => socket.write(controlFrame('ACK', { bytes })), { onBytes: counted, slabs: stream.target.slabs });
      // Alive, if busy: a receiver that holds the stream back on purpose (podman is slower than
      // the network) still says so, or the sender would take it for a dead link.
      const alive = setInterval(() => socket.writable && socket.write(controlFrame('ACK', { bytes: check.received })), ALIVE_EVERY_MS);
      socket.once('close', () => clearInterval(alive));
      const frames = new FrameDecoder();
      // The socket is piped rather than put in the pipeline: a failed stream must leave it open
      // long enough to tell the sender why (DISK_FULL is not worth retrying; a reset is).
      socket.pipe(frames);
      socket.once('error', (error) => frames.destroy(error));
      socket.once('close', () => frames.destroy(new FerryError('TRANSFER_FAILED', 'the data connection closed mid-stream', { phase: 'transfer' })));
      try {
        await pipeline(frames, check, stream.target.writable);
        await stream.target.settled();
      } catch (error) {
        const failure = FerryError.from(asWriteError(error), { phase: 'transfer' });
        // A whole that does not check out is worth nothing; a stream cut short keeps its good part.
        await (check.endFailed ? stream.target.discard() : stream.target.abort());
        throw failure;
      }
      const result = { bytes: check.received, sha256: check.sha256 ?? '' };
      await stream.complete(result);
      log.info({ stream: stream.label, bytes: result.bytes }, 'stream received and verified');
      socket.end(controlFrame('DONE', result));
    } catch (error) {
      const failure = FerryError.from(error, { phase: 'transfer' });
      log.warn({ stream: accepted?.label, code: failure.code, err: failure.message }, 'stream refused or failed');
      safely(() => metrics.errors.inc({ method: 'DataStream', code: failure.code }));
      socket.unpipe();
      if (!socket.destroyed) {
        socket.end(controlFrame('ERROR', failure.toJSON()));
        socket.resume(); // drain what the sender still has in flight until it reads the error
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
      }
    } finally {
      accepted?.release();
    }
  }
}

function asWriteError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FerryError('DISK_FULL', 'the destination disk is full', { phase: 'transfer', cause: error });
  }
  return error;
}
