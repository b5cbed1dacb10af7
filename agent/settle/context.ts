// What settling a migration (commit, rollback, recovery) needs of the agent: no more.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { containerDirectoryOf, LINKED_PAGES } from '../destination/pages.ts';
import { imagePath } from '../destination/streams.ts';
import { podmanStore } from '../podman/info.ts';
import type { MigrationRecord } from '../journal.ts';
import type { HostContext } from '../context.ts';
import type { Origins } from '../fleet/origins.ts';

export interface SettleContext extends HostContext {
  /** Destination: cut the migration's streams and stop its restore, and wait for both to be gone. */
  stopReceiving: (id: string) => Promise<void>;
  /** The migration is over here: drop what the agent holds in memory for it. */
  over: (id: string) => void;
  /** Containers here that run but did not answer when resumed (by ID), shown by ps and hosts. */
  problems: Map<string, { name: string; problem: string }>;
  /** Where the containers here came from by an evacuation (fleet/origins.ts): a commit adds or marks one. */
  origins: Origins;
}

/** The archive, the image and the import's FIFOs (an agent killed mid-import leaves them). */
export async function removeFiles(ctx: SettleContext, record: MigrationRecord): Promise<void> {
  await rm(record.archivePath, { force: true });
  await rm(imagePath(ctx.archiveDir, record.id), { force: true });
  await rm(join(ctx.archiveDir, `${record.id}.import`), { recursive: true, force: true });
  if (record.role === 'destination' && record.pagesPath) {
    await rm(record.pagesPath, { force: true });
    // The link a restore makes to them, had the agent stopped before taking it away (destination/restore.ts).
    await podmanStore(ctx.podman).then(
      (store) => rm(join(containerDirectoryOf(store, record.containerId), LINKED_PAGES), { force: true }),
      () => undefined,
    );
  }
  await rm(`${record.archivePath}.whole`, { force: true });
}
