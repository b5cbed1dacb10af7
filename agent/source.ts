// The source's half of a migration: while the container runs, send its image (if the
// destination lacks it) and its bind-mounted data, and run its hooks; then freeze and checkpoint
// it, send what changed in the data since, and the archive. Every transfer goes straight to the
// destination agent and is retried (resumed, for the archive) while its errors allow. Any failure
// resumes the container here at once.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pRetry from 'p-retry';
import { AgentConnection } from '../common/client.ts';
import { FerryError } from '../common/errors.ts';
import { agentClient } from '../common/rpc.ts';
import type { MigrationEvent } from '../proto/gen/ferry/v1/MigrationEvent.ts';
import { packEntries } from './data/pack.ts';
import { delta, scan, type Entry, type Manifest } from './data/scan.ts';
import { SENT_OUTCOME } from './journal.ts';
import { checkpoint, COMPRESSIONS, type Compression } from './podman/checkpoint.ts';
import { runHook } from './podman/hooks.ts';
import { inspectContainer } from './podman/inspect.ts';
import { bindMountPaths, requireMigrationId, requireText, type AgentService } from './service.ts';
import { UNKNOWN_SIZE, type StreamKind } from './transfer/chunks.ts';
import { sendArchive, sendStream } from './transfer/send.ts';

const PROGRESS_EVERY_BYTES = 8 * 1024 * 1024;
/** How long a broken transfer keeps being resumed before the migration rolls back. */
export const DEFAULT_TRANSFER_RETRY_MS = 30_000;

export interface CheckpointAndSendInput {
  migrationId: string;
  container: string;
  destinationHost: string;
  destinationAddress: string;
  compress: string;
  timeoutMs: number;
  sendImage: boolean;
  ignoreBindMounts: boolean;
  noPresync: boolean;
  transferRetryMs: number;
}

/** Checkpoints the container and sends it, with its image and data, to the destination agent. */
export async function checkpointAndSend(
  service: AgentService,
  request: CheckpointAndSendInput,
  emit: (event: MigrationEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  requireMigrationId(request.migrationId);
  requireText(request.container, 'container');
  requireText(request.destinationHost, 'destination_host');
  requireText(request.destinationAddress, 'destination_address');
  const compress = (request.compress || 'none') as Compression;
  if (!COMPRESSIONS.includes(compress)) {
    throw new FerryError('BAD_REQUEST', `compress must be one of ${COMPRESSIONS.join(', ')}, not "${request.compress}"`);
  }
  if (request.destinationHost === service.config.name) {
    throw new FerryError('SAME_HOST', `the destination ${request.destinationHost} is this host`);
  }
  const podman = service.config.podman;
  const container = await inspectContainer(podman, request.container, { signal });
  if (container.state !== 'running') {
    throw new FerryError('CONTAINER_NOT_RUNNING', `container ${container.name} is ${container.state}, not running`, { phase: 'checkpoint' });
  }
  const busy = service.journal.active().find((r) => r.containerId === container.id);
  if (busy) throw new FerryError('MIGRATION_BUSY', `container ${container.name} is already being migrated (${busy.id}, ${busy.phase})`);

  const log = service.config.log.child({ migrationId: request.migrationId, container: container.name });
  const record = await service.journal.create({
    id: request.migrationId,
    role: 'source',
    container: container.name,
    containerId: container.id,
    peer: request.destinationHost,
    peerAddress: request.destinationAddress,
    phase: 'checkpoint',
    archivePath: join(service.archiveDir, `${request.migrationId}.tar`),
    touched: true,
    dataPaths: request.ignoreBindMounts ? [] : bindMountPaths(container),
  });
  const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : undefined;
  let phase: 'checkpoint' | 'transfer' = 'checkpoint';
  try {
    const client = agentClient(request.destinationAddress, service.config.tls, request.destinationHost);
    const peer = new AgentConnection({ name: request.destinationHost, agent: request.destinationAddress }, service.config.tls);
    const retryMs = request.transferRetryMs > 0 ? request.transferRetryMs : DEFAULT_TRANSFER_RETRY_MS;
    /** Runs a transfer again while its errors say a retry may help, for at most retryMs. */
    const retrying = <T>(stream: StreamKind, attempt: (n: number) => Promise<T>) =>
      pRetry(attempt, {
        retries: 1_000,
        minTimeout: 250,
        maxTimeout: 2_000,
        maxRetryTime: retryMs,
        signal,
        shouldRetry: ({ error }) => !signal.aborted && FerryError.from(error).retryable,
        onFailedAttempt: ({ error, attemptNumber }) => {
          log.warn({ stream, attempt: attemptNumber, err: error.message }, 'transfer attempt failed');
          emit({ retrying: { stream, attempt: attemptNumber, error: FerryError.from(error).message } });
        },
      });
    try {
      const send = (kind: StreamKind, round: number, source: AsyncIterable<Buffer>, totalBytes = UNKNOWN_SIZE) =>
        sendStream({
          source,
          totalBytes,
          kind,
          round,
          migrationId: record.id,
          sourceHost: service.config.name,
          destinationHost: request.destinationHost,
          client,
          signal,
        });
      // Everything slow happens while the container still runs: the image, and the bulk of its
      // bind-mounted data. Hooks too: a failure here has frozen nothing.
      if (request.sendImage) {
        const started = performance.now();
        // docker-archive keeps the image's name and its ID (the config digest) through the load.
        const image = container.imageName || container.imageId;
        const sent = await retrying('image', async () => {
          const save = podman.spawn(['image', 'save', '--quiet', '--format', 'docker-archive', image], { signal });
          const [result] = await Promise.all([
            send('image', 0, save.stdout as AsyncIterable<Buffer>).catch((error: unknown) => {
              save.kill();
              throw error;
            }),
            save,
          ]);
          return result;
        });
        emit({ imageSent: { image: container.imageName || container.imageId, bytes: sent.bytes, ms: Math.round(performance.now() - started) } });
      }
      const dataPaths = record.dataPaths ?? [];
      const syncData = async (round: number, entries: Entry[], removals: string[]) => {
        const started = performance.now();
        // A broken data stream is sent again whole: applying it twice gives the same tree.
        const { packed, dirty } = await retrying('data', async () => {
          const packed = packEntries(entries, removals, (entry) => log.warn({ path: entry.path }, 'not a file, directory or link: skipped'));
          const sent = send('data', round, packed.stream).catch((error: unknown) => {
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
      log.info({ phase }, 'checkpointing');
      const started = performance.now();
      const stats = await checkpoint(podman, { container: container.id, exportPath: record.archivePath, compress }, { signal, timeoutMs });
      const checkpointMs = Math.round(performance.now() - started);
      const { size } = await stat(record.archivePath);
      emit({ checkpointed: { checkpointMs, archiveBytes: size, validation, frozenMs: stats.frozenMs ?? 0 } });
      log.info({ phase, checkpointMs, frozenMs: stats.frozenMs, bytes: size }, 'checkpointed');

      phase = 'transfer';
      await service.journal.advance(record.id, 'transfer');
      if (sentManifest) {
        // Frozen now: only what changed since the first round still has to go.
        const change = delta(sentManifest, await scan(dataPaths), dirty);
        await syncData(1, change.send, change.remove);
      }
      let reported = 0;
      const sent = await retrying('checkpoint', async (attempt) => {
        // After a break, continue from what the destination has kept.
        const resumeFrom =
          attempt === 1
            ? 0
            : Number(
                (
                  await peer.status(record.id, { timeoutMs: 5_000 }).catch((error: unknown) => {
                    throw new FerryError('TRANSFER_FAILED', `cannot resume the transfer: ${FerryError.from(error).message}`, {
                      phase: 'transfer',
                      cause: error,
                    });
                  })
                ).receivedBytes,
              );
        if (resumeFrom) emit({ retrying: { stream: 'checkpoint', attempt, error: '', resumeFrom } });
        return sendArchive({
          path: record.archivePath,
          migrationId: record.id,
          sourceHost: service.config.name,
          destinationHost: request.destinationHost,
          client,
          signal,
          resumeFrom,
          onProgress: (bytes, total) => {
            if (bytes - reported >= PROGRESS_EVERY_BYTES || bytes === total) {
              reported = bytes;
              emit({ progress: { bytes, totalBytes: total } });
            }
          },
        });
      });
      await service.journal.update(record.id, { outcome: SENT_OUTCOME });
      emit({ transferred: { bytes: sent.bytes, transferMs: sent.ms, sha256: sent.sha256 } });
      log.info({ phase, bytes: sent.bytes, ms: sent.ms }, 'archive sent');
    } finally {
      client.close();
      peer.close();
    }
  } catch (error) {
    // Until the destination restores, the source copy is the container: bring it back now
    // rather than wait for a coordinator that may be gone.
    const failure = FerryError.from(error, { phase, host: service.config.name });
    log.error({ phase, code: failure.code, err: failure.message }, 'checkpoint/send failed; rolling back');
    await service.rollback(record.id, failure.message).catch((rollbackError: unknown) => {
      log.error({ err: String(rollbackError) }, 'rollback after failed send failed');
    });
    // The destination may hold staged data or a partial archive; tell it, in case nobody else can.
    const peer = new AgentConnection({ name: request.destinationHost, agent: request.destinationAddress }, service.config.tls);
    await peer
      .rollback(record.id, failure.message, { timeoutMs: 30_000 })
      .catch((peerError: unknown) => log.warn({ err: String(peerError) }, 'could not roll back the destination'))
      .finally(() => peer.close());
    throw failure;
  }
}
