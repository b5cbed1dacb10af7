// The data plane's wire format. Every frame is [type u8][body length u32 BE][body]:
//   OPEN  (sender)   JSON: the grant token; crc32: "optional" when the sender can leave it out
//   READY (receiver) JSON: where to start (resume offset); crc32: false when the frames may go
//                    without one (only over TLS, whose records are authenticated already)
//   DATA  (sender)   [offset u64][crc32 u32][bytes]: each chunk says where it belongs and how to
//                    check it (the CRC-32 is 0 when READY said false)
//   PING  (sender)   empty: still here, waiting for the source to produce more (podman's dump)
//   ACK   (receiver) JSON: bytes taken so far; the sender's proof that the stream moves
//   END   (sender)   [total u64][sha256 32 bytes] of the whole stream
//   DONE  (receiver) JSON: bytes and SHA-256 as received and checked
//   ERROR (receiver) JSON: a FerryError, then the receiver closes
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../../common/errors.ts';

export const FRAME = {
  DATA: 0x01,
  END: 0x02,
  PING: 0x03,
  OPEN: 0x10,
  READY: 0x11,
  ACK: 0x12,
  DONE: 0x13,
  ERROR: 0x1f,
} as const;

const CONTROL = new Set<number>([FRAME.OPEN, FRAME.READY, FRAME.ACK, FRAME.DONE, FRAME.ERROR]);

/** What OPEN's crc32 says when the sender may leave the CRC-32 out (see READY). */
export const CRC32_OPTIONAL = 'optional';

/** Bytes of payload per DATA frame: one disk write at the other end. */
export const DATA_FRAME_BYTES = 1024 * 1024;
const MAX_DATA_BODY = 4 * 1024 * 1024 + 12;
const MAX_CONTROL_BODY = 64 * 1024;
const HEAD = 5;
const DATA_HEAD = HEAD + 12;
const SHA256_BYTES = 32;

const EMPTY = Buffer.alloc(0);

/** Refuses a frame whose type is unknown or whose size its type does not allow. */
export function checkLength(type: number, length: number): void {
  if (type === FRAME.DATA) {
    if (length < 12 || length > MAX_DATA_BODY) throw protocol(`a DATA frame of ${length} bytes (12 to ${MAX_DATA_BODY})`);
  } else if (type === FRAME.END) {
    if (length !== 8 + SHA256_BYTES) throw protocol(`an END frame of ${length} bytes`);
  } else if (type === FRAME.PING) {
    if (length !== 0) throw protocol(`a PING frame of ${length} bytes`);
  } else if (CONTROL.has(type)) {
    if (length > MAX_CONTROL_BODY) throw protocol(`a control frame of ${length} bytes (at most ${MAX_CONTROL_BODY})`);
  } else {
    throw protocol(`unknown frame type ${type}`);
  }
}

export type ControlType = 'OPEN' | 'READY' | 'ACK' | 'DONE' | 'ERROR';

export type Frame =
  /** The bytes as the pieces they arrived in: never gathered into a buffer of their own. */
  | { type: 'DATA'; offset: number; crc32: number; parts: Buffer[]; length: number }
  | { type: 'END'; totalBytes: number; sha256: string }
  | { type: 'PING' }
  | { type: ControlType; body: Record<string, unknown> };

const CONTROL_NAMES: Record<number, ControlType> = {
  [FRAME.OPEN]: 'OPEN',
  [FRAME.READY]: 'READY',
  [FRAME.ACK]: 'ACK',
  [FRAME.DONE]: 'DONE',
  [FRAME.ERROR]: 'ERROR',
};

function protocol(message: string): FerryError {
  return new FerryError('BAD_REQUEST', `data plane: ${message}`, { phase: 'transfer' });
}

export function controlFrame(type: ControlType, body: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  const frame = Buffer.allocUnsafe(HEAD + json.length);
  frame[0] = FRAME[type];
  frame.writeUInt32BE(json.length, 1);
  json.copy(frame, HEAD);
  return frame;
}

/** The head of a DATA frame; its bytes follow as a separate write, so they are never copied. */
export function dataHead(offset: number, crc32: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(DATA_HEAD);
  head[0] = FRAME.DATA;
  head.writeUInt32BE(length + 12, 1);
  head.writeBigUInt64BE(BigInt(offset), HEAD);
  head.writeUInt32BE(crc32 >>> 0, HEAD + 8);
  return head;
}

export function endFrame(totalBytes: number, sha256: string): Buffer {
  const frame = Buffer.allocUnsafe(HEAD + 8 + SHA256_BYTES);
  frame[0] = FRAME.END;
  frame.writeUInt32BE(8 + SHA256_BYTES, 1);
  frame.writeBigUInt64BE(BigInt(totalBytes), HEAD);
  Buffer.from(sha256, 'hex').copy(frame, HEAD + 8);
  return frame;
}

export function pingFrame(): Buffer {
  const frame = Buffer.alloc(HEAD);
  frame[0] = FRAME.PING;
  return frame;
}

/**
 * Bytes in, frames out (object mode). A DATA frame's bytes are handed on as the pieces they came
 * in (views of what the socket delivered), not copied into a buffer of their own: at a gigabyte a
 * move, every copy and every allocation counts, and each 64 MB of buffers costs a full garbage
 * collection. Frames larger than the limits, or of unknown types, are refused: a peer cannot make
 * the receiver hold more than one frame.
 */
export class FrameDecoder extends Transform {
  readonly #head = Buffer.alloc(DATA_HEAD);
  #headFilled = 0;
  /** The frame being read: its type, how much of its body is still to come, and what came. */
  #type = 0;
  #left = -1;
  #body: Buffer | undefined;
  #bodyFilled = 0;
  #data: { offset: number; crc32: number; parts: Buffer[]; length: number } | undefined;

  constructor() {
    super({ readableObjectMode: true, readableHighWaterMark: 2 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let i = 0;
      while (i < chunk.length) {
        if (this.#left < 0) {
          // A frame's head: 5 bytes, and for DATA the 12 of offset and CRC-32 that follow.
          const want = this.#headFilled >= HEAD && this.#head[0] === FRAME.DATA ? DATA_HEAD : HEAD;
          const take = Math.min(want - this.#headFilled, chunk.length - i);
          chunk.copy(this.#head, this.#headFilled, i, i + take);
          this.#headFilled += take;
          i += take;
          if (this.#headFilled < want) continue;
          if (want === HEAD) {
            this.#type = this.#head[0] ?? 0;
            const length = this.#head.readUInt32BE(1);
            checkLength(this.#type, length);
            if (this.#type === FRAME.DATA) continue; // its offset and CRC-32 next
            this.#headFilled = 0;
            if (length === 0) {
              this.push(decodeFrame(this.#type, EMPTY));
              continue;
            }
            this.#left = length;
            this.#body = Buffer.allocUnsafe(length);
            this.#bodyFilled = 0;
            continue;
          }
          this.#headFilled = 0;
          this.#left = this.#head.readUInt32BE(1) - 12;
          this.#data = { offset: Number(this.#head.readBigUInt64BE(HEAD)), crc32: this.#head.readUInt32BE(HEAD + 8), parts: [], length: this.#left };
          if (this.#left === 0) this.#endData();
          continue;
        }
        const take = Math.min(this.#left, chunk.length - i);
        if (this.#data) {
          this.#data.parts.push(chunk.subarray(i, i + take));
        } else if (this.#body) {
          chunk.copy(this.#body, this.#bodyFilled, i, i + take);
          this.#bodyFilled += take;
        }
        i += take;
        this.#left -= take;
        if (this.#left > 0) continue;
        if (this.#data) {
          this.#endData();
        } else if (this.#body) {
          const body = this.#body;
          this.#body = undefined;
          this.#left = -1;
          this.push(decodeFrame(this.#type, body));
        }
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  #endData(): void {
    const data = this.#data;
    this.#data = undefined;
    this.#left = -1;
    if (data) this.push({ type: 'DATA', ...data } satisfies Frame);
  }

  override _flush(callback: TransformCallback): void {
    // A frame cut in the middle is simply not delivered; whoever reads decides what an early end means.
    callback();
  }
}

/** One whole frame, from its type and body. */
export function decodeFrame(type: number, body: Buffer): Frame {
  checkLength(type, body.length);
  switch (type) {
    case FRAME.DATA: {
      const data = body.subarray(12);
      return { type: 'DATA', offset: Number(body.readBigUInt64BE(0)), crc32: body.readUInt32BE(8), parts: [data], length: data.length };
    }
    case FRAME.END:
      return { type: 'END', totalBytes: Number(body.readBigUInt64BE(0)), sha256: body.subarray(8).toString('hex') };
    case FRAME.PING:
      return { type: 'PING' };
    default: {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw protocol(`frame type ${type} does not hold JSON`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw protocol(`frame type ${type} does not hold a JSON object`);
      return { type: CONTROL_NAMES[type] as ControlType, body: parsed as Record<string, unknown> };
    }
  }
}
