// `podman container restore --import`: brings a received checkpoint back to life. podman leaves
// a `Created` container behind when a restore fails, so a failure removes it before reporting.
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import { withCriuLines } from './checkpoint.ts';
import { findContainer, inspectContainer } from './inspect.ts';
import type { Podman, RunOptions } from './podman.ts';

export interface RestoreRequest {
  archivePath: string;
  /** The container's name: what to look for, and to clean up, after the restore. */
  name: string;
}

export async function restoreImport(podman: Podman, request: RestoreRequest, options: RunOptions = {}): Promise<ContainerInfo> {
  try {
    await podman.run(['container', 'restore', '--tcp-established', '--import', request.archivePath], {
      ...options,
      errorCode: 'RESTORE_FAILED',
    });
  } catch (error) {
    const explained = await withCriuLines(error);
    await removeContainer(podman, request.name).catch(() => undefined);
    throw explained;
  }
  return inspectContainer(podman, request.name, options);
}

/** Removes the container if it exists; true when there was one. */
export async function removeContainer(podman: Podman, container: string, options: RunOptions = {}): Promise<boolean> {
  if (!(await findContainer(podman, container, options))) return false;
  await podman.run(['rm', '--force', '--time', '0', container], options);
  return true;
}
