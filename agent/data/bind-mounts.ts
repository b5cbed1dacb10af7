// The host paths a container bind-mounts: the data that must travel with it.
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';

export function bindMountPaths(container: ContainerInfo): string[] {
  return [...new Set(container.mounts.filter((m) => m.type === 'bind').map((m) => m.source))].sort();
}
