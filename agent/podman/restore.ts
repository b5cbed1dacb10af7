// `podman container restore --import`: brings a received checkpoint back to life. podman leaves
// a `Created` container behind when a restore fails, so a failure removes it before reporting.
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import { ms, statsJson, withCriuLines } from './checkpoint.ts';
import { findContainer, inspectContainer } from './inspect.ts';
import type { Podman, RunOptions } from './podman.ts';

export interface RestoreRequest {
  archivePath: string;
  /** The container's name: what to look for, and to clean up, after the restore. */
  name: string;
}

export interface RestoreStats {
  /** podman's whole restore, ms. */
  podmanMs: number;
  /** runc's restore (CRIU's inside it), ms, when podman reported it. */
  runtimeMs: number | undefined;
}

interface RawStats {
  podman_restore_duration?: number;
  container_statistics?: Array<{ runtime_restore_duration?: number }>;
}

export function parseRestoreStats(stdout: string): RestoreStats {
  const raw = statsJson<RawStats>(stdout);
  return { podmanMs: ms(raw.podman_restore_duration) ?? 0, runtimeMs: ms(raw.container_statistics?.[0]?.runtime_restore_duration) };
}

/** Restores from an archive path (a file, or a link the import feeder serves) and inspects the result. */
export async function restoreImport(
  podman: Podman,
  request: RestoreRequest,
  options: RunOptions = {},
): Promise<{ container: ContainerInfo; stats: RestoreStats }> {
  let stats: RestoreStats;
  try {
    const out = await podman.run(['container', 'restore', '--tcp-established', '--print-stats', '--import', request.archivePath], {
      ...options,
      errorCode: 'RESTORE_FAILED',
    });
    stats = parseRestoreStats(out);
  } catch (error) {
    const explained = await withCriuLines(error);
    await removeContainer(podman, request.name).catch(() => undefined);
    throw explained;
  }
  return { container: await inspectContainer(podman, request.name, { timeoutMs: options.timeoutMs }), stats };
}

/**
 * Removes what container storage holds of a container podman itself does not know. podman killed
 * mid-import (with the agent that ran it) can leave just that: the container's storage made, the
 * container not yet recorded. Its next import of the same ID then fails with "creating container
 * storage: that ID is already in use", and `podman rm` does not see it. True when there was some.
 */
export async function removeStorageLeftover(podman: Podman, id: string, options: RunOptions = {}): Promise<boolean> {
  const listed = await podman.run(['ps', '--all', '--external', '--no-trunc', '--format', '{{.ID}}'], options);
  const known = listed.split('\n').map((line) => line.trim()).find((line) => line && (line.startsWith(id) || id.startsWith(line)));
  if (!known) return false;
  await podman.run(['rm', '--storage', known], options);
  return true;
}

/** Removes the container if it exists; true when there was one. */
export async function removeContainer(podman: Podman, container: string, options: RunOptions = {}): Promise<boolean> {
  if (!(await findContainer(podman, container, options))) return false;
  await podman.run(['rm', '--force', '--time', '0', container], options);
  return true;
}
