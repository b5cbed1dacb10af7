// What a checkpoint archive may hold before this host's podman imports it as root. podman 4.3
// extracts it with containers/storage's plain Untar (pkg/checkpoint/crutils, storage v1.43.0):
// an entry that is an absolute symlink passes its check, and later entries are then written
// through it, outside the container's directory; a hard link may reach a host file through such a
// symlink. podman's own export (exportCheckpoint) holds only files and directories, under the
// names below, with no pax or GNU headers on these hosts. So anything else is refused before
// podman sees the entry's header: a source host whose root was taken cannot use the import to
// write on this one. (The rootfs diff inside rootfs-diff.tar is not looked into here.)
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { FerryError } from '../../common/errors.ts';
import { TarWalker, type TarEntry } from '../transfer/tar-walk.ts';

/** The top-level names podman 4.3's export writes (config, CRIU's images, the rootfs diff, volumes, logs). */
const TOP_LEVEL = new Set([
  'artifacts',
  'checkpoint',
  'config.dump',
  'spec.dump',
  'network.status',
  'stats-dump',
  'ctr.log',
  'rootfs-diff.tar',
  'deleted.files',
  'devshm-checkpoint.tar',
  'volumes',
]);

/** Files kept whole while the archive is checked: what podman would create the container from. */
const KEPT_FILES = new Set(['config.dump', 'spec.dump']);
const MAX_KEPT_BYTES = 16 * 1024 * 1024;

function refused(entry: TarEntry, why: string): FerryError {
  return new FerryError('ARCHIVE_REFUSED', `the checkpoint archive's entry "${entry.name}" ${why}; podman's export never writes one, so it is not imported`, {
    phase: 'restore',
  });
}

/** Throws ARCHIVE_REFUSED unless the entry is one podman's export would have written. */
export function checkArchiveEntry(entry: TarEntry): void {
  if (entry.extended) throw refused(entry, 'comes with a pax or GNU extended header (which could rename it)');
  if (entry.type !== '0' && entry.type !== '5') throw refused(entry, `is of tar type "${entry.type}", not a file or a directory`);
  const name = entry.name.replace(/^\.\//, '');
  if (name.startsWith('/')) throw refused(entry, 'has an absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refused(entry, 'climbs out with ".."');
  if (!TOP_LEVEL.has(parts[0] ?? '')) throw refused(entry, 'is not one of the names podman exports');
}

/** Refused for what it holds (its entries, or the container it would make): no other way of importing it is tried. */
export const refusedArchive = (error: unknown) => error instanceof FerryError && (error.code === 'ARCHIVE_REFUSED' || error.code === 'POLICY_DENIED');

/**
 * Walks a whole archive file (plain, gzip or zstd, as podman's --compress makes them) and
 * checks every entry; throws ARCHIVE_REFUSED at the first one podman's export would not write.
 * Returns the entries' names, where the end marker begins (in the uncompressed tar), and the
 * contents of config.dump and spec.dump (for the admission check, admission/judge.ts).
 */
export async function checkArchiveFile(path: string): Promise<{ names: string[]; endAt: number | undefined; files: Map<string, Buffer> }> {
  const head = Buffer.alloc(4);
  const file = await open(path, 'r');
  try {
    await file.read(head, 0, 4, 0);
  } finally {
    await file.close();
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const zstd = head.readUInt32LE(0) === 0xfd2fb528;
  const names: string[] = [];
  const files = new Map<string, Buffer>();
  /** config.dump and spec.dump: where their bytes lie in the tar, and how many were copied. */
  const wanted: Array<{ name: string; from: number; data: Buffer; got: number }> = [];
  const walker = new TarWalker((entry) => {
    checkArchiveEntry(entry);
    names.push(entry.name);
    const name = entry.name.replace(/^\.\//, '');
    if (KEPT_FILES.has(name) && entry.type === '0' && entry.size <= MAX_KEPT_BYTES) {
      const data = Buffer.alloc(entry.size);
      files.set(name, data);
      wanted.push({ name, from: entry.end - Math.ceil(entry.size / 512) * 512, data, got: 0 });
    }
  });
  let offset = 0;
  const walk = new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        walker.push(chunk);
        // The header that names a kept file came in this chunk or an earlier one: copy what of its bytes this one holds.
        for (const file of wanted) {
          if (file.got === file.data.length) continue;
          const start = Math.max(file.from + file.got, offset);
          const end = Math.min(file.from + file.data.length, offset + chunk.length);
          if (end > start) file.got += chunk.copy(file.data, start - file.from, start - offset, end - offset);
        }
        offset += chunk.length;
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  });
  const source = createReadStream(path, { highWaterMark: 1024 * 1024 });
  await (gzip ? pipeline(source, createGunzip(), walk) : zstd ? pipeline(source, createZstdDecompress(), walk) : pipeline(source, walk));
  return { names, endAt: walker.endAt, files };
}
