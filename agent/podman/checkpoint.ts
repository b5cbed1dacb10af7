// `podman container checkpoint`: freezes the container and exports it, keeping the local
// checkpoint so the source can be restored in place if the migration fails later.
import { FerryError } from '../../common/errors.ts';
import type { ArchiveCompression as Compression } from '../../common/wire.ts';
import { criuCauseHint, criuErrorsFrom } from '../criu/log.ts';
import type { Podman, RunOptions } from './podman.ts';


export interface CheckpointStats {
  /** podman's whole checkpoint, ms. */
  podmanMs: number;
  /** runc's checkpoint (CRIU's dump inside it), ms, when podman reported it. */
  runtimeMs: number | undefined;
  /** How long CRIU took to freeze the processes, and kept them frozen, ms, when CRIU reported it. */
  freezingMs: number | undefined;
  frozenMs: number | undefined;
  memdumpMs: number | undefined;
  pagesWritten: number | undefined;
}

interface RawStats {
  podman_checkpoint_duration?: number;
  container_statistics?: Array<{
    runtime_checkpoint_duration?: number;
    criu_statistics?: { freezing_time?: number; frozen_time?: number; memdump_time?: number; pages_written?: number };
  }>;
}

/** podman --print-stats reports microseconds. */
export const ms = (us: number | undefined) => (typeof us === 'number' ? Math.round(us / 1000) : undefined);

/** The JSON that --print-stats prints (after anything else podman printed), or {}. */
export function statsJson<T extends object>(stdout: string): Partial<T> {
  const start = stdout.indexOf('{');
  if (start < 0) return {};
  try {
    return JSON.parse(stdout.slice(start)) as Partial<T>;
  } catch {
    return {};
  }
}

export function parseCheckpointStats(stdout: string): CheckpointStats {
  const raw = statsJson<RawStats>(stdout);
  const container = raw.container_statistics?.[0];
  const criu = container?.criu_statistics;
  return {
    podmanMs: ms(raw.podman_checkpoint_duration) ?? 0,
    runtimeMs: ms(container?.runtime_checkpoint_duration),
    freezingMs: ms(criu?.freezing_time),
    frozenMs: ms(criu?.frozen_time),
    memdumpMs: ms(criu?.memdump_time),
    pagesWritten: criu?.pages_written,
  };
}

export interface CheckpointRequest {
  container: string;
  exportPath: string;
  compress: Compression;
  /** The processes hold file locks (agent/criu/obstacles.ts): CRIU dumps them, or refuses the dump. */
  fileLocks?: boolean | undefined;
}

export async function checkpoint(podman: Podman, request: CheckpointRequest, options: RunOptions = {}): Promise<CheckpointStats> {
  const args = [
    'container', 'checkpoint',
    '--tcp-established',
    '--keep',
    '--print-stats',
    ...(request.fileLocks ? ['--file-locks'] : []),
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

/** Restores the container in place from the checkpoint `--keep` left behind (with --file-locks when it was made with them). */
/** A podman failure that names a CRIU log gets that log's error lines as details. */
export async function withCriuLines(error: unknown): Promise<unknown> {
  if (!(error instanceof FerryError)) return error;
  const lines = await criuErrorsFrom([error.message, ...error.details]);
  if (!lines.length) return error;
  return new FerryError(error.code, error.message, {
    phase: error.phase,
    host: error.host,
    hint: criuCauseHint(lines) ?? error.hint,
    details: lines,
    cause: error.cause,
  });
}
