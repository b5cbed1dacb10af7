// The destination's restore. It may start while the archive is still on its way: podman's
// import is fed the archive as it lands (import-feed.ts), so podman's start-up, its two config
// passes, the container's creation and the extraction all happen during the transfer, and only
// its last steps (mounts, network, runc restore) remain once the archive has checked out. When
// the archive cannot be fed that way (compressed), or the feeding goes wrong before podman got
// the end of the archive, the finished file is imported instead.
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../../common/errors.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import { takeServiceAddress } from '../address/move.ts';
import { promote } from '../data/staging.ts';
import type { DestinationRecord, MigrationRecord } from '../journal.ts';
import { runHook } from '../podman/hooks.ts';
import { findContainer } from '../podman/inspect.ts';
import { removeContainer, removeRuntimeLeftover, removeStorageLeftover, restoreImport, type RestoreStats } from '../podman/restore.ts';
import { checkArchiveFile, refusedArchive } from './archive-policy.ts';
import { admit } from '../admission/admit.ts';
import { candidateOfArchive } from '../admission/judge.ts';
import { ImportFeeder, NotStreamable } from './import-feed.ts';
import { containerDirectoryOf, LINKED_PAGES, PAGES_ENTRY, stagedPages, writePageEntries } from './pages.ts';
import { podmanStore } from '../podman/info.ts';
import { END_MARKER_BYTES } from '../transfer/tar-walk.ts';
import type { Inbox } from './inbox.ts';
import type { HostContext } from '../context.ts';

/** What the restore needs of the agent: no more. */
export interface RestoreContext extends HostContext {
  inbox: Inbox;
}

export interface RestoreOutcome {
  container: ContainerInfo;
  /** From the whole archive being there (or the restore being asked, if later) to podman returning. */
  restoreMs: number;
  runtimeMs: number | undefined;
  validation: string;
  streamed: boolean;
  /** Why the archive was imported whole, when it was. */
  fallback: string;
  /** Of the archive, the bytes podman took from the stream's memory rather than reading them back from the file. */
  relayedBytes: number;
  /** Restored with a new IP of this host's network (--new-address), its established TCP connections closed. */
  newAddress: boolean;
}

export async function restoreArchive(
  ctx: RestoreContext,
  record: DestinationRecord,
  request: { expectedValidation: string; timeoutMs: number | undefined; fileLocks: boolean },
  signal: AbortSignal,
): Promise<RestoreOutcome> {
  const { podman, journal, inbox } = ctx;
  const log = ctx.log.child({ migrationId: record.id, phase: 'restore' });
  const asked = performance.now();
  const dataPaths = record.dataPaths ?? [];
  // The pages came beside the archive (the source asked for their stream), unless the archive
  // holds them itself (the source's CRIU script did not run, and podman exported them).
  const pagesPath = (archiveHasPages: boolean) => (archiveHasPages ? undefined : journal.destination(record.id).pagesPath);
  // What must hold before podman may get the end of the archive, i.e. before it may run anything.
  const gate = async (archiveHasPages: boolean) => {
    // The conntrack entries of the service address's flows too: a restored socket whose flow this
    // host does not know would be masqueraded as a new flow, and the client would reset it.
    const needsAddress = record.serviceAddress !== undefined && record.address !== 'taken';
    const needsPages = pagesPath(archiveHasPages) !== undefined;
    await inbox.until(
      () => inbox.verified !== undefined && (!dataPaths.length || inbox.dataRound >= 1) && (!needsAddress || inbox.addressReady) && (!needsPages || inbox.pages !== undefined),
      signal,
    );
    const restoring = await journal.advance(record, 'restore');
    // The data goes into place first: the restored processes reopen their files at once.
    if (dataPaths.length) await journal.update(restoring, { promoted: await promote(dataPaths, record.id) });
  };
  await removeLeftover(ctx, record);

  let stats: RestoreStats | undefined;
  let container: ContainerInfo | undefined;
  let streamed = false;
  let fallback = '';
  // The pages, as entries of the archive podman extracts, from the file they arrived in: the
  // first linked into the container's directory (podman created it before extracting), the rest
  // copied. A whole-file import (linkInto undefined) copies them all.
  const addPages = async (archiveHasPages: boolean, write: (chunks: Buffer[]) => Promise<void>, linkInto?: string) => {
    const path = pagesPath(archiveHasPages);
    if (!path || !inbox.pages) return;
    const started = performance.now();
    const pages = await stagedPages(path, inbox.pages.bytes);
    const { copied, linked } = await writePageEntries(path, pages, write, { linkInto });
    log.info({ pages: pages.map((p) => p.name), copied, linked, ms: Math.round(performance.now() - started) }, 'put the pages that came beside the archive into it');
  };
  const userdata = containerDirectoryOf(await podmanStore(podman), record.containerId);
  const feeder = new ImportFeeder({
    archivePath: record.archivePath,
    dir: join(ctx.archiveDir, `${record.id}.import`),
    inbox,
    note: (what, fields = {}) => log.info(fields, what),
    addEntries: (archiveHasPages, write) => addPages(archiveHasPages, write, userdata),
    admit: (configDump, specDump) => admitArchive(ctx, configDump, specDump),
  });
  const feeding = new AbortController();
  const stop = () => feeding.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  // podman is stopped only while it cannot have started restoring: once it has the end of the
  // archive it sets up the network and runs CRIU, and killed half-way it leaves an IP leased on
  // this host for good. From then on a cancelled restore lets podman finish, and the rollback
  // removes the container the way podman cleans up after itself.
  const stopPodman = new AbortController();
  feeding.signal.addEventListener('abort', () => feeder.released || stopPodman.abort(feeding.signal.reason), { once: true });
  let restored: Promise<unknown> | undefined;
  try {
    await feeder.prepare(feeding.signal);
    const importing = restoreImport(podman, { archivePath: feeder.link, name: record.container, newAddress: record.newAddress, fileLocks: request.fileLocks }, { signal: stopPodman.signal, timeoutMs: request.timeoutMs });
    restored = importing;
    // podman failing ends the feeding; the feeding failing ends podman.
    importing.catch(() => feeding.abort(new Error('podman restore ended')));
    const fed = feeder.run(gate, feeding.signal).catch((error: unknown) => {
      feeding.abort(error);
      throw error;
    });
    [{ container, stats }] = await Promise.all([importing, fed]);
    streamed = true;
    if (signal.aborted) throw new FerryError('CANCELLED', 'the restore was cancelled; podman finished it first, and the rollback removes it', { phase: 'restore', cause: signal.reason });
  } catch (error) {
    await restored?.catch(() => undefined); // podman is gone before anything is cleaned up
    // Once podman had the end of the archive, this is how the restore itself went; a cancelled
    // or rolled-back migration is not retried either.
    // An archive refused for what it holds is not imported by the other way either.
    if (feeder.released || signal.aborted || inbox.failure || refusedArchive(error)) throw error;
    fallback = error instanceof NotStreamable ? error.message : `the streamed import failed before the end of the archive: ${FerryError.from(error).message}`;
    log.warn({ reason: fallback }, 'importing the whole archive instead');
    await removeLeftover(ctx, record);
  } finally {
    signal.removeEventListener('abort', stop);
    await feeder.dispose();
  }
  if (!streamed) {
    // The whole-file import (a compressed archive, or a streamed one that fell back) is looked
    // through first, as the streamed one was while it arrived.
    await inbox.until(() => inbox.verified !== undefined, signal);
    const listing = await checkArchiveFile(record.archivePath);
    await admitArchive(ctx, listing.files.get('config.dump'), listing.files.get('spec.dump'));
    const archiveHasPages = listing.names.some((name) => PAGES_ENTRY.test(name));
    await gate(archiveHasPages);
    const archivePath = pagesPath(archiveHasPages) ? await withPages(record.archivePath, listing.endAt, addPages) : record.archivePath;
    // Not stopped half-way either (see above): podman finishes, then the cancel counts.
    ({ container, stats } = await restoreImport(podman, { archivePath, name: record.container, newAddress: record.newAddress, fileLocks: request.fileLocks }, { timeoutMs: request.timeoutMs }));
    if (signal.aborted) throw new FerryError('CANCELLED', 'the restore was cancelled; podman finished it first, and the rollback removes it', { phase: 'restore', cause: signal.reason });
  }
  if (!container || !stats) throw new FerryError('INTERNAL', 'the restore produced no container', { phase: 'restore' });
  // CRIU is done with the pages: the link the first entry pointed at would hold them as long as the container lives.
  await rm(join(userdata, LINKED_PAGES), { force: true });
  const restoreMs = Math.round(performance.now() - Math.max(asked, inbox.verified?.at ?? asked));
  log.info({ streamed, relayedBytes: streamed ? feeder.relayedBytes : 0, restoreMs, runtimeMs: stats.runtimeMs, fallback: fallback || undefined, ipAddresses: container.ipAddresses, newAddress: record.newAddress }, 'restored');
  if (record.serviceAddress) {
    // Only now: the sockets are back, so the clients' retransmissions find them.
    await journal.update(record, { address: 'taken' });
    await takeServiceAddress(ctx.address, record.serviceAddress);
    log.info({ address: record.serviceAddress }, 'took the service address');
  }
  await runHook(podman, container.id, container.labels, 'postRestore', { signal });
  const validation = (await runHook(podman, container.id, container.labels, 'validate', { signal })) ?? '';
  if (validation !== request.expectedValidation) {
    throw new FerryError('VALIDATION_MISMATCH', `${container.name} validates differently after the restore`, {
      details: [`before the checkpoint: ${request.expectedValidation}`, `after the restore:    ${validation}`],
    });
  }
  return { container, restoreMs, runtimeMs: stats.runtimeMs, validation, streamed, fallback, relayedBytes: streamed ? feeder.relayedBytes : 0, newAddress: record.newAddress ?? false };
}

/**
 * The archive with the pages put in before its end marker, as a file of its own beside it (for a
 * whole-file import: a streamed one gets them on the way).
 */
async function withPages(
  archivePath: string,
  endAt: number | undefined,
  addPages: (archiveHasPages: boolean, write: (chunks: Buffer[]) => Promise<void>, linkInto?: string) => Promise<void>,
): Promise<string> {
  if (endAt === undefined) throw new FerryError('INTERNAL', `the archive ${archivePath} has no end marker to put the pages before`, { phase: 'restore' });
  const whole = `${archivePath}.whole`;
  const out = createWriteStream(whole, { mode: 0o600 });
  const write = (chunks: Buffer[]) =>
    new Promise<void>((resolve, reject) => {
      for (const chunk of chunks.slice(0, -1)) out.write(chunk);
      // Resolved once the last is written: the caller may then reuse the buffers.
      out.write(chunks.at(-1) ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
    });
  try {
    await pipeline(createReadStream(archivePath, { start: 0, end: endAt - 1, highWaterMark: 1024 * 1024 }), out, { end: false });
    await addPages(false, write);
    await new Promise<void>((resolve, reject) => out.end(Buffer.alloc(END_MARKER_BYTES), (error?: Error | null) => (error ? reject(error) : resolve())));
  } catch (error) {
    out.destroy();
    throw error;
  }
  return whole;
}

/**
 * A streamed import that an earlier attempt (or an agent restart) cut off before the end of the
 * archive leaves a created container that never ran, or only its storage when podman died with
 * the agent. Preflight made sure no container of this ID was here, so it is this migration's;
 * one that runs is not touched.
 */
async function removeLeftover(ctx: RestoreContext, record: MigrationRecord): Promise<void> {
  const current = await findContainer(ctx.podman, record.containerId);
  if (current?.state === 'running' || current?.state === 'paused') {
    throw new FerryError('RESTORE_FAILED', `container ${record.container} already runs on ${ctx.host}; not restoring it again`, { phase: 'restore' });
  }
  if (current) await removeContainer(ctx.podman, record.containerId);
  if (await removeStorageLeftover(ctx.podman, record.containerId)) {
    ctx.log.warn({ migrationId: record.id, containerId: record.containerId }, 'removed the storage a killed import left behind');
  }
  if (await removeRuntimeLeftover(ctx.podman, record.containerId)) {
    ctx.log.warn({ migrationId: record.id, containerId: record.containerId }, "removed runc's state a cut-off restore left behind");
  }
}

/**
 * The admission policy on what podman would create from the archive (admission/judge.ts), before
 * podman sees it: the preflight judged what the source said it runs, this what it sent.
 */
async function admitArchive(ctx: RestoreContext, configDump: Buffer | undefined, specDump: Buffer | undefined): Promise<void> {
  if (!configDump || !specDump) throw new FerryError('ARCHIVE_REFUSED', 'the checkpoint archive lacks config.dump or spec.dump; it is not imported', { phase: 'restore' });
  await admit(ctx, candidateOfArchive(configDump, specDump), 'restore');
}
