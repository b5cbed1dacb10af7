// The agent's archive folder at start: what the previous run of the agent left there.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { releaseOrphanedImport } from './destination/import-fifos.ts';
import type { Logger } from './log.ts';

/** An archive's file or folder name without what says which of a migration's files it is. */
const SUFFIX = /(\.image\.tar|\.tar|\.import)$/;

/** Frees imports left waiting, and removes the files of migrations that are over (`open`: those that are not). */
export async function sweepArchives(archiveDir: string, open: ReadonlySet<string>, log: Logger): Promise<void> {
  for (const name of await readdir(archiveDir)) {
    const id = name.replace(SUFFIX, '');
    // First, before any podman command: an import the previous agent was feeding may still wait
    // on one of its FIFOs, holding its container's lock (destination/import-feed.ts). Removing
    // the FIFO would not free it: podman's open(2) already holds the inode.
    if (name.endsWith('.import') && (await releaseOrphanedImport(join(archiveDir, name)))) {
      log.warn({ migrationId: id }, "released a podman import the agent's previous run left waiting for its archive");
    }
    // Archives of migrations that are over (a crash between the end and the clean-up) go now.
    if (!open.has(id)) await rm(join(archiveDir, name), { force: true, recursive: true });
  }
}
