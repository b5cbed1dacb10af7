// Small pieces both ends of a data connection need: reading one control frame off a socket that
// is not yet in a pipeline, and who is at the other end of a TLS socket.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FerryError } from '../../common/errors.ts';
import { callerOfCertificate, type Caller } from '../../common/rpc.ts';
import { checkLength, decodeFrame, type ControlType } from './frames.ts';

/** Resolves once the socket has data to read; rejects when it ends, fails or the time is up. */
function readable(socket: Socket, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onReadable = () => done();
    const onEnd = () => done(new FerryError('TRANSFER_FAILED', `the data connection closed while waiting for ${what}`, { phase: 'transfer' }));
    const onError = (error: Error) => done(new FerryError('TRANSFER_FAILED', `the data connection failed while waiting for ${what}: ${error.message}`, { phase: 'transfer', cause: error }));
    const timer = setTimeout(() => done(new FerryError('TRANSFER_FAILED', `no ${what} on the data connection within ${Math.round(timeoutMs / 1000)} s`, { phase: 'transfer' })), timeoutMs);
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

/**
 * Reads exactly one frame from a paused socket, leaving whatever follows in it for the pipeline
 * that takes over. An ERROR frame from the other end becomes that error.
 */
export async function readControl(socket: Socket, expected: ControlType, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  const take = async (bytes: number): Promise<Buffer> => {
    for (;;) {
      const chunk = socket.read(bytes) as Buffer | null;
      if (chunk) return chunk;
      if (socket.destroyed || socket.readableEnded) throw new FerryError('TRANSFER_FAILED', `the data connection closed while waiting for ${expected}`, { phase: 'transfer' });
      await readable(socket, Math.max(1, deadline - Date.now()), expected);
    }
  };
  const head = await take(5);
  const length = head.readUInt32BE(1);
  checkLength(head[0] ?? 0, length); // before reading the body: a peer cannot make us wait for gigabytes
  const frame = decodeFrame(head[0] ?? 0, length ? await take(length) : Buffer.alloc(0));
  if (frame.type === 'ERROR') throw errorFrom(frame.body);
  if (frame.type !== expected || !('body' in frame)) throw new FerryError('BAD_REQUEST', `data plane: expected ${expected}, got ${frame.type}`, { phase: 'transfer' });
  return frame.body;
}

/** An ERROR frame's body as the FerryError the other end raised. */
export function errorFrom(body: Record<string, unknown>): FerryError {
  const code = typeof body.code === 'string' ? body.code : 'INTERNAL';
  return FerryError.fromJSON({ ...body, code });
}

/** Who is calling, from the client certificate of a TLS data connection. */
export function callerOfSocket(socket: TLSSocket): Caller | undefined {
  return callerOfCertificate(socket.getPeerCertificate());
}
