// The summary of a finished move (ferry migrate's last lines, --json's done event): what each
// phase measured, the outage, and runc's own part of it, the floor no move can go under.
import type { MigrationSummary } from '../events.ts';
import type { Moved } from './source-events.ts';

export interface Finish {
  migrationId: string;
  from: string;
  to: string;
  /** performance.now() when the migration began, and the verify step's length. */
  startedAt: number;
  verifyMs: number;
  downtimeMs: number;
  leftToClean: string[];
}

export function summarize(moved: Moved, finish: Finish): MigrationSummary {
  const { restored, container } = moved;
  const runtimeRestoreMs = Number(restored.runtimeMs);
  return {
    migrationId: finish.migrationId,
    container: container.name,
    from: finish.from,
    to: finish.to,
    checkpointMs: moved.checkpointMs,
    archiveBytes: moved.archiveBytes,
    transferMs: moved.transferMs,
    restoreMs: Number(restored.restoreMs),
    verifyMs: finish.verifyMs,
    totalMs: Math.round(performance.now() - finish.startedAt),
    downtimeMs: finish.downtimeMs,
    frozenMs: moved.frozenMs,
    runtimeCheckpointMs: moved.runtimeCheckpointMs,
    runtimeRestoreMs,
    floorMs: moved.runtimeCheckpointMs + runtimeRestoreMs,
    streamedRestore: restored.streamed,
    relayedBytes: Number(restored.relayedBytes),
    pagesBytes: moved.pagesBytes,
    dataBytesLive: moved.dataBytesLive,
    dataBytesFrozen: moved.dataBytesFrozen,
    imageBytes: moved.imageBytes,
    newAddress: restored.newAddress,
    ipAddresses: restored.container?.ipAddresses ?? [],
    sourceIpAddresses: container.ipAddresses,
    leftToClean: finish.leftToClean,
  };
}
