// Applies a data tar stream (see pack.ts) under staging paths on the destination. Every entry
// must map into a declared path; nothing is written through a symlink; only files, directories,
// symlinks and hard links are made. Runs of zeros become holes, so sparse files stay sparse.
// Directory modes and times are set last, once their contents stopped changing them.
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { FerryError } from '../../common/errors.ts';
import { PAX_MTIME, PAX_REMOVE } from './pack.ts';

const HOLE_BLOCK = 64 * 1024;

/** Maps a host path named in the tar to where it is written, or undefined when not allowed. */
export type Resolve = (hostPath: string) => { target: string; root: string } | undefined;

export interface ExtractStats {
  entries: number;
  bytes: number;
  removed: number;
}

function refuse(message: string): FerryError {
  return new FerryError('BAD_REQUEST', message, { phase: 'transfer' });
}

/** The host path a tar entry names, refusing anything that could climb out. */
export function entryPath(name: string): string {
  if (!name || name.includes('\0')) throw refuse('a data entry has an empty or invalid name');
  const parts = name.replace(/\/+$/, '').split('/');
  if (name.startsWith('/') || parts.some((p) => p === '..' || p === '.' || p === '')) {
    throw refuse(`data entry "${name}" is not a clean relative path`);
  }
  return `/${parts.join('/')}`;
}

/** No component between the root and the target (exclusive) may be a symlink. */
async function assertNoSymlinkBetween(root: string, target: string): Promise<void> {
  if (target === root) return;
  const rest = relative(root, dirname(target));
  if (rest.startsWith('..')) throw refuse(`${target} is outside ${root}`);
  let current = root;
  for (const part of rest ? rest.split(sep) : []) {
    current = `${current}${sep}${part}`;
    const stats = await lstat(current).catch(() => undefined);
    if (stats?.isSymbolicLink()) throw refuse(`refusing to write ${target} through the symlink ${current}`);
  }
}

function mtimeOf(header: tar.Header): number {
  const pax = header.pax as Record<string, string> | null | undefined;
  const ns = pax?.[PAX_MTIME];
  if (!ns) return header.mtime.getTime() / 1000;
  // Whole seconds and the fraction apart: nanoseconds since 1970 exceed a double's exact range,
  // and converting them whole would round twice (off by up to a microsecond).
  const total = BigInt(ns);
  return Number(total / 1_000_000_000n) + Number(total % 1_000_000_000n) / 1e9;
}

/**
 * Writes the entry's bytes, leaving a hole for every aligned block of zeros, as the source had.
 * Blocks are cut at file offsets, not at chunk boundaries: how the bytes were chunked on the way
 * (TLS records, tar headers, stream buffers) must not decide whether a file stays sparse.
 */
async function writeSparse(path: string, source: AsyncIterable<Buffer>, size: number, mode: number): Promise<number> {
  const file = await open(path, 'w', mode & 0o777);
  let position = 0;
  const put = async (block: Buffer) => {
    if (block.length !== HOLE_BLOCK || !block.every((b) => b === 0)) await file.write(block, 0, block.length, position);
    position += block.length;
  };
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of source) {
      for (let at = 0; at < chunk.length; ) {
        const piece = chunk.subarray(at, at + HOLE_BLOCK - pendingBytes);
        at += piece.length;
        if (!pendingBytes && piece.length === HOLE_BLOCK) {
          await put(piece); // a whole block in one chunk: no copy
          continue;
        }
        pending.push(piece);
        pendingBytes += piece.length;
        if (pendingBytes === HOLE_BLOCK) {
          await put(Buffer.concat(pending, pendingBytes));
          pending = [];
          pendingBytes = 0;
        }
      }
    }
    if (pendingBytes) await put(Buffer.concat(pending, pendingBytes));
    if (position !== size) throw refuse(`${path}: the entry held ${position} bytes, its header said ${size}`);
    await file.truncate(size);
  } finally {
    await file.close();
  }
  return size;
}

export interface ExtractLimits {
  /** Most file bytes the stream may write (e.g. the free space of the destination). */
  maxBytes: number;
  maxEntries: number;
}

export const DEFAULT_LIMITS: ExtractLimits = { maxBytes: Number.MAX_SAFE_INTEGER, maxEntries: 10_000_000 };

export async function extractData(input: AsyncIterable<Buffer>, resolve: Resolve, limits: ExtractLimits = DEFAULT_LIMITS): Promise<ExtractStats> {
  const extract = tar.extract();
  const stats: ExtractStats = { entries: 0, bytes: 0, removed: 0 };
  const directories: Array<{ target: string; header: tar.Header }> = [];
  // A failed entry destroys `extract`, which ends the pipeline and stops reading the input.
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream);
  feeding.catch(() => undefined); // awaited below, once the entries are placed or refused

  const place = async (name: string) => {
    const hostPath = entryPath(name);
    const where = resolve(hostPath);
    if (!where) throw refuse(`data entry ${hostPath} is outside the paths declared for this migration`);
    await assertNoSymlinkBetween(where.root, where.target);
    return where.target;
  };

  try {
    await applyEntries(extract, { place, stats, directories, limits });
  } catch (error) {
    extract.destroy(error as Error);
    await feeding.catch(() => undefined);
    throw error;
  }
  await feeding;
  for (const { target, header } of directories.reverse()) {
    await chown(target, header.uid, header.gid);
    await chmod(target, header.mode);
    const mtime = mtimeOf(header);
    await utimes(target, mtime, mtime);
  }
  return stats;
}

/** One entry as the extractor gives it: its header, and its bytes as a stream. */
type Entry = tar.Extract extends AsyncIterable<infer E> ? E : never;

/** Where applyEntries puts what arrives, and what it counts. */
interface Applying {
  place: (name: string) => Promise<string>;
  stats: ExtractStats;
  /** Directories get their owner, mode and times last, once nothing more is written in them. */
  directories: Array<{ target: string; header: tar.Header }>;
  limits: ExtractLimits;
}

/** Each entry in turn: checked against the limits, then removed (a deletion) or written. */
async function applyEntries(extract: tar.Extract, { place, stats, directories, limits }: Applying): Promise<void> {
  for await (const entry of extract) {
    const header = entry.header;
    const target = await place(header.name);
    const pax = header.pax as Record<string, string> | null | undefined;
    stats.entries += 1;
    if (stats.entries > limits.maxEntries) throw refuse(`more than ${limits.maxEntries} data entries`);
    if (header.type === 'file' && stats.bytes + header.size > limits.maxBytes) {
      throw refuse(`data entry ${header.name} would take the data past ${limits.maxBytes} bytes (its header says ${header.size})`);
    }
    if (pax?.[PAX_REMOVE] === '1') {
      await rm(target, { recursive: true, force: true });
      stats.removed += 1;
      entry.resume();
      continue;
    }
    await writeEntry(entry, target, { place, stats, directories, limits });
  }
}

/** One file, directory or link, as its header says. */
async function writeEntry(entry: Entry, target: string, { place, stats, directories }: Applying): Promise<void> {
  const header = entry.header;
  await mkdir(dirname(target), { recursive: true });
  const mtime = mtimeOf(header);
  switch (header.type) {
    case 'directory': {
      const existing = await lstat(target).catch(() => undefined);
      if (existing && !existing.isDirectory()) await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      directories.push({ target, header });
      entry.resume();
      break;
    }
    case 'file': {
      await rm(target, { recursive: true, force: true });
      stats.bytes += await writeSparse(target, entry as unknown as AsyncIterable<Buffer>, header.size, header.mode);
      await chown(target, header.uid, header.gid);
      await chmod(target, header.mode);
      await utimes(target, mtime, mtime);
      break;
    }
    case 'symlink': {
      await rm(target, { recursive: true, force: true });
      await symlink(header.linkname, target);
      await lchown(target, header.uid, header.gid);
      await lutimes(target, mtime, mtime);
      entry.resume();
      break;
    }
    case 'link': {
      const existing = await place(header.linkname);
      await rm(target, { recursive: true, force: true });
      await link(existing, target);
      entry.resume();
      break;
    }
    default:
      throw refuse(`data entry ${header.name} is a ${header.type}; only files, directories and links are accepted`);
  }
}
