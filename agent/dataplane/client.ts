// The source's end of a data connection: connect to the destination's data port with mutual TLS,
// present the grant (OPEN), learn where to start (READY), then stream: bytes -> frames (offset,
// CRC-32, running SHA-256) -> socket, with backpressure from the socket all the way back to the
// disk read. The destination acknowledges what it took (ACK); a stream that stops being
// acknowledged is given up so that the caller can resume it.
import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { FerryError } from '../../common/errors.ts';
import type { TlsFiles } from '../../common/pki.ts';
import { controlFrame, DATA_FRAME_BYTES, dataHead, endFrame, FrameDecoder, pingFrame, type Frame } from './frames.ts';
import { errorFrom, readControl } from './socket.ts';

/** Where a destination takes streams: its agent's address, the port from the grant, and its name (for TLS). */
export interface DataEndpoint {
  host: string;
  port: number;
  name: string;
}

export interface SendOptions {
  source: AsyncIterable<Buffer>;
  /** SHA-256 state over the bytes before the resume offset (the destination kept them). */
  hash?: Hash | undefined;
  /** Caps the stream's rate (bytes per second); 0 or absent: as fast as it goes. */
  bytesPerSecond?: number | undefined;
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

/** Bytes -> DATA frames (at most DATA_FRAME_BYTES each) and, at the end, the END frame. */
class FrameEncoder extends Transform {
  #offset: number;
  readonly #hash: Hash;
  #ended = false;
  /** When a frame last went out: the pinger stays quiet while data flows. */
  lastFrameAt = performance.now();

  constructor(offset: number, hash: Hash) {
    super({ readableHighWaterMark: DATA_FRAME_BYTES });
    this.#offset = offset;
    this.#hash = hash;
  }

  get offset(): number {
    return this.#offset;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (let start = 0; start < chunk.length; start += DATA_FRAME_BYTES) {
      const data = chunk.subarray(start, start + DATA_FRAME_BYTES);
      this.#hash.update(data);
      // The head and the bytes go out as two writes: the bytes are never copied into a frame.
      this.push(dataHead(this.#offset, crc32(data), data.length));
      this.push(data);
      this.#offset += data.length;
    }
    this.lastFrameAt = performance.now();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#ended = true;
    callback(null, endFrame(this.#offset, this.#hash.digest('hex')));
  }

  ping(): void {
    if (this.#ended || this.destroyed) return;
    this.push(pingFrame());
    this.lastFrameAt = performance.now();
  }
}

/** Lets bytes through no faster than `bytesPerSecond`, without saving up credit while idle. */
class Throttle extends Transform {
  readonly #bytesPerMs: number;
  #next = 0;

  constructor(bytesPerSecond: number) {
    super();
    this.#bytesPerMs = bytesPerSecond / 1000;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const now = performance.now();
    const at = Math.max(this.#next, now);
    this.#next = at + chunk.length / this.#bytesPerMs;
    if (at <= now) callback(null, chunk);
    else setTimeout(() => callback(null, chunk), at - now);
  }
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
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => checkServerIdentity(endpoint.name, certificate),
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

/** One granted stream to a destination, opened and ready to send. */
export class DataConnection {
  readonly endpoint: DataEndpoint;
  /** Where the destination wants the bytes to start: what it already holds of a resumed stream. */
  readonly resumeFrom: number;
  readonly #socket: Socket;
  readonly #stallMs: number;

  private constructor(endpoint: DataEndpoint, socket: Socket, resumeFrom: number, stallMs: number) {
    this.endpoint = endpoint;
    this.#socket = socket;
    this.resumeFrom = resumeFrom;
    this.#stallMs = stallMs;
  }

  /** Connects and presents the grant; resolves once the destination is ready for the bytes. */
  static async open(
    endpoint: DataEndpoint,
    tls: TlsFiles | undefined,
    token: string,
    options: { signal?: AbortSignal | undefined; stallMs?: number | undefined } = {},
  ): Promise<DataConnection> {
    const socket = await connectSocket(endpoint, tls, options.signal);
    try {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 5_000);
      socket.on('error', () => {}); // reported by whatever reads or writes next
      socket.write(controlFrame('OPEN', { token }));
      const ready = await readControl(socket, 'READY', READY_TIMEOUT_MS);
      const resumeFrom = Number(ready.resumeFrom ?? 0);
      if (!Number.isSafeInteger(resumeFrom) || resumeFrom < 0) throw new FerryError('BAD_REQUEST', `data plane: READY with a bad resume offset ${String(ready.resumeFrom)}`);
      return new DataConnection(endpoint, socket, resumeFrom, options.stallMs ?? DEFAULT_STALL_MS);
    } catch (error) {
      socket.destroy();
      throw FerryError.from(error, { phase: 'transfer', host: endpoint.name }).at('transfer', endpoint.name);
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  /**
   * Streams `source` (which starts at `resumeFrom`) and resolves with the destination's DONE:
   * bytes and SHA-256 of the whole stream as it received and checked them.
   */
  async send(options: SendOptions): Promise<SendResult> {
    const started = performance.now();
    const socket = this.#socket;
    const name = this.endpoint.name;
    const local = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
    const encoder = new FrameEncoder(this.resumeFrom, options.hash ?? createHash('sha256'));
    let acked = this.resumeFrom;
    let lastAck = performance.now();
    let pinged = false;
    // Replies: ACKs while the bytes flow, then DONE, or ERROR at any time.
    const replies = new FrameDecoder();
    socket.pipe(replies);
    const answer = new Promise<SendResult>((resolve, reject) => {
      replies.on('data', (frame: Frame) => {
        if (frame.type === 'ACK') {
          acked = Math.max(acked, Number(frame.body.bytes ?? 0));
          lastAck = performance.now();
          pinged = false;
          options.onProgress?.(acked);
        } else if (frame.type === 'DONE') {
          resolve({ bytes: Number(frame.body.bytes ?? 0), sha256: String(frame.body.sha256 ?? ''), ms: Math.round(performance.now() - started) });
        } else if (frame.type === 'ERROR') {
          const error = errorFrom(frame.body).at('transfer', name);
          reject(error);
          local.abort(error);
        }
      });
      replies.on('error', (error) => reject(failed(`the reply from ${name} is garbled: ${error.message}`, error)));
      socket.once('close', () => reject(failed(`the data connection to ${name} closed before it confirmed the stream`)));
    });
    answer.catch(() => undefined); // looked at below, after the bytes went out (or failed to)
    const watch = setInterval(() => {
      const now = performance.now();
      if (now - encoder.lastFrameAt >= PING_EVERY_MS && !pinged) {
        encoder.ping();
        pinged = true;
      }
      const waiting = encoder.offset > acked || pinged;
      if (waiting && now - lastAck > this.#stallMs) {
        socket.destroy(failed(`${name} acknowledged nothing for ${Math.round(this.#stallMs / 1000)} s (link or agent down)`));
      }
    }, 500);
    try {
      const stages: Transform[] = options.bytesPerSecond ? [new Throttle(options.bytesPerSecond), encoder] : [encoder];
      await pipeline([Readable.from(options.source), ...stages, socket], { signal });
      return await answer;
    } catch (error) {
      // The destination's own words, when it sent any, say more than a broken pipe does.
      const reason = await Promise.race([answer.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 200, undefined))]);
      if (reason instanceof FerryError && reason.code !== 'TRANSFER_FAILED') throw reason;
      if (options.signal?.aborted) throw new FerryError('CANCELLED', 'the transfer was cancelled', { phase: 'transfer', host: name });
      const e = error instanceof FerryError ? error : FerryError.from(error);
      throw e.code === 'INTERNAL' || e.code === 'CANCELLED' ? failed(`sending to ${name} failed: ${e.message}`, error).at('transfer', name) : e.at('transfer', name);
    } finally {
      clearInterval(watch);
      socket.destroy();
    }
  }
}
