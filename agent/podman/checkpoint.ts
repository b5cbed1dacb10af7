// `podman container checkpoint`: freezes the container and exports it, keeping the local
// checkpoint so the source can be restored in place if the migration fails later.
import { FerryError } from '../../common/errors.ts';
import { criuErrorsFrom } from '../criu/log.ts';
import type { Podman, RunOptions } from './podman.ts';

export type Compression = 'none' | 'gzip' | 'zstd';
export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zstd'];

export interface CheckpointStats {
  /** podman's whole checkpoint, ms. */
  podmanMs: number;
  /** How long CRIU kept the processes frozen, ms, when CRIU reported it. */
  frozenMs: number | undefined;
  memdumpMs: number | undefined;
  pagesWritten: number | undefined;
}

interface RawStats {
  podman_checkpoint_duration?: number;
  container_statistics?: Array<{
    criu_statistics?: { frozen_time?: number; memdump_time?: number; pages_written?: number };
  }>;
}

/** podman --print-stats reports microseconds. */
export function parseCheckpointStats(stdout: string): CheckpointStats {
  const start = stdout.indexOf('{');
  let raw: RawStats = {};
  if (start >= 0) {
    try {
      raw = JSON.parse(stdout.slice(start)) as RawStats;
    } catch {
      raw = {};
    }
  }
  const criu = raw.container_statistics?.[0]?.criu_statistics;
  const ms = (us: number | undefined) => (us === undefined ? undefined : Math.round(us / 1000));
  return {
    podmanMs: ms(raw.podman_checkpoint_duration) ?? 0,
    frozenMs: ms(criu?.frozen_time),
    memdumpMs: ms(criu?.memdump_time),
    pagesWritten: criu?.pages_written,
  };
}

export interface CheckpointRequest {
  container: string;
  exportPath: string;
  compress: Compression;
}

export async function checkpoint(podman: Podman, request: CheckpointRequest, options: RunOptions = {}): Promise<CheckpointStats> {
  const args = [
    'container', 'checkpoint',
    '--tcp-established',
    '--keep',
    '--print-stats',
    '--export', request.exportPath,
    '--compress', request.compress,
    request.container,
  ];
  try {
    return parseCheckpointStats(await podman.run(args, { ...options, errorCode: 'CHECKPOINT_FAILED' }));
  } catch (error) {
    throw await withCriuLines(error);
  }
}

/** Restores the container in place from the checkpoint `--keep` left behind. */
export async function restoreInPlace(podman: Podman, container: string, options: RunOptions = {}): Promise<void> {
  try {
    await podman.run(['container', 'restore', '--tcp-established', '--keep', container], { ...options, errorCode: 'ROLLBACK_FAILED' });
  } catch (error) {
    throw await withCriuLines(error);
  }
}

/** A podman failure that names a CRIU log gets that log's error lines as details. */
export async function withCriuLines(error: unknown): Promise<unknown> {
  if (!(error instanceof FerryError)) return error;
  const lines = await criuErrorsFrom([error.message, ...error.details]);
  if (!lines.length) return error;
  return new FerryError(error.code, error.message, {
    phase: error.phase,
    host: error.host,
    hint: error.hint,
    details: lines,
    cause: error.cause,
  });
}
