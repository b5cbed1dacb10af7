// The source's half of a migration. While the container runs: send its image (if the destination
// lacks it) and the bulk of its bind-mounted data, run its hooks, and open the archive stream.
// Then freeze it: podman checkpoints, and the archive streams to the destination as podman writes
// it; what changed in the data since the first round goes alongside. podman's exit status is
// checked before the send counts as done. Any failure resumes the container here, after the
// destination has dropped what it got once it may have had the whole archive.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sshOf, type ReachableAgent } from '../../common/dial.ts';
import { DEFAULTS } from '../../common/defaults.ts';
import { FerryError } from '../../common/errors.ts';
import type { CheckpointAndSendRequest__Output as CheckpointAndSendRequest } from '../../proto/gen/ferry/v1/CheckpointAndSendRequest.ts';
import { bindMountPaths } from '../data/bind-mounts.ts';
import type { SourceRecord } from '../journal.ts';
import { undoSend } from './undo.ts';
import type { Logger } from '../log.ts';
import { checkpoint, type CheckpointStats } from '../podman/checkpoint.ts';
import { examine } from '../criu/obstacles.ts';
import { refusal } from '../../common/readiness.ts';
import { runHook } from '../podman/hooks.ts';
import { containerDirectory, inspectWhole } from '../podman/inspect.ts';
import { COMPRESSION, COMPRESSIONS, UNIT_KIND, type ArchiveCompression, type Compression } from '../../common/wire.ts';
import type { DataConnection } from '../dataplane/client.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import { cgroupMemoryBytes } from '../podman/size.ts';
import { decide, measure } from './compression.ts';
import { requireMigrationId, requireText } from '../validate.ts';
import { serviceAddressOf } from '../../common/service-address.ts';
import { releaseServiceAddress } from '../address/move.ts';
import { ArchiveStream } from './archive.ts';
import { DataRounds } from './data-rounds.ts';
import { sendImage } from './image.ts';
import { pagesAside, requestPagesAside, withdrawPagesRequest } from './pages.ts';
import { PagesStream } from './pages-stream.ts';
import { Seal } from './seal.ts';
import { Sender, type Emit } from './sender.ts';
import type { SourceContext } from './context.ts';

export type { SourceContext } from './context.ts';
import { holdUnit } from '../systemd/control.ts';
import { containerUnit, unitObstacle } from '../systemd/unit.ts';

/** Where the send stands, for its failure: the phase it failed in, and the dump under way. */
interface Progress {
  phase: 'checkpoint' | 'transfer';
  dumping: Promise<CheckpointStats> | undefined;
}

/** What the steps of one send share. */
interface Send {
  ctx: SourceContext;
  request: CheckpointAndSendRequest;
  container: ContainerInfo;
  /** podman's directory of the container, as its inspect said. */
  staticDir: string | undefined;
  record: SourceRecord;
  sender: Sender;
  log: Logger;
  emit: Emit;
  signal: AbortSignal;
}

/** What is ready once everything that can happen before the freeze has. */
interface Ready {
  validation: string;
  fileLocks: boolean;
  compression: ArchiveCompression;
  data: DataRounds;
  /** The archive's stream, and the pages' beside it (absent: the pages travel in the archive). */
  first: DataConnection;
  firstPages: DataConnection | undefined;
  /** The container's directory, whose pages CRIU's action script sets aside for the pages' stream. */
  pagesDir: string | undefined;
}

export async function checkpointAndSend(ctx: SourceContext, request: CheckpointAndSendRequest, emit: Emit, signal: AbortSignal): Promise<void> {
  const compress = checkRequest(ctx, request);
  const { info: container, raw: inspected } = await inspectWhole(ctx.podman, request.container, { signal });
  if (container.state !== 'running') {
    throw new FerryError('CONTAINER_NOT_RUNNING', `container ${container.name} is ${container.state}, not running`, { phase: 'checkpoint' });
  }
  const busy = ctx.journal.active().find((r) => r.containerId === container.id);
  if (busy) throw new FerryError('MIGRATION_BUSY', `container ${container.name} is already being migrated (${busy.id}, ${busy.phase})`);

  const log = ctx.log.child({ migrationId: request.migrationId, container: container.name });
  // Reached before anything is journaled: a destination out of reach (a refused SSH host key,
  // say) fails the call with nothing to undo.
  const route: ReachableAgent = { name: request.destinationHost, agent: request.destinationAddress, ssh: sshOf(request.destinationSsh) };
  const peer = await ctx.dialer.agent(route).catch((error: unknown) => {
    throw FerryError.from(error).at('checkpoint', request.destinationHost);
  });
  const record = await ctx.journal.create<SourceRecord>({
    id: request.migrationId,
    role: 'source',
    container: container.name,
    containerId: container.id,
    peer: request.destinationHost,
    peerAddress: request.destinationAddress,
    peerSsh: route.ssh,
    phase: 'checkpoint',
    archivePath: join(ctx.archiveDir, `${request.migrationId}.tar`),
    dataPaths: request.ignoreBindMounts ? [] : bindMountPaths(container),
    serviceAddress: serviceAddressOf(container.labels),
  });
  const sender = new Sender({
    peer,
    dialer: ctx.dialer,
    migrationId: record.id,
    signal,
    retryMs: request.transferRetryMs > 0 ? request.transferRetryMs : DEFAULTS.transferRetryMs,
    bytesPerSecond: request.bwlimitBytesPerSec || undefined,
    log,
    emit,
  });
  const send: Send = { ctx, request, container, staticDir: inspected.StaticDir, record, sender, log, emit, signal };
  const progress: Progress = { phase: 'checkpoint', dumping: undefined };
  try {
    const ready = await beforeFreeze(send, compress);
    await freezeAndSend(send, ready, progress);
  } catch (error) {
    sender.stop();
    const failure = FerryError.from(error, { phase: progress.phase, host: ctx.host });
    log.error({ phase: progress.phase, code: failure.code, err: failure.message }, 'checkpoint/send failed; rolling back');
    // A checkpoint still running finishes first: the container is resumed from a whole dump.
    await progress.dumping?.catch(() => undefined);
    const unresumed = await undoSend(ctx, peer, record.id, failure, log);
    // Back but deaf: that, not the first failure, is what the coordinator must hear about.
    if (unresumed?.code === 'NOT_ANSWERING') {
      throw new FerryError('NOT_ANSWERING', `${failure.describe()}; the container was resumed on ${ctx.host} but does not answer: ${unresumed.message}`, {
        phase: 'rollback',
        host: ctx.host,
        details: [`${failure.code}: ${failure.message}`, ...unresumed.details],
      });
    }
    throw failure;
  } finally {
    peer.close();
  }
}

/** Bad input is refused before anything is looked at; the compression asked for otherwise. */
function checkRequest(ctx: SourceContext, request: CheckpointAndSendRequest): Compression {
  requireMigrationId(request.migrationId);
  requireText(request.container, 'container');
  requireText(request.destinationHost, 'destination_host');
  requireText(request.destinationAddress, 'destination_address');
  const compress = COMPRESSION.fromWire(request.compress);
  if (!compress) throw new FerryError('BAD_REQUEST', `compress must be one of ${COMPRESSIONS.join(', ')}, not ${String(request.compress)}`);
  if (!Number.isSafeInteger(request.bwlimitBytesPerSec) || request.bwlimitBytesPerSec < 0) {
    throw new FerryError('BAD_REQUEST', `bwlimit_bytes_per_sec must be a whole number, not ${request.bwlimitBytesPerSec}`);
  }
  if (request.destinationHost === ctx.host) {
    throw new FerryError('SAME_HOST', `the destination ${request.destinationHost} is this host`);
  }
  return compress;
}

/**
 * Everything slow happens while the container still runs: the image, and the bulk of its
 * bind-mounted data. Hooks too: a failure here has frozen nothing. Then what the freeze needs:
 * the compression, the file-lock flag, its streams connected, its systemd unit held.
 */
async function beforeFreeze(send: Send, compress: Compression): Promise<Ready> {
  const { ctx, request, container, record, sender, log, emit, signal } = send;
  const podman = ctx.podman;
  if (request.sendImage) await sendImage(sender, podman, container, emit);
  const data = new DataRounds(sender, record.dataPaths ?? [], log, emit);
  await data.presync(request.noPresync);
  await runHook(podman, container.id, container.labels, 'preCheckpoint', { signal });
  const validation = (await runHook(podman, container.id, container.labels, 'validate', { signal })) ?? '';
  const compression = compress === 'auto' ? await chooseCompression(ctx, container, sender, emit, log) : compress;
  // Looked at again just before the freeze: a lock taken since the preflight decides the flag
  // as much as one held then, and CRIU refuses a dump with locks it was not told of.
  const readiness = await examine(podman, container.id, { signal });
  if (readiness.obstacles.length) throw refusal(container.name, readiness.obstacles, { phase: 'checkpoint', host: ctx.host });
  const fileLocks = readiness.fileLocks.length > 0;
  if (fileLocks) {
    await ctx.journal.update(record, { fileLocks });
    log.info({ locks: readiness.fileLocks.map((l) => `${l.process}: ${l.file}`) }, 'the processes hold file locks: checkpointing with --file-locks');
  }

  // A plain tar export leaves the memory pages to a stream of their own, sent while CRIU
  // writes them (pages.ts); a compressed one is imported whole at the other end anyway.
  // The streams are granted and connected before the freeze: no handshake inside it. A
  // destination that does not know the pages' stream (an agent from before it) gets them in
  // the archive, as it always did.
  // Not for a container run with --rm: podman removes it, and the pages set aside in its
  // directory with it, once the checkpoint is exported; its rollback needs them in the archive.
  const first = await sender.again('checkpoint', () => sender.opener.connection('checkpoint', 0));
  if (container.autoRemove) await ctx.journal.update(record, { autoRemove: true });
  const firstPages =
    compression === 'none' && !container.autoRemove
      ? await sender.again('pages', () => sender.opener.connection('pages', 0)).catch((error: unknown) => {
          const refused = FerryError.from(error);
          if (refused.code !== 'BAD_REQUEST') throw error;
          log.warn({ err: refused.message }, `${request.destinationHost} takes no pages stream: the pages travel in the archive`);
          return undefined;
        })
      : undefined;
  const pagesDir = firstPages ? await containerDirectory(podman, container.id, { signal }, send.staticDir) : undefined;
  if (pagesDir) {
    await ctx.journal.update(record, { pagesDir });
    await requestPagesAside(pagesDir, record.id);
  }
  // Its systemd unit, if one runs it, must neither remove the checkpointed container nor start
  // another copy while the move is under way (systemd/control.ts); settling it puts it right.
  const unit = await containerUnit(podman, container);
  const unitRefused = unitObstacle(unit);
  if (unitRefused) throw refusal(container.name, [unitRefused], { phase: 'checkpoint', host: ctx.host });
  if (unit) {
    const held = { name: unit.name, kind: UNIT_KIND.fromWire(unit.kind) ?? 'other', enabled: unit.enabled };
    await ctx.journal.update(record, { unit: held });
    await holdUnit(held);
    log.info({ unit: unit.name, kind: held.kind, enabled: unit.enabled }, 'held its systemd unit: it neither removes nor restarts the container until the move is settled');
  }
  return { validation, fileLocks, compression, data, first, firstPages, pagesDir };
}

/**
 * The freeze: podman checkpoints, and the archive, the pages and the data's last round stream as
 * CRIU and podman write them. Sent once every stream is whole at the destination and podman's
 * exit status said the checkpoint ended well.
 */
async function freezeAndSend(send: Send, ready: Ready, progress: Progress): Promise<void> {
  const { ctx, request, container, record, sender, log, emit } = send;
  const { pagesDir, firstPages } = ready;
  emit({ freezing: { validation: ready.validation, fileLocks: ready.fileLocks } });
  log.info({ phase: progress.phase }, 'checkpointing');
  const started = performance.now();
  // Not cancelled with the call: CRIU cut off mid-dump can leave the container locked. A
  // cancelled migration waits for the dump to end, then resumes the container from it.
  const dumping = checkpoint(ctx.podman, { container: container.id, exportPath: record.archivePath, compress: ready.compression, fileLocks: ready.fileLocks }, { timeoutMs: request.timeoutMs > 0 ? request.timeoutMs : undefined });
  progress.dumping = dumping;
  dumping.catch(() => sender.stop()); // a failed checkpoint ends the streams that wait for it
  // Asked for this checkpoint only: a later one (a park, podman's own) keeps its pages.
  const withdrawn = pagesDir ? dumping.then(
    () => withdrawPagesRequest(pagesDir),
    () => withdrawPagesRequest(pagesDir),
  ) : Promise.resolve();
  // Sealed once the last of whatever the restore needs is sent: the archive, and the pages beside it.
  const seal = new Seal(pagesDir ? ['checkpoint', 'pages'] : ['checkpoint'], async () => {
    await ctx.journal.advance(record, 'sealed');
    log.info({}, 'everything the restore needs is sent but the ends of its streams: sealed');
  });
  const archive = new ArchiveStream({ seal, sender, record, log, emit, compress: ready.compression, dumping, first: ready.first, destination: request.destinationHost, started });
  const archiveSent = archive.send();
  const appeared = archive.appeared;
  const pagesSent =
    pagesDir && firstPages
      ? new PagesStream({ sender, userdata: pagesDir, dumpOver: Promise.race([appeared, dumping]), first: firstPages, destination: request.destinationHost, log, emit, started, seal }).send()
      : Promise.resolve(undefined);
  // Once the export appears CRIU is done: the processes are gone, the data cannot change.
  const dataSent = appeared.then(async () => {
    progress.phase = 'transfer';
    await afterDump(send, ready.data, Math.round((archive.appearedAt ?? started) - started));
  });
  // The destination has it all: say so now, not after podman's clean-up.
  Promise.all([archiveSent, pagesSent]).then(
    ([sent, pages]) => {
      if (pages) log.info({ files: pages.files.map((f) => `${f.name} (${f.size} bytes)`), bytes: pages.bytes, ms: pages.ms }, 'the pages went beside the archive');
      const pagesBytes = pages?.files.reduce((n, f) => n + f.size, 0) ?? 0;
      emit({ transferred: { bytes: sent.bytes + (pages?.bytes ?? 0), transferMs: Math.max(sent.ms, pages?.ms ?? 0), sha256: sent.sha256, pagesBytes } });
    },
    () => sender.stop(),
  );
  dataSent.catch(() => sender.stop());
  // podman is done (the archive may still be on its way): say so, with where the outage began.
  const checkpointed = dumping.then(async (stats) => {
    const checkpointMs = Math.round(performance.now() - started);
    await sayCheckpointed(send, stats, { checkpointMs, started, appearedAt: archive.appearedAt, pagesDir });
    return { stats, checkpointMs };
  });
  const results = await Promise.allSettled([checkpointed, archiveSent, dataSent, pagesSent, withdrawn]);
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw preferCause(results.map((r) => (r.status === 'rejected' ? r.reason : undefined)));
  const { stats, checkpointMs } = (results[0] as PromiseFulfilledResult<{ stats: CheckpointStats; checkpointMs: number }>).value;
  const archiveDone = (results[1] as PromiseFulfilledResult<{ bytes: number; sha256: string; ms: number }>).value;
  const pagesDone = (results[3] as PromiseFulfilledResult<{ bytes: number; ms: number } | undefined>).value;
  const sent = { bytes: archiveDone.bytes + (pagesDone?.bytes ?? 0), ms: Math.max(archiveDone.ms, pagesDone?.ms ?? 0) };
  // The coordinator may have rolled the migration back meanwhile (it stopped this call and
  // settled both hosts): then there is nothing left to mark sent.
  const now = ctx.journal.require(record.id).phase;
  if (now === 'rollback' || now === 'failed') throw new FerryError('CANCELLED', 'the migration was rolled back while the archive was on its way', { phase: 'transfer' });
  await ctx.journal.advance(record, 'sent');
  log.info({ checkpointMs, frozenMs: stats.frozenMs, runtimeMs: stats.runtimeMs, bytes: sent.bytes, transferMs: sent.ms }, 'checkpointed and sent');
}

/** CRIU's dump is done: transfer begins, the service address goes, the data's last round follows. */
async function afterDump(send: Send, data: DataRounds, dumpMs: number): Promise<void> {
  const { ctx, container, record, log, emit } = send;
  log.info({ ms: dumpMs }, "CRIU's dump is done: streaming the export as podman writes it");
  await ctx.journal.advance(record, 'transfer');
  emit({ dumped: { ms: dumpMs } });
  if (record.serviceAddress) {
    // The processes are gone: their flows cannot change any more. The destination takes the
    // address and recreates the flows before it restores.
    const flows = await releaseServiceAddress(ctx.address, record.serviceAddress, container.ipAddresses, (kept) => ctx.journal.update(record, { flows: kept }));
    log.info({ address: record.serviceAddress, flows: flows.length }, 'gave up the service address');
    emit({ addressReleased: { address: record.serviceAddress, flows } });
  }
  await data.final();
}

/** podman's checkpoint is done: its figures, and how long ago the freeze began, as the source can tell. */
async function sayCheckpointed(send: Send, stats: CheckpointStats, at: { checkpointMs: number; started: number; appearedAt: number | undefined; pagesDir: string | undefined }): Promise<void> {
  // CRIU's freeze, counted back from the export's appearance (just after CRIU finished) by the
  // time CRIU says it kept the processes frozen.
  const frozenFor = (stats.frozenMs ?? 0) + (stats.freezingMs ?? 0);
  const freezeAt = stats.frozenMs !== undefined && at.appearedAt !== undefined ? at.appearedAt - frozenFor : at.started;
  // What podman wrote, whichever way it travels: the export, and the pages beside it.
  const pagesBytes = at.pagesDir ? ((await pagesAside(at.pagesDir)) ?? []).reduce((n, f) => n + f.size, 0) : 0;
  const archiveBytes = ((await stat(send.record.archivePath).catch(() => undefined))?.size ?? 0) + pagesBytes;
  send.emit({
    checkpointed: {
      checkpointMs: at.checkpointMs,
      archiveBytes,
      frozenMs: stats.frozenMs ?? 0,
      runtimeMs: stats.runtimeMs ?? 0,
      freezeAgeMs: Math.round(performance.now() - freezeAt),
    },
  });
}

/** --compress auto: measured and decided before the freeze (compression.ts); a failed measurement means none. */
async function chooseCompression(ctx: SourceContext, container: ContainerInfo, sender: Sender, emit: Emit, log: Logger): Promise<ArchiveCompression> {
  const choice = await measure(ctx.podman, container.id, sender, sender.halt).then(
    // A --bwlimit below what the link moves is the rate the archive will see.
    async (measured) => decide(await cgroupMemoryBytes(container.cgroupPath), { ...measured, linkBytesPerSecond: Math.min(measured.linkBytesPerSecond, sender.bytesPerSecond ?? Infinity) }),
    (error: unknown) => ({ compression: 'none' as const, reason: `could not measure (${FerryError.from(error).message}): uncompressed` }),
  );
  log.info({ compression: choice.compression, reason: choice.reason }, '--compress auto');
  emit({ compressionChosen: { compression: COMPRESSION.toWire(choice.compression), reason: choice.reason } });
  return choice.compression;
}

/** The most telling of several failures: the first that is not just "cancelled". */
function preferCause(reasons: unknown[]): unknown {
  const errors = reasons.filter((r) => r !== undefined).map((r) => FerryError.from(r));
  return errors.find((e) => e.code !== 'CANCELLED') ?? errors[0];
}
