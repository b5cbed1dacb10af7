// The one way the agent's records reach the disk (the migration journal, the park book): a whole
// new file, synced, renamed over the old one, and its directory synced, so a power loss at any
// moment leaves each record either as it was or as it became. Without the syncs a record could
// go back a phase after a reboot (a source from sealed to transfer, resumed beside a restored
// copy at the destination).
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes a file so that a crash or a power loss leaves either the old one or the whole new one. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(`${path}.tmp`, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(`${path}.tmp`, path);
  await syncPath(dirname(path));
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
