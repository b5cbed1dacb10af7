// What the coordinator learns of a container before it moves one (InspectContainer): podman's
// inspect, with its size, what would stop CRIU, its systemd unit and the spec runc runs it with.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import { examine as examineContainer } from '../criu/obstacles.ts';
import { bindMountPaths } from '../data/bind-mounts.ts';
import { containerDirectory, inspectWhole } from '../podman/inspect.ts';
import type { Podman } from '../podman/podman.ts';
import { cgroupMemoryBytes, dataBytes } from '../podman/size.ts';
import { containerUnit, unitObstacle } from '../systemd/unit.ts';
import { requireText } from '../validate.ts';

/** `examine`: also read its processes for what would stop CRIU (criu/obstacles.ts), as a preflight does. */
export async function inspectForMove(podman: Podman, container: string, examine: boolean): Promise<ContainerInfo> {
  requireText(container, 'container');
  // One inspect serves all below: what the processes are (examine) and where podman keeps the container.
  const { info, raw } = await inspectWhole(podman, container);
  const [memory, data, readiness, unit, runtimeSpec] = await Promise.all([
    cgroupMemoryBytes(info.cgroupPath),
    dataBytes(bindMountPaths(info)),
    examine && info.state === 'running' ? examineContainer(podman, info.id, {}, raw) : Promise.resolve(null),
    containerUnit(podman, info),
    // What runc runs it with: the destination's admission policy judges it in the preflight.
    containerDirectory(podman, info.id, {}, raw.StaticDir).then((dir) => readFile(join(dir, 'config.json')), () => Buffer.alloc(0)),
  ]);
  const refused = unitObstacle(unit);
  if (readiness && refused) readiness.obstacles.push(refused);
  return { ...info, estimatedBytes: memory + data, readiness, unit, runtimeSpec };
}
