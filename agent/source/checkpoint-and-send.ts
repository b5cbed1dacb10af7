// The source's half of a migration. While the container runs: send its image (if the destination
// lacks it) and the bulk of its bind-mounted data, run its hooks, and open the archive stream.
// Then freeze it: podman checkpoints, and the archive streams to the destination as podman writes
// it; what changed in the data since the first round goes alongside. podman's exit status is
// checked before the send counts as done. Any failure resumes the container here, after the
// destination has dropped what it got once it may have had the whole archive.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentConnection } from '../../common/client.ts';
import { DEFAULTS } from '../../common/defaults.ts';
import { FerryError } from '../../common/errors.ts';
import type { TlsFiles } from '../../common/pki.ts';
import type { MigrationEvent } from '../../proto/gen/ferry/v1/MigrationEvent.ts';
import type { CheckpointAndSendRequest__Output as CheckpointAndSendRequest } from '../../proto/gen/ferry/v1/CheckpointAndSendRequest.ts';
import { bindMountPaths } from '../data/bind-mounts.ts';
import { packEntries } from '../data/pack.ts';
import { delta, scan, type Entry, type Manifest } from '../data/scan.ts';
import { mayBeWholeThere, type Journal } from '../journal.ts';
import type { Logger } from '../log.ts';
import { checkpoint, type CheckpointStats } from '../podman/checkpoint.ts';
import { runHook } from '../podman/hooks.ts';
import { inspectContainer } from '../podman/inspect.ts';
import type { Podman } from '../podman/podman.ts';
import { hashPrefix } from '../transfer/hash.ts';
import { COMPRESSION, COMPRESSIONS, STREAM_KIND, type StreamKind } from '../../common/wire.ts';
import { requireMigrationId, requireText } from '../validate.ts';
import { BufferPool } from '../dataplane/pool.ts';
import { followExport } from './follow-export.ts';
import { retrying, StreamOpener } from './streams.ts';

const PROGRESS_EVERY_BYTES = 8 * 1024 * 1024;

/** What the source needs of the agent: no more. */
export interface SourceContext {
  host: string;
  podman: Podman;
  tls: TlsFiles | undefined;
  log: Logger;
  journal: Journal;
  archiveDir: string;
  /** This agent's own rollback of the migration (serialized with the coordinator's). */
  rollback(migrationId: string, reason: string, peerRolledBack: boolean): Promise<string>;
}

type Emit = (event: MigrationEvent) => void;

export async function checkpointAndSend(ctx: SourceContext, request: CheckpointAndSendRequest, emit: Emit, signal: AbortSignal): Promise<void> {
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
  const podman = ctx.podman;
  const container = await inspectContainer(podman, request.container, { signal });
  if (container.state !== 'running') {
    throw new FerryError('CONTAINER_NOT_RUNNING', `container ${container.name} is ${container.state}, not running`, { phase: 'checkpoint' });
  }
  const busy = ctx.journal.active().find((r) => r.containerId === container.id);
  if (busy) throw new FerryError('MIGRATION_BUSY', `container ${container.name} is already being migrated (${busy.id}, ${busy.phase})`);

  const log = ctx.log.child({ migrationId: request.migrationId, container: container.name });
  const record = await ctx.journal.create({
    id: request.migrationId,
    role: 'source',
    container: container.name,
    containerId: container.id,
    peer: request.destinationHost,
    peerAddress: request.destinationAddress,
    phase: 'checkpoint',
    archivePath: join(ctx.archiveDir, `${request.migrationId}.tar`),
    touched: true,
    dataPaths: request.ignoreBindMounts ? [] : bindMountPaths(container),
  });
  const peer = new AgentConnection({ name: request.destinationHost, agent: request.destinationAddress }, ctx.tls);
  // One failure stops every stream of the migration, not just the one that failed.
  const stopping = new AbortController();
  const halt = AbortSignal.any([signal, stopping.signal]);
  const opener = new StreamOpener(peer, ctx.tls, record.id, halt);
  const retryMs = request.transferRetryMs > 0 ? request.transferRetryMs : DEFAULTS.transferRetryMs;
  const bytesPerSecond = request.bwlimitBytesPerSec || undefined;
  const again = <T>(stream: StreamKind, attempt: (n: number) => Promise<T>) =>
    retrying(attempt, {
      retryMs,
      signal: halt,
      onRetry: (n, error) => {
        log.warn({ stream, attempt: n, err: error.message }, 'transfer attempt failed');
        emit({ retrying: { stream: STREAM_KIND.toWire(stream), attempt: n, error: error.message } });
      },
    });
  /** One stream of unknown length, sent whole (a retry sends it again from the start). */
  const sendOnce = async (kind: StreamKind, round: number, source: AsyncIterable<Buffer>) =>
    (await opener.connection(kind, round)).send({ source, bytesPerSecond, signal: halt });
  let phase: 'checkpoint' | 'transfer' = 'checkpoint';
  let dumping: Promise<CheckpointStats> | undefined;
  try {
    // Everything slow happens while the container still runs: the image, and the bulk of its
    // bind-mounted data. Hooks too: a failure here has frozen nothing.
    if (request.sendImage) {
      const started = performance.now();
      // docker-archive keeps the image's name and its ID (the config digest) through the load.
      const image = container.imageName || container.imageId;
      const sent = await again('image', async () => {
        const save = podman.spawn(['image', 'save', '--quiet', '--format', 'docker-archive', image], { signal: halt });
        const [result] = await Promise.all([
          sendOnce('image', 0, save.stdout as AsyncIterable<Buffer>).catch((error: unknown) => {
            save.kill();
            throw error;
          }),
          save,
        ]);
        return result;
      });
      emit({ imageSent: { image, bytes: sent.bytes, ms: Math.round(performance.now() - started) } });
    }
    const dataPaths = record.dataPaths ?? [];
    const syncData = async (round: number, entries: Entry[], removals: string[]) => {
      const started = performance.now();
      // A broken data stream is sent again whole: applying it twice gives the same tree.
      const { packed, dirty } = await again('data', async () => {
        const packed = packEntries(entries, removals, (entry) => log.warn({ path: entry.path }, 'not a file, directory or link: skipped'));
        const sent = sendOnce('data', round, packed.stream).catch((error: unknown) => {
          packed.abort(error); // stop packing: its open file and its wait for room go too
          throw error;
        });
        const [, dirty] = await Promise.all([sent, packed.done]);
        return { packed, dirty };
      });
      emit({
        dataSynced: {
          round,
          bytes: packed.contentBytes(),
          entries: entries.length,
          removed: removals.length,
          ms: Math.round(performance.now() - started),
          paths: dataPaths,
        },
      });
      return dirty;
    };
    let sentManifest: Manifest | undefined;
    let dirty = new Set<string>();
    if (dataPaths.length && request.noPresync) sentManifest = new Map();
    if (dataPaths.length && !request.noPresync) {
      sentManifest = await scan(dataPaths);
      dirty = await syncData(0, [...sentManifest.values()], []);
    }
    await runHook(podman, container.id, container.labels, 'preCheckpoint', { signal });
    const validation = (await runHook(podman, container.id, container.labels, 'validate', { signal })) ?? '';

    // The archive's stream is granted and connected before the freeze: no handshake inside it.
    const first = await again('checkpoint', () => opener.connection('checkpoint', 0));
    emit({ freezing: { validation } });
    log.info({ phase }, 'checkpointing');
    const started = performance.now();
    // Not cancelled with the call: CRIU cut off mid-dump can leave the container locked. A
    // cancelled migration waits for the dump to end, then resumes the container from it.
    dumping = checkpoint(podman, { container: container.id, exportPath: record.archivePath, compress }, { timeoutMs: request.timeoutMs > 0 ? request.timeoutMs : undefined });
    dumping.catch(() => stopping.abort()); // a failed checkpoint ends the streams that wait for it
    let appearedAt: number | undefined;
    let markAppeared!: () => void;
    const appeared = new Promise<void>((resolve, reject) => {
      markAppeared = resolve;
      halt.addEventListener('abort', () => reject(new FerryError('CANCELLED', 'stopped before the export appeared', { phase: 'checkpoint' })), { once: true });
    });
    let reported = 0;
    /** One attempt at the archive's stream: from the start, or from what the destination kept. */
    const sendArchive = async (attempt: number, signal: AbortSignal) => {
      const connection = attempt === 1 ? first : await opener.open('checkpoint', 0, { resume: true });
      if ('complete' in connection) {
        // The last attempt's stream arrived whole; only its reply was lost. Same bytes as here?
        const { bytes, sha256 } = connection.complete;
        const ours = (await hashPrefix(record.archivePath, bytes)).digest('hex');
        if (ours !== sha256) throw new FerryError('INTEGRITY_MISMATCH', `${request.destinationHost} holds an archive of ${bytes} bytes whose SHA-256 differs from this host's`, { phase: 'transfer' });
        return { bytes, sha256, ms: Math.round(performance.now() - started) };
      }
      const from = connection.resumeFrom;
      if (from) emit({ retrying: { stream: STREAM_KIND.toWire('checkpoint'), attempt, error: '', resumeFrom: from } });
      const pool = new BufferPool(1024 * 1024, 4);
      const follow = followExport({
        path: record.archivePath,
        exited: dumping as Promise<CheckpointStats>,
        from,
        plainTar: compress === 'none',
        pool,
        signal,
        onAppeared: () => {
          if (appearedAt !== undefined) return;
          appearedAt = performance.now();
          markAppeared();
        },
      });
      const sealing = async function* () {
        yield* follow;
        // The END frame follows these bytes: from here the destination may hold the whole archive.
        await ctx.journal.advance(record.id, 'sealed');
        log.info({}, "the export's end marker was read: sealing the archive stream");
      };
      return connection.send({
        source: sealing(),
        pool,
        hash: from ? await hashPrefix(record.archivePath, from) : undefined,
        bytesPerSecond,
        signal,
        onProgress: (bytes) => {
          if (bytes - reported >= PROGRESS_EVERY_BYTES) {
            reported = bytes;
            emit({ progress: { bytes, totalBytes: -1 } });
          }
        },
      });
    };
    const archiveSent = again('checkpoint', async (attempt) => {
      // Ends with the attempt: a follower waiting for podman or for a buffer is let go at once.
      const attemptOver = new AbortController();
      try {
        return await sendArchive(attempt, AbortSignal.any([halt, attemptOver.signal]));
      } finally {
        attemptOver.abort();
      }
    });
    // Once the export appears CRIU is done: the processes are gone, the data cannot change.
    const dataSent = appeared.then(async () => {
      phase = 'transfer';
      log.info({ ms: Math.round((appearedAt ?? started) - started) }, "CRIU's dump is done: streaming the export as podman writes it");
      await ctx.journal.advance(record.id, 'transfer');
      emit({ dumped: { ms: Math.round((appearedAt ?? started) - started) } });
      if (sentManifest) {
        const change = delta(sentManifest, await scan(dataPaths), dirty);
        await syncData(1, change.send, change.remove);
      }
    });
    // The destination has it all: say so now, not after podman's clean-up.
    archiveSent.then(
      (sent) => emit({ transferred: { bytes: sent.bytes, transferMs: sent.ms, sha256: sent.sha256 } }),
      () => stopping.abort(),
    );
    dataSent.catch(() => stopping.abort());
    // podman is done (the archive may still be on its way): say so, with where the outage began.
    const checkpointed = dumping.then(async (stats) => {
      const checkpointMs = Math.round(performance.now() - started);
      // As well as the source can tell: CRIU's freeze, counted back from the export's appearance
      // (just after CRIU finished) by the time CRIU says it kept the processes frozen.
      const frozenFor = (stats.frozenMs ?? 0) + (stats.freezingMs ?? 0);
      const freezeAt = stats.frozenMs !== undefined && appearedAt !== undefined ? appearedAt - frozenFor : started;
      const archiveBytes = (await stat(record.archivePath).catch(() => undefined))?.size ?? 0;
      emit({
        checkpointed: {
          checkpointMs,
          archiveBytes,
          frozenMs: stats.frozenMs ?? 0,
          runtimeMs: stats.runtimeMs ?? 0,
          freezeAgeMs: Math.round(performance.now() - freezeAt),
        },
      });
      return { stats, checkpointMs };
    });
    const results = await Promise.allSettled([checkpointed, archiveSent, dataSent]);
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw preferCause(results.map((r) => (r.status === 'rejected' ? r.reason : undefined)));
    const { stats, checkpointMs } = (results[0] as PromiseFulfilledResult<{ stats: CheckpointStats; checkpointMs: number }>).value;
    const sent = (results[1] as PromiseFulfilledResult<{ bytes: number; sha256: string; ms: number }>).value;
    await ctx.journal.advance(record.id, 'sent');
    log.info({ checkpointMs, frozenMs: stats.frozenMs, runtimeMs: stats.runtimeMs, bytes: sent.bytes, transferMs: sent.ms }, 'checkpointed and sent');
  } catch (error) {
    stopping.abort();
    const failure = FerryError.from(error, { phase, host: ctx.host });
    log.error({ phase, code: failure.code, err: failure.message }, 'checkpoint/send failed; rolling back');
    // A checkpoint still running finishes first: the container is resumed from a whole dump.
    await dumping?.catch(() => undefined);
    const unresumed = await resumeHere(ctx, peer, record.id, failure, log);
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

/** The most telling of several failures: the first that is not just "cancelled". */
function preferCause(reasons: unknown[]): unknown {
  const errors = reasons.filter((r) => r !== undefined).map((r) => FerryError.from(r));
  return errors.find((e) => e.code !== 'CANCELLED') ?? errors[0];
}

/**
 * Until the destination restores, the source copy is the container: bring it back now rather
 * than wait for a coordinator that may be gone. Once the archive may have reached the destination
 * whole, the destination drops it (and any copy it restored) first; if it cannot be asked, the
 * container stays frozen here and the agents settle it later. Never two running copies.
 */
/** Rolls the migration back here (and at the destination); resolves with the local rollback's failure, if any. */
async function resumeHere(ctx: SourceContext, peer: AgentConnection, id: string, failure: FerryError, log: Logger): Promise<FerryError | undefined> {
  const reason = `${failure.code}: ${failure.message}`;
  const tellPeer = () =>
    peer.rollback(id, reason, { timeoutMs: 30_000 }).then(
      () => true,
      (error: unknown) => {
        log.warn({ err: FerryError.from(error).message }, 'could not roll back the destination');
        return FerryError.from(error).code === 'MIGRATION_UNKNOWN';
      },
    );
  const local = (peerRolledBack: boolean) =>
    ctx.rollback(id, reason, peerRolledBack).then(
      () => undefined,
      (error: unknown) => {
        const e = FerryError.from(error);
        log.error({ code: e.code, err: e.message }, 'rollback after the failed send failed');
        return e;
      },
    );
  const record = ctx.journal.get(id);
  if (record && mayBeWholeThere(record)) return local(await tellPeer());
  const unresumed = await local(false);
  await tellPeer();
  return unresumed;
}
