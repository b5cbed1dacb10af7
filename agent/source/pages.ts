// CRIU's memory pages, on their own stream, while CRIU writes them (docs/pages.md).
//
// podman 4.3 writes its export only after CRIU's dump, tarring the checkpoint directory whole:
// at a gigabyte, rewriting the pages into that tar and streaming it took most of the outage. So
// before the freeze the source asks Ferry's CRIU action script (criu/action-script.ts) to move the
// pages out of the checkpoint directory once CRIU is done with them, and meanwhile follows
// `checkpoint/pages-1.img` as CRIU writes it, on a stream of its own. podman's export then holds
// everything but the pages; the destination puts them back into the archive it feeds podman.
//
// What the stream carries (its layout): the pages files in the order of their numbers, each
// whole, then a manifest (JSON: each file's name and size) and the manifest's length (8 bytes,
// big-endian). The layout is known for sure only once the dump is over; until then only the
// first file is followed, as it grows. A resumed stream waits for the dump to be over and picks
// up at its offset in the layout.
//
// When the script did not run (a runc.conf without it), the pages stayed in the checkpoint
// directory and podman exported them: the stream is dropped unfinished and the archive alone
// carries the container.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../../common/errors.ts';
import { PAGES_ASIDE, PAGES_DONE, PAGES_NAME, PAGES_REQUEST } from '../criu/action-script.ts';
import type { BufferPool } from '../dataplane/pool.ts';
import { hashPrefix } from '../transfer/hash.ts';

export interface PagesFile {
  name: string;
  size: number;
}

const READ_BYTES = 1024 * 1024;
const POLL_MS = 2;

/** The pages stay out of podman's export: remove what a kept checkpoint of an earlier move left, then ask. */
export async function requestPagesAside(userdata: string, migrationId: string): Promise<void> {
  // The container runs: a checkpoint directory now is a stale one (a rollback restores with
  // --keep), whose pages-1.img the follower must not take for CRIU's.
  await rm(join(userdata, 'checkpoint'), { recursive: true, force: true });
  await rm(join(userdata, PAGES_ASIDE), { recursive: true, force: true });
  await writeFile(join(userdata, PAGES_REQUEST), `${migrationId}\n`);
}

/** No later checkpoint of this container (a park, podman's own) has its pages moved. */
export async function withdrawPagesRequest(userdata: string): Promise<void> {
  await rm(join(userdata, PAGES_REQUEST), { force: true });
}

/** Before a restore in place: the pages go back into the checkpoint directory. Returns their names. */
export async function putPagesBack(userdata: string): Promise<string[]> {
  const aside = join(userdata, PAGES_ASIDE);
  const names = (await readdir(aside).catch(() => [] as string[])).filter((name) => PAGES_NAME.test(name));
  if (names.length) await mkdir(join(userdata, 'checkpoint'), { recursive: true });
  for (const name of names) await rename(join(aside, name), join(userdata, 'checkpoint', name));
  await rm(aside, { recursive: true, force: true });
  await withdrawPagesRequest(userdata);
  return names;
}

/** Thrown when the dump ended without the script moving the pages: they are in podman's export. */
export class PagesInArchive extends Error {
  override readonly name = 'PagesInArchive';
}

const byNumber = (a: string, b: string) => Number(PAGES_NAME.exec(a)?.[1]) - Number(PAGES_NAME.exec(b)?.[1]);

/** The pages files moved aside, in the layout's order, once the script said they are all there. */
export async function pagesAside(userdata: string): Promise<PagesFile[] | undefined> {
  const aside = join(userdata, PAGES_ASIDE);
  const names = await readdir(aside).catch(() => undefined);
  if (!names?.includes(PAGES_DONE)) return undefined;
  const files: PagesFile[] = [];
  for (const name of names.filter((n) => PAGES_NAME.test(n)).sort(byNumber)) files.push({ name, size: (await stat(join(aside, name))).size });
  return files;
}

/** The manifest and its length, which end the stream. */
export function pagesTrailer(files: PagesFile[]): Buffer {
  const json = Buffer.from(JSON.stringify({ files }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(json.length));
  return Buffer.concat([json, length]);
}

/** The layout's pieces, in order: each file's bytes, then the trailer. */
function layout(userdata: string, files: PagesFile[]): Array<{ path: string; size: number } | Buffer> {
  return [...files.map((f) => ({ path: join(userdata, PAGES_ASIDE, f.name), size: f.size })), pagesTrailer(files)];
}

/** SHA-256 of the layout's first `length` bytes: a resumed stream's hash starts from it. */
export async function hashLayoutPrefix(userdata: string, files: PagesFile[], length: number): Promise<Hash> {
  const hash = createHash('sha256');
  let left = length;
  for (const piece of layout(userdata, files)) {
    if (left <= 0) break;
    const size = Buffer.isBuffer(piece) ? piece.length : piece.size;
    if (Buffer.isBuffer(piece)) hash.update(piece.subarray(0, left));
    else await hashPrefix(piece.path, Math.min(size, left), hash);
    left -= Math.min(left, size);
  }
  return hash;
}

export interface FollowPagesOptions {
  /** The container's directory (podman's userdata). */
  userdata: string;
  /** Settles once CRIU's dump is over (podman's export appeared, or podman exited). */
  dumpOver: Promise<unknown>;
  /** Start here in the layout (a resumed stream): waits for the dump to be over first. */
  from?: number | undefined;
  pool?: BufferPool | undefined;
  signal?: AbortSignal | undefined;
  /** Called with the layout's files once they are known. */
  onFiles?: ((files: PagesFile[]) => void) | undefined;
}

/**
 * Yields the stream's bytes from `from` on: the first pages file while CRIU writes it, the rest
 * (and the first's last bytes) once the script moved them aside, then the trailer. Throws
 * PagesInArchive when the dump ended and the pages were not moved.
 */
export async function* followPages(options: FollowPagesOptions): AsyncGenerator<Buffer> {
  const { userdata, signal, pool } = options;
  let over = false;
  options.dumpOver.then(
    () => (over = true),
    () => (over = true),
  );
  let position = 0;
  const from = options.from ?? 0;
  let first: FileHandle | undefined;
  try {
    // Until the script says every file is aside (the dump is over), a fresh stream follows
    // pages-1.img as CRIU writes it; a resumed one only waits, its layout known only then.
    const growing = join(userdata, 'checkpoint', 'pages-1.img');
    let files: PagesFile[] | undefined;
    for (;;) {
      const overBefore = over;
      files = await pagesAside(userdata);
      if (files) break;
      if (overBefore) throw new PagesInArchive('the dump ended and its pages were not moved aside: they are in podman\'s export');
      if (from === 0) first ??= await open(growing, 'r').catch(() => undefined);
      if (first) {
        const buffer = pool ? await pool.take(signal) : Buffer.allocUnsafe(READ_BYTES);
        const { bytesRead } = await first.read(buffer, 0, buffer.length, position);
        if (bytesRead) {
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
          continue;
        }
        pool?.give(buffer);
      }
      await sleep(POLL_MS, undefined, { signal });
    }
    options.onFiles?.(files);
    // What went out while CRIU wrote must be the start of the layout: pages-1.img, whole or in part.
    if (position > 0 && (files[0]?.name !== 'pages-1.img' || position > (files[0]?.size ?? 0))) {
      throw new FerryError('INTERNAL', `the pages sent during the dump (${position} bytes of pages-1.img) do not begin the files moved aside (${files.map((f) => f.name).join(', ')})`, { phase: 'transfer' });
    }
    await first?.close();
    first = undefined;
    position = Math.max(position, from);
    let start = 0;
    for (const piece of layout(userdata, files)) {
      const size = Buffer.isBuffer(piece) ? piece.length : piece.size;
      const end = start + size;
      if (position < end) {
        if (Buffer.isBuffer(piece)) {
          yield piece.subarray(position - start);
        } else {
          yield* readRange(piece.path, position - start, size, pool, signal);
        }
        position = end;
      }
      start = end;
    }
  } finally {
    await first?.close();
  }
}

/** A file's bytes from `at` to `size`, into pooled buffers (the bench's link reads its files with it too). */
export async function* readRange(path: string, at: number, size: number, pool: BufferPool | undefined, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    for (let offset = at; offset < size; ) {
      const buffer = pool ? await pool.take(signal) : Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, size - offset), offset);
      if (!bytesRead) {
        pool?.give(buffer);
        throw new FerryError('INTERNAL', `${path} is shorter than ${size} bytes`, { phase: 'transfer' });
      }
      offset += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}
