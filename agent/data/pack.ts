// Bind-mounted data as a tar stream: entries named by their host path (without the leading /),
// ownership, modes and nanosecond mtimes kept (pax ferry.mtime), hard links as links, and paths
// deleted since the last round as entries marked ferry.remove. A file that changes while it is
// read is noted as dirty so the next round sends it again.
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { changed, statEntry, type Entry } from './scan.ts';

export const PAX_MTIME = 'ferry.mtime';
export const PAX_REMOVE = 'ferry.remove';
const READ_BYTES = 256 * 1024;

export interface PackResult {
  stream: AsyncIterable<Buffer>;
  /** Settles when every entry is in the stream: the paths that changed while they were read. */
  done: Promise<Set<string>>;
  /** Bytes of file content packed so far. */
  contentBytes: () => number;
  /** Stops packing (the consumer failed): `done` rejects and open files close. */
  abort: (error: unknown) => void;
}

export const tarName = (path: string) => path.replace(/^\/+/, '');

type HeaderArgument = Partial<tar.Header> & { name: string };

function headerOf(entry: Entry): HeaderArgument {
  return {
    name: tarName(entry.path),
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime: new Date(Number(entry.mtimeNs / 1_000_000n)),
    pax: { [PAX_MTIME]: entry.mtimeNs.toString() },
  };
}

/**
 * Exactly `size` bytes of the open file (zeros if it shrank since the scan: the header already
 * promised that many), counted as they are read; closes it.
 */
async function* content(file: FileHandle, size: number, counted: (n: number) => void): AsyncGenerator<Buffer> {
  try {
    let offset = 0;
    while (offset < size) {
      const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, size - offset));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
      const chunk = bytesRead ? buffer.subarray(0, bytesRead) : Buffer.alloc(size - offset);
      offset += chunk.length;
      counted(bytesRead);
      yield chunk;
    }
  } finally {
    await file.close();
  }
}

/** An entry without a body; the empty buffer ends a 'file' entry (a removal marker) at once. */
function addEntry(pack: tar.Pack, header: HeaderArgument): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, EMPTY, (error) => (error ? reject(error) : resolve())));
}

const EMPTY = Buffer.alloc(0);

export function packEntries(entries: readonly Entry[], removals: readonly string[], skip: (entry: Entry) => void = () => {}): PackResult {
  const pack = tar.pack();
  let bytes = 0;
  const done = (async () => {
    const dirty = new Set<string>();
    const firstName = new Map<bigint, string>();
    for (const path of removals) {
      await addEntry(pack, { name: tarName(path), type: 'file', size: 0, pax: { [PAX_REMOVE]: '1' } });
    }
    for (const entry of entries) {
      const header = headerOf(entry);
      if (entry.type === 'directory') {
        await addEntry(pack, { ...header, type: 'directory' });
      } else if (entry.type === 'symlink') {
        await addEntry(pack, { ...header, type: 'symlink', linkname: entry.linkTarget ?? '' });
      } else if (entry.type === 'file' && entry.nlink > 1 && firstName.has(entry.ino)) {
        await addEntry(pack, { ...header, type: 'link', linkname: firstName.get(entry.ino) ?? '' });
      } else if (entry.type === 'file') {
        // Open before the header goes out: a live file may be gone (renamed, deleted) since the
        // scan. Then it is simply not sent; the next round sees what is there instead.
        const file = await open(entry.path, 'r').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        });
        if (!file) {
          dirty.add(entry.path);
          continue;
        }
        if (entry.nlink > 1) firstName.set(entry.ino, tarName(entry.path));
        let sink!: NodeJS.WritableStream;
        const added = new Promise<void>((resolve, reject) => {
          sink = pack.entry({ ...header, type: 'file', size: entry.size }, (error) => (error ? reject(error) : resolve())) as unknown as NodeJS.WritableStream;
        });
        added.catch(() => undefined); // the pipeline below reports the same failure
        await pipeline(content(file, entry.size, (n) => (bytes += n)), sink);
        await added;
        const after = await statEntry(entry.path);
        if (!after || changed(entry, after)) dirty.add(entry.path);
      } else {
        skip(entry); // sockets, fifos, devices: not data a database keeps
      }
    }
    pack.finalize();
    return dirty;
  })();
  done.catch((error: unknown) => pack.destroy(error as Error));
  return {
    stream: pack as unknown as AsyncIterable<Buffer>,
    done,
    contentBytes: () => bytes,
    abort: (error) => pack.destroy(error instanceof Error ? error : new Error(String(error))),
  };
}
