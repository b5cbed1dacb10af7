// A few large buffers that take turns, for the hot paths that read a gigabyte from disk into a
// socket: a fresh buffer per read costs, besides the allocation, a full garbage collection every
// 64 MB of them. Whoever fills a buffer takes it; whoever knows its bytes are gone (the socket's
// write callback) gives it back, by any view of it.
import { FerryError } from '../../common/errors.ts';

export class BufferPool {
  readonly size: number;
  readonly #free: Buffer[] = [];
  readonly #mine = new Set<ArrayBufferLike>();
  /** Taken and not yet given back: a buffer is given back once, however many views of it come. */
  readonly #out = new Set<ArrayBufferLike>();
  readonly #waiting: Array<() => void> = [];

  /** Buffers not made yet: each is made when first needed, so a short stream costs only what it uses. */
  #unmade: number;

  constructor(size: number, count: number) {
    this.size = size;
    this.#unmade = count;
  }

  /** How many buffers are free now (made or not). */
  get free(): number {
    return this.#free.length + this.#unmade;
  }

  /** A free buffer, once there is one. */
  async take(signal?: AbortSignal): Promise<Buffer> {
    for (;;) {
      if (!this.#free.length && this.#unmade > 0) {
        this.#unmade -= 1;
        const made = Buffer.allocUnsafeSlow(this.size);
        this.#mine.add(made.buffer);
        this.#free.push(made);
      }
      const buffer = this.#free.pop();
      if (buffer) {
        this.#out.add(buffer.buffer);
        return buffer;
      }
      if (signal?.aborted) throw new FerryError('CANCELLED', 'stopped waiting for a buffer', { phase: 'transfer', cause: signal.reason });
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener('abort', wake);
          // Woken by the abort, it must not take the place of a taker still waiting.
          const at = this.#waiting.indexOf(wake);
          if (at >= 0) this.#waiting.splice(at, 1);
          resolve();
        };
        this.#waiting.push(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Gives back the buffer that `view` lies in; a view of anything else is ignored. */
  give(view: Buffer): void {
    if (!this.#mine.has(view.buffer) || !this.#out.delete(view.buffer)) return;
    this.#free.push(Buffer.from(view.buffer, 0, this.size));
    this.#waiting.shift()?.();
  }
}
