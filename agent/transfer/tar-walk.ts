// The structure of a plain (uncompressed) tar, read as its bytes go by and never held whole:
// where each entry starts and ends, and where the end-of-archive marker (two zero blocks)
// begins. The source uses it to know podman's export is complete before podman exits; the
// destination, to find config.dump and spec.dump at the front and to hold back the end marker.
import { FerryError } from '../../common/errors.ts';

export const BLOCK = 512;
/** The end-of-archive marker: two zero blocks. */
export const END_MARKER_BYTES = 2 * BLOCK;

export interface TarEntry {
  name: string;
  /** The type flag: '0' file, '5' directory, '2' symlink, ... */
  type: string;
  size: number;
  /** Offset of the entry's first header, extended headers (pax, GNU long names) included. */
  start: number;
  /** Offset just past its data and padding: where the next entry starts. */
  end: number;
  /** A pax or GNU extended header came before it (which may rename it: only `name` is read here). */
  extended: boolean;
}

/** Extended headers that describe the entry after them rather than being one. */
const EXTENSIONS = new Set(['x', 'g', 'L', 'K']);

function notTar(message: string): FerryError {
  return new FerryError('INTEGRITY_MISMATCH', `not a plain tar archive: ${message}`, { phase: 'transfer' });
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? length : nul).toString('utf8');
}

/** A numeric field: octal text, or base-256 when its first byte has the high bit set. */
function number(block: Buffer, start: number, length: number): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    let value = BigInt(first & 0x7f);
    for (let i = start + 1; i < start + length; i += 1) value = (value << 8n) | BigInt(block[i] ?? 0);
    return Number(value);
  }
  const digits = text(block, start, length).trim();
  if (!/^[0-7]*$/.test(digits)) throw notTar(`bad numeric field "${digits}"`);
  return digits ? parseInt(digits, 8) : 0;
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return sum === number(block, 148, 8);
}

const isZero = (block: Buffer) => block.every((b) => b === 0);

export class TarWalker {
  /** Bytes consumed so far. */
  #position = 0;
  /** Offset of the next header block. */
  #next = 0;
  readonly #block = Buffer.alloc(BLOCK);
  #filled = 0;
  /** Offset of the first extended header of the entry being read. */
  #extendedStart: number | undefined;
  /** Offset of a zero block seen where a header belongs: perhaps the end marker. */
  #zeroAt: number | undefined;
  #endAt: number | undefined;
  readonly #onEntry: (entry: TarEntry) => void;

  constructor(onEntry: (entry: TarEntry) => void = () => {}) {
    this.#onEntry = onEntry;
  }

  /** Offset of the end marker once both its blocks went by. */
  get endAt(): number | undefined {
    return this.#endAt;
  }

  /** Offset just past the end marker (the archive's length), once known. */
  get length(): number | undefined {
    return this.#endAt === undefined ? undefined : this.#endAt + END_MARKER_BYTES;
  }

  get position(): number {
    return this.#position;
  }

  /**
   * Where a zero block sits at a header position, when one does: bytes from there on may be the
   * end marker. Feeding a reader no further than this keeps it waiting for the archive's end.
   */
  get zeroBlockAt(): number | undefined {
    return this.#zeroAt;
  }

  /** Takes the next bytes of the archive. Throws when they are not a tar's. */
  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && this.#endAt === undefined) {
      if (this.#position < this.#next) {
        // Inside an entry's data: skip it.
        const skip = Math.min(this.#next - this.#position, chunk.length - i);
        i += skip;
        this.#position += skip;
        continue;
      }
      const take = Math.min(BLOCK - this.#filled, chunk.length - i);
      chunk.copy(this.#block, this.#filled, i, i + take);
      this.#filled += take;
      i += take;
      this.#position += take;
      if (this.#filled < BLOCK) return;
      this.#filled = 0;
      this.#header(this.#position - BLOCK);
    }
    // Bytes after the end marker (a writer's padding) are not the archive's.
    this.#position += chunk.length - i;
  }

  #header(offset: number): void {
    const block = this.#block;
    this.#next = offset + BLOCK;
    if (isZero(block)) {
      if (this.#zeroAt === undefined) this.#zeroAt = offset;
      else this.#endAt = this.#zeroAt;
      return;
    }
    if (this.#zeroAt !== undefined) throw notTar(`a header follows a zero block at ${this.#zeroAt}`);
    if (!checksumOk(block)) throw notTar(`header checksum mismatch at ${offset}`);
    const size = number(block, 124, 12);
    const type = String.fromCharCode(block[156] ?? 0x30) || '0';
    let name = text(block, 0, 100);
    const prefix = text(block, 257, 6).startsWith('ustar') ? text(block, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    const end = offset + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    this.#next = end;
    if (EXTENSIONS.has(type)) {
      this.#extendedStart ??= offset;
      return;
    }
    const start = this.#extendedStart ?? offset;
    const extended = this.#extendedStart !== undefined;
    this.#extendedStart = undefined;
    this.#onEntry({ name, type: type === '\0' ? '0' : type, size, start, end, extended });
  }
}
