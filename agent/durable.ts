// The one way the agent's records reach the disk (the migration journal, the park book): a whole
// new file, synced, renamed over the old one, and its directory synced, so a power loss at any
// moment leaves each record either as it was or as it became. Without the syncs a record could
// go back a phase after a reboot (a source from sealed to transfer, resumed beside a restored
// copy at the destination). test/agent/durable.test.ts replays every crash this order allows.
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The file system calls a durable write makes, in order: what a test records and replays. */
export interface DurableFs {
  /** Creates (or truncates) `path`, writes `text` into it, and closes it; no sync. */
  create(path: string, text: string): Promise<void>;
  /** fsync of a file or a directory. */
  sync(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

const nodeFs: DurableFs = {
  async create(path, text) {
    const handle = await open(path, 'w', 0o600);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
  },
  sync: syncPath,
  rename,
};

/** Writes a file so that a crash or a power loss leaves either the old one or the whole new one. */
export async function writeDurably(path: string, text: string, fs: DurableFs = nodeFs): Promise<void> {
  const temporary = `${path}.tmp`;
  await fs.create(temporary, text);
  // The bytes reach the disk before the name does: a rename made durable first would point at
  // a file whose contents the power cut lost.
  await fs.sync(temporary);
  await fs.rename(temporary, path);
  // The rename itself is durable only once its directory is.
  await fs.sync(dirname(path));
}

/** fsync of a file or a directory (a rename is durable once its directory is synced). */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The JSON a durable write left at `path`; undefined when there is none. A file is only ever
 * renamed into place whole, so one that does not parse was never written by it: also undefined.
 */
export async function readDurable(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
