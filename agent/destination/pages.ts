// The memory pages that came beside the archive (source/pages.ts), put back where podman's
// import expects them: as `checkpoint/pages-N.img` entries of the archive it extracts, written by
// this host just before the archive's end marker. The stream they came on was checked whole
// (size and SHA-256) before any of it is used; its manifest is checked here against its size.
import { join } from 'node:path';
import { link, mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { FerryError } from '../../common/errors.ts';
import { PAGES_NAME } from '../criu/action-script.ts';
import type { PodmanStore } from '../podman/info.ts';
import { fileHeader, linkHeader } from '../transfer/tar-header.ts';
import { BLOCK } from '../transfer/tar-walk.ts';

/**
 * Where a migration's pages stream lands: inside podman's storage, on the same mount as the
 * directory the restored container will get, so that the first pages file can be linked there
 * rather than copied (a hard link cannot cross mounts, bind mounts included).
 */
export async function pagesPathOf(store: PodmanStore, id: string): Promise<string> {
  const dir = join(store.graphRoot, 'ferry-pages');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return join(dir, `${id}.pages`);
}

/** The directory podman gives a container (its userdata), where its import extracts the archive. */
export function containerDirectoryOf(store: PodmanStore, containerId: string): string {
  return join(store.graphRoot, `${store.driver}-containers`, containerId, 'userdata');
}

/** The link to the pages file that the first pages entry points at, in the container's directory. */
export const LINKED_PAGES = 'ferry-pages.img';

export interface StagedPage {
  name: string;
  /** Where its bytes start in the pages file. */
  offset: number;
  size: number;
}

const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Names an entry of the archive that already holds pages (the source's script did not run). */
export const PAGES_ENTRY = /^(\.\/)?checkpoint\/pages-\d+\.img$/;

function bad(message: string): FerryError {
  return new FerryError('INTEGRITY_MISMATCH', `the pages stream ${message}`, { phase: 'restore' });
}

/** The pages in a verified pages file of `bytes` bytes: from its manifest, checked against its size. */
export async function stagedPages(path: string, bytes: number): Promise<StagedPage[]> {
  const file = await open(path, 'r');
  try {
    if (bytes < 8) throw bad(`is ${bytes} bytes, too short for its manifest`);
    const tail = Buffer.alloc(8);
    await file.read(tail, 0, 8, bytes - 8);
    const length = Number(tail.readBigUInt64BE(0));
    if (length > MAX_MANIFEST_BYTES || length > bytes - 8) throw bad(`announces a manifest of ${length} bytes`);
    const json = Buffer.alloc(length);
    await file.read(json, 0, length, bytes - 8 - length);
    let manifest: unknown;
    try {
      manifest = JSON.parse(json.toString('utf8'));
    } catch {
      throw bad('ends with a manifest that is not JSON');
    }
    const files = (manifest as { files?: unknown }).files;
    if (!Array.isArray(files)) throw bad('has a manifest without files');
    const pages: StagedPage[] = [];
    let offset = 0;
    for (const f of files as Array<{ name?: unknown; size?: unknown }>) {
      if (typeof f.name !== 'string' || !PAGES_NAME.test(f.name) || pages.some((p) => p.name === f.name)) throw bad(`names a file ${JSON.stringify(f.name)}`);
      if (typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) throw bad(`gives ${f.name} a size of ${String(f.size)}`);
      pages.push({ name: f.name, offset, size: f.size });
      offset += f.size;
    }
    if (offset + length + 8 !== bytes) throw bad(`holds ${bytes} bytes, where its manifest accounts for ${offset + length + 8}`);
    return pages;
  } finally {
    await file.close();
  }
}

/**
 * The pages as tar entries, `checkpoint/<name>`, handed to `write` a piece at a time (a 1 MiB
 * buffer read from the pages file, reused once `write` resolves). With `linkInto` (the
 * container's directory), the first file, which begins the pages file, is not copied: the pages
 * file is linked into that directory and the entry is a hard link to it, which podman's Untar
 * makes with link(2) inside the directory it extracts to. CRIU reads a pages image at the offsets
 * its pagemap gives and never past them, so the other files and the manifest that follow the
 * first in the pages file are simply never read (measured: a pages-1.img with 3 MB appended
 * restores). Returns the bytes copied and linked.
 */
export async function writePageEntries(
  path: string,
  pages: StagedPage[],
  write: (chunks: Buffer[]) => Promise<void>,
  options: { linkInto?: string | undefined } = {},
): Promise<{ copied: number; linked: number }> {
  const file: FileHandle = await open(path, 'r');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  let written = 0;
  let linked = 0;
  try {
    const first = pages[0];
    if (first && first.offset === 0 && options.linkInto) {
      const at = join(options.linkInto, LINKED_PAGES);
      try {
        await rm(at, { force: true });
        await link(path, at);
        await write([linkHeader(`checkpoint/${first.name}`, LINKED_PAGES, Date.now())]);
        linked = first.size;
      } catch {
        // Another mount, or no such directory: the copy below does it.
      }
    }
    for (const page of linked ? pages.slice(1) : pages) {
      await write([fileHeader(`checkpoint/${page.name}`, page.size, Date.now())]);
      for (let at = 0; at < page.size; ) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, page.size - at), page.offset + at);
        if (!bytesRead) throw bad(`file is shorter than its manifest says (${page.name})`);
        await write([buffer.subarray(0, bytesRead)]);
        at += bytesRead;
      }
      const pad = (BLOCK - (page.size % BLOCK)) % BLOCK;
      if (pad) await write([Buffer.alloc(pad)]);
      written += page.size;
    }
  } finally {
    await file.close();
  }
  return { copied: written, linked };
}
