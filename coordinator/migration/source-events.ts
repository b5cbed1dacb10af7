// What the source agent says while it checkpoints and sends, as the coordinator's events: each
// message of CheckpointAndSend's stream becomes the event the user sees (progress with its rate
// and time left, the dump, the compression chosen, retries) and a figure of the summary (Moved).
import { COMPRESSION, STREAM_KIND } from '../../common/wire.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { MigrationEvent__Output } from '../../proto/gen/ferry/v1/MigrationEvent.ts';
import type { RestoreReply__Output } from '../../proto/gen/ferry/v1/RestoreReply.ts';
import type { MigrationDriver } from './driver.ts';

/** What the checkpoint, transfer and restore phases measured. */
export interface Moved {
  container: ContainerInfo;
  checkpointMs: number;
  archiveBytes: number;
  pagesBytes: number;
  transferMs: number;
  frozenMs: number;
  runtimeCheckpointMs: number;
  dataBytesLive: number;
  dataBytesFrozen: number;
  imageBytes: number;
  /** performance.now() of CRIU's freeze, as the source reported it. */
  freezeAt: number;
  restored: RestoreReply__Output;
  /** The first TCP answer on the destination's published ports, when there are any. */
  answered: Promise<number | undefined>;
}

/**
 * Says `event` and keeps its figures in `moved`. `streamingSince`: performance.now() when the
 * archive began to stream, for the rate.
 */
export function translateSourceEvent(
  m: Pick<MigrationDriver, 'id' | 'source' | 'destination' | 'emit' | 'enter' | 'phase'>,
  event: MigrationEvent__Output,
  moved: Omit<Moved, 'restored' | 'answered'>,
  streamingSince: number,
): void {
  const from = m.source.host;
  const to = m.destination.host;
  if (event.dumped) {
    m.emit({ kind: 'dumped', migrationId: m.id, host: from.name, ms: Number(event.dumped.ms) });
    if (m.phase === 'checkpoint') m.enter('transfer', from.name, `streaming the archive from ${from.name} to ${to.name} as podman writes it`);
  } else if (event.checkpointed) {
    const c = event.checkpointed;
    moved.checkpointMs = Number(c.checkpointMs);
    moved.archiveBytes = Number(c.archiveBytes);
    moved.frozenMs = Number(c.frozenMs);
    moved.runtimeCheckpointMs = Number(c.runtimeMs);
    // The source said how long ago CRIU began the freeze; the network's delay is noise next to it.
    moved.freezeAt = performance.now() - Number(c.freezeAgeMs);
    m.emit({ kind: 'checkpointed', migrationId: m.id, host: from.name, checkpointMs: moved.checkpointMs, archiveBytes: moved.archiveBytes, frozenMs: moved.frozenMs, runtimeMs: moved.runtimeCheckpointMs });
  } else if (event.imageSent) {
    moved.imageBytes = Number(event.imageSent.bytes);
    m.emit({ kind: 'image-sent', migrationId: m.id, image: event.imageSent.image, bytes: moved.imageBytes, ms: Number(event.imageSent.ms) });
  } else if (event.dataSynced) {
    const d = event.dataSynced;
    if (d.round === 0) moved.dataBytesLive = Number(d.bytes);
    else moved.dataBytesFrozen = Number(d.bytes);
    m.emit({ kind: 'data-synced', migrationId: m.id, round: d.round, bytes: Number(d.bytes), entries: Number(d.entries), removed: Number(d.removed), ms: Number(d.ms), paths: d.paths });
  } else if (event.compressionChosen) {
    const c = event.compressionChosen;
    m.emit({ kind: 'compression', migrationId: m.id, host: from.name, compression: COMPRESSION.fromWire(c.compression) ?? 'none', reason: c.reason });
  } else if (event.retrying) {
    const r = event.retrying;
    m.emit({ kind: 'retrying', migrationId: m.id, stream: STREAM_KIND.fromWire(r.stream) ?? String(r.stream), attempt: r.attempt, error: r.error, resumeFrom: Number(r.resumeFrom) });
  } else if (event.progress) {
    const bytes = Number(event.progress.bytes);
    const totalBytes = Number(event.progress.totalBytes);
    const seconds = (performance.now() - streamingSince) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.round(bytes / seconds) : 0;
    // Until podman is done the archive's size is not known: the container's memory and data say about how big.
    const expected = totalBytes > 0 ? totalBytes : Number(moved.container.estimatedBytes);
    const etaMs = bytesPerSecond > 0 && expected > bytes ? Math.round(((expected - bytes) / bytesPerSecond) * 1000) : 0;
    m.emit({ kind: 'progress', migrationId: m.id, bytes, totalBytes, bytesPerSecond, etaMs, estimated: totalBytes <= 0 });
  } else if (event.transferred) {
    // A small archive may be all there before the source said the dump was done.
    if (m.phase === 'checkpoint') m.enter('transfer', from.name, `streaming the archive from ${from.name} to ${to.name}`);
    moved.transferMs = Number(event.transferred.transferMs);
    moved.pagesBytes = Number(event.transferred.pagesBytes);
    m.emit({ kind: 'transferred', migrationId: m.id, bytes: Number(event.transferred.bytes), transferMs: moved.transferMs, sha256: event.transferred.sha256 });
  }
}
