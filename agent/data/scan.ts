// What lies under the bind-mounted paths of a container: every entry's type and the stat fields
// that say whether it changed (size, mtime, ctime, inode), walked parents first. Two scans, one
// while the container runs and one after the freeze, give the delta to send.
import { lstat, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BigIntStats } from 'node:fs';

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface Entry {
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  nlink: number;
  linkTarget?: string | undefined;
}

export type Manifest = Map<string, Entry>;

function typeOf(stats: BigIntStats): EntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

export async function statEntry(path: string): Promise<Entry | undefined> {
  let stats: BigIntStats;
  try {
    stats = await lstat(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const type = typeOf(stats);
  return {
    path,
    type,
    size: Number(stats.size),
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    mtimeNs: stats.mtimeNs,
    ctimeNs: stats.ctimeNs,
    ino: stats.ino,
    nlink: Number(stats.nlink),
    linkTarget: type === 'symlink' ? await readlink(path) : undefined,
  };
}

/** Every entry under the roots (a root may be a single file), parents before children. */
export async function scan(roots: readonly string[]): Promise<Manifest> {
  const manifest: Manifest = new Map();
  async function walk(path: string): Promise<void> {
    const entry = await statEntry(path);
    if (!entry) return; // removed while we walked: the next scan says so
    manifest.set(path, entry);
    if (entry.type !== 'directory') return;
    const names: string[] = [];
    for await (const dirent of await opendir(path)) names.push(dirent.name);
    names.sort();
    for (const name of names) await walk(join(path, name));
  }
  for (const root of roots) await walk(root);
  return manifest;
}

/** Whether an entry differs in anything a copy must reflect. */
export function changed(a: Entry, b: Entry): boolean {
  return (
    a.type !== b.type ||
    a.size !== b.size ||
    a.mode !== b.mode ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    a.mtimeNs !== b.mtimeNs ||
    a.ctimeNs !== b.ctimeNs ||
    a.ino !== b.ino ||
    a.linkTarget !== b.linkTarget
  );
}

export interface Delta {
  /** Entries to send again, parents first. */
  send: Entry[];
  /** Paths that no longer exist, children first. */
  remove: string[];
}

/** What changed between what was sent and what is there now; `dirty` were changing while read. */
export function delta(sent: Manifest, now: Manifest, dirty: ReadonlySet<string> = new Set()): Delta {
  const send: Entry[] = [];
  for (const [path, entry] of now) {
    const before = sent.get(path);
    if (!before || changed(before, entry) || dirty.has(path)) send.push(entry);
  }
  // A hard-linked file that changed is resent with all its names, so the links stay one inode.
  const inodes = new Set(send.filter((e) => e.type === 'file' && e.nlink > 1).map((e) => e.ino));
  if (inodes.size) {
    const have = new Set(send.map((e) => e.path));
    for (const entry of now.values()) if (inodes.has(entry.ino) && !have.has(entry.path)) send.push(entry);
    const order = [...now.keys()];
    const index = new Map(order.map((p, i) => [p, i]));
    send.sort((a, b) => (index.get(a.path) ?? 0) - (index.get(b.path) ?? 0));
  }
  const remove = [...sent.keys()].filter((p) => !now.has(p)).reverse();
  return { send, remove };
}
