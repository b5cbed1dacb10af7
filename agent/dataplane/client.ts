// The source's end of a data connection: connect to the destination's data port with mutual TLS,
// present the grant (OPEN), learn where to start (READY), then stream: bytes -> frames (offset,
// CRC-32 unless TLS already guards the bytes, running SHA-256) -> socket, with the socket's backpressure reaching back to the disk
// read. The destination acknowledges what it took (ACK); a stream that stops being acknowledged
// is given up so that the caller can resume it.
import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { crc32 } from 'node:zlib';
import { FerryError } from '../../common/errors.ts';
import { revokedPeer, type TlsFiles } from '../../common/pki.ts';
import type { StreamKind } from '../../common/wire.ts';
import { metrics, safely } from '../metrics/metrics.ts';
import { controlFrame, CRC32_OPTIONAL, DATA_FRAME_BYTES, dataHead, endFrame, FrameDecoder, pingFrame, type Frame } from './frames.ts';
import type { BufferPool } from './pool.ts';
import { errorFrom, readControl } from './socket.ts';

/** Where a destination takes streams: its agent's address, the port from the grant, and its name (for TLS). */
export interface DataEndpoint {
  host: string;
  port: number;
  name: string;
}

export interface SendOptions {
  source: AsyncIterable<Buffer>;
  /** Where the source's buffers come from: each is given back once the socket has its bytes. */
  pool?: BufferPool | undefined;
  /** SHA-256 state over the bytes before the resume offset (the destination kept them). */
  hash?: Hash | undefined;
  /** Caps the stream's rate (bytes per second); 0 or absent: as fast as it goes. */
  bytesPerSecond?: number | undefined;
  /** A cap shared with other streams (a migration's --bwlimit covers all of them); overrides bytesPerSecond. */
  pace?: Pace | undefined;
  /** Bytes the destination has acknowledged, from the resume offset on. */
  onProgress?: ((bytes: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface SendResult {
  bytes: number;
  sha256: string;
  ms: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;
/** When the source has produced nothing for this long (podman still dumping), say we are alive. */
const PING_EVERY_MS = 2_000;
/** Outstanding bytes or pings unacknowledged for this long: the link or the destination is gone. */
export const DEFAULT_STALL_MS = 10_000;

function failed(message: string, cause?: unknown): FerryError {
  return new FerryError('TRANSFER_FAILED', message, { phase: 'transfer', cause });
}

/** Waits until the socket takes more, or ends, fails or is given up on. */
function roomOrEnd(socket: Socket, signal: AbortSignal): Promise<void> {
  // Closed already (while the rate cap held the sender back): no event would ever come.
  if (socket.destroyed) return Promise.reject(failed('the data connection closed'));
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      socket.off('drain', onDrain);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    // A socket destroyed with a reason (the stall watchdog's) says why before it closes.
    const onError = (error: Error) => done(error);
    const onClose = () => done(failed('the data connection closed'));
    const onAbort = () => done(new FerryError('CANCELLED', 'the transfer was cancelled', { phase: 'transfer' }));
    socket.on('drain', onDrain);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function connectSocket(endpoint: DataEndpoint, tls: TlsFiles | undefined, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the sender ends its side after END and still reads the DONE that follows
    // (tls.connect honours it; its option type does not list it).
    const secure = tls && {
      host: endpoint.host,
      port: endpoint.port,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      // The destination's certificate must name the host the migration goes to.
      servername: isIP(endpoint.name) ? '' : endpoint.name,
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => checkServerIdentity(endpoint.name, certificate) ?? revokedPeer(tls, certificate),
      allowHalfOpen: true,
      // AES-128-GCM first: as safe here, and cheaper per byte than the default AES-256.
      ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
    };
    const socket = secure ? tlsConnect(secure as ConnectionOptions) : netConnect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
    const done = (error?: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off(tls ? 'secureConnect' : 'connect', onConnect);
      socket.off('error', onError);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    const where = `${endpoint.name}'s data port ${endpoint.host}:${endpoint.port}`;
    const onConnect = () => done();
    const onError = (error: Error) => done(failed(`cannot reach ${where}: ${error.message}`, error));
    const onAbort = () => done(new FerryError('CANCELLED', 'the transfer was cancelled', { phase: 'transfer' }));
    const timer = setTimeout(() => done(failed(`cannot reach ${where}: no connection within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
    socket.once(tls ? 'secureConnect' : 'connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A rate cap, for one stream or shared by several: each chunk is due when the ones before it
 * would have gone at the rate. No saved-up credit: after a pause, no burst.
 */
export class Pace {
  readonly bytesPerSecond: number;
  #due = 0;

  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Books `bytes`; returns how long to wait before sending them, ms. */
  take(bytes: number): number {
    const now = performance.now();
    const at = Math.max(this.#due, now);
    this.#due = at + (bytes * 1000) / this.bytesPerSecond;
    return at - now;
  }
}

/** One granted stream to a destination, opened and ready to send. */
/** Where one send stands, shared by its loop, the replies and the watch. */
interface Flow {
  /** Bytes written, and acknowledged by the destination. */
  offset: number;
  acked: number;
  lastAck: number;
  lastFrame: number;
  /** A ping is out, unanswered. */
  pinged: boolean;
  /** END went out. */
  ended: boolean;
}

export class DataConnection {
  readonly endpoint: DataEndpoint;
  /** Where the destination wants the bytes to start: what it already holds of a resumed stream. */
  readonly resumeFrom: number;
  readonly #socket: Socket;
  readonly #stallMs: number;
  /** What the stream carries, for the metrics' bytes sent. */
  readonly #kind: StreamKind | undefined;
  /**
   * Whether each frame carries a CRC-32. Not over TLS when the receiver agrees: every TLS record
   * is already authenticated (AES-GCM) over exactly the bytes the CRC would cover, and computing
   * it cost both ends a fifth of the data plane's rate. The SHA-256 over the whole stays.
   */
  readonly crc32: boolean;

  private constructor(endpoint: DataEndpoint, socket: Socket, ready: { resumeFrom: number; crc32: boolean }, stallMs: number, kind: StreamKind | undefined) {
    this.endpoint = endpoint;
    this.#socket = socket;
    this.resumeFrom = ready.resumeFrom;
    this.crc32 = ready.crc32;
    this.#stallMs = stallMs;
    this.#kind = kind;
  }

  /** Connects and presents the grant; resolves once the destination is ready for the bytes. */
  static async open(
    endpoint: DataEndpoint,
    tls: TlsFiles | undefined,
    token: string,
    options: { signal?: AbortSignal | undefined; stallMs?: number | undefined; kind?: StreamKind | undefined } = {},
  ): Promise<DataConnection> {
    const socket = await connectSocket(endpoint, tls, options.signal);
    try {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 5_000);
      socket.on('error', () => {}); // reported by whatever reads or writes next
      // May the frames go without CRC-32? The receiver decides (only over TLS); one that does not
      // know the question leaves READY without an answer, and gets its CRC-32s.
      socket.write(controlFrame('OPEN', { token, crc32: CRC32_OPTIONAL }));
      const ready = await readControl(socket, 'READY', READY_TIMEOUT_MS);
      const resumeFrom = Number(ready.resumeFrom ?? 0);
      if (!Number.isSafeInteger(resumeFrom) || resumeFrom < 0) throw new FerryError('BAD_REQUEST', `data plane: READY with a bad resume offset ${String(ready.resumeFrom)}`);
      return new DataConnection(endpoint, socket, { resumeFrom, crc32: ready.crc32 !== false }, options.stallMs ?? DEFAULT_STALL_MS, options.kind);
    } catch (error) {
      socket.destroy();
      throw FerryError.from(error, { phase: 'transfer', host: endpoint.name }).at('transfer', endpoint.name);
    }
  }

  /** The destination's replies: ACKs while the bytes flow, then DONE, or ERROR at any time. */
  #replies(flow: Flow, options: SendOptions, local: AbortController): Promise<SendResult> {
    const started = performance.now();
    const socket = this.#socket;
    const name = this.endpoint.name;
    const replies = new FrameDecoder();
    socket.pipe(replies);
    return new Promise<SendResult>((resolve, reject) => {
      replies.on('data', (frame: Frame) => {
        if (frame.type === 'ACK') {
          flow.acked = Math.max(flow.acked, Number(frame.body.bytes ?? 0));
          flow.lastAck = performance.now();
          flow.pinged = false;
          options.onProgress?.(flow.acked);
        } else if (frame.type === 'DONE') {
          resolve({ bytes: Number(frame.body.bytes ?? 0), sha256: typeof frame.body.sha256 === 'string' ? frame.body.sha256 : '', ms: Math.round(performance.now() - started) });
        } else if (frame.type === 'ERROR') {
          const error = errorFrom(frame.body).at('transfer', name);
          reject(error);
          local.abort(error);
        }
      });
      replies.on('error', (error) => reject(failed(`the reply from ${name} is garbled: ${error.message}`, error)));
      socket.once('close', () => reject(failed(`the data connection to ${name} closed before it confirmed the stream`)));
    });
  }

  /** Pings a quiet stream, and cuts one whose destination acknowledged nothing for the stall time. */
  #watch(flow: Flow): NodeJS.Timeout {
    const socket = this.#socket;
    return setInterval(() => {
      const now = performance.now();
      // Frames are written whole between awaits, so a ping never lands inside one.
      if (!flow.ended && now - flow.lastFrame >= PING_EVERY_MS && !flow.pinged) {
        socket.write(pingFrame());
        flow.pinged = true;
        flow.lastFrame = now;
      }
      const waiting = flow.offset > flow.acked || flow.pinged;
      if (waiting && now - flow.lastAck > this.#stallMs) {
        socket.destroy(failed(`${this.endpoint.name} acknowledged nothing for ${Math.round(this.#stallMs / 1000)} s (link or agent down)`));
      }
    }, 500);
  }

  close(): void {
    this.#socket.destroy();
  }

  /**
   * Streams `source` (which starts at `resumeFrom`) and resolves with the destination's DONE:
   * bytes and SHA-256 of the whole stream as it received and checked them.
   */
  async send(options: SendOptions): Promise<SendResult> {
    const socket = this.#socket;
    const name = this.endpoint.name;
    const local = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
    const hash = options.hash ?? createHash('sha256');
    const flow: Flow = { offset: this.resumeFrom, acked: this.resumeFrom, lastAck: performance.now(), lastFrame: performance.now(), pinged: false, ended: false };
    const answer = this.#replies(flow, options, local);
    answer.catch(() => undefined); // looked at below, after the bytes went out (or failed to)
    const watch = this.#watch(flow);
    const cancelled = () => new FerryError('CANCELLED', 'the transfer was cancelled', { phase: 'transfer', host: name });
    // The connection may end while the loop waits for the source (a file podman is still
    // writing): that must end the wait too, or a dead destination would hold it forever.
    const connectionEnded = new Promise<never>((_, reject) => {
      socket.once('close', () => reject(failed(`the data connection to ${name} closed`)));
      signal.addEventListener('abort', () => reject(cancelled()), { once: true });
    });
    connectionEnded.catch(() => undefined);
    // The one place bytes are written by hand rather than through stream.pipeline: the socket
    // also carries pings between frames and stays open for the destination's reply after our
    // END (a pipeline would destroy it on a failure, losing the reply that says why), and each
    // pooled buffer goes back to its pool only once the kernel took it (zero copy).
    const chunks = options.source[Symbol.asyncIterator]();
    try {
      let offset = flow.offset;
      const pace = options.pace ?? (options.bytesPerSecond ? new Pace(options.bytesPerSecond) : undefined);
      for (;;) {
        const next = await Promise.race([chunks.next(), connectionEnded]);
        if (next.done) break;
        const chunk = next.value;
        if (signal.aborted) throw cancelled();
        const waitMs = pace?.take(chunk.length) ?? 0;
        if (waitMs > 0) {
          // The connection may end meanwhile: that ends the wait, as it does the wait for the source.
          await Promise.race([sleep(waitMs, undefined, { signal }).catch(() => undefined), connectionEnded]);
          if (signal.aborted) throw cancelled();
        }
        let room = true;
        for (let start = 0; start < chunk.length; start += DATA_FRAME_BYTES) {
          const data = chunk.subarray(start, start + DATA_FRAME_BYTES);
          hash.update(data);
          const last = start + DATA_FRAME_BYTES >= chunk.length;
          // The head and the bytes go as two writes: the bytes are never copied into a frame.
          socket.write(dataHead(offset, this.crc32 ? crc32(data) : 0, data.length));
          // Back to the pool once the kernel has the bytes, or the socket gave up on them.
          room = socket.write(data, last && options.pool ? () => options.pool?.give(chunk) : undefined);
          offset += data.length;
        }
        flow.offset = offset;
        const kind = this.#kind;
        if (kind) safely(() => metrics.bytesSent.inc({ kind }, chunk.length));
        flow.lastFrame = performance.now();
        if (!room) await roomOrEnd(socket, signal);
      }
      if (signal.aborted) throw cancelled();
      flow.ended = true;
      socket.write(endFrame(flow.offset, hash.digest('hex')));
      // Our side is done; the reply comes on the other half of the connection.
      await new Promise<void>((resolve, reject) => socket.end((error?: Error | null) => (error ? reject(error) : resolve())));
      return await answer;
    } catch (error) {
      // The destination's own words, when it sent any, say more than a broken pipe does.
      const reason = await Promise.race([answer.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 200, undefined))]);
      if (reason instanceof FerryError && reason.code !== 'TRANSFER_FAILED') throw reason;
      if (options.signal?.aborted) throw cancelled();
      const e = error instanceof FerryError ? error : FerryError.from(error);
      throw e.code === 'INTERNAL' || e.code === 'CANCELLED' ? failed(`sending to ${name} failed: ${e.message}`, error).at('transfer', name) : e.at('transfer', name);
    } finally {
      clearInterval(watch);
      socket.destroy();
      // Not awaited: a source waiting for a buffer or a file ends when its caller's signal does.
      void chunks.return?.(undefined).catch(() => undefined);
    }
  }
}
