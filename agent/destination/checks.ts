// The destination's half of the preflight: can this host take the container? Each check names
// what is wrong and the fix; prepareReceive turns the first failure into its error code.
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { PreflightCheck__Output } from '../../proto/gen/ferry/v1/PreflightCheck.ts';
import { pathState } from '../data/staging.ts';
import type { MigrationRecord } from '../journal.ts';
import type { HostInfo } from '../podman/info.ts';
import { findContainer, hasImage, listContainers } from '../podman/inspect.ts';
import { inSubnet, ipsInUse, networkSubnets } from '../podman/network.ts';
import type { Podman } from '../podman/podman.ts';
import { portFree } from './ports.ts';

/** One check as the agent makes it: `warning` only on a check that passes with one. */
export type PreflightCheck = Omit<PreflightCheck__Output, 'warning'> & { warning?: boolean };

/** What the checks need to know of this host. */
export interface DestinationHost {
  name: string;
  podman: Podman;
  info: HostInfo;
  /** Migrations under way here. */
  active: MigrationRecord[];
}

/** Prefix of the image check's detail when the source must send the image. */
export const IMAGE_WILL_BE_SENT = 'image will be sent';

/** Whether the checks found that the container can only come here with a new IP (--new-address). */
export function needsNewAddress(checks: readonly PreflightCheck[]): boolean {
  return checks.some((c) => c.name === 'ip' && c.warning);
}

export async function destinationChecks(
  host: DestinationHost,
  container: ContainerInfo,
  dataPaths: readonly string[],
  replaceData: boolean,
  /** --new-address: an IP this host cannot hold is a warning (the container gets a new one), not a failure. */
  newAddress = false,
): Promise<PreflightCheck[]> {
  const { podman, name } = host;
  const checks: PreflightCheck[] = [];
  const info = host.info;
  checks.push({
    name: 'criu',
    ok: info.criuCheckOk,
    detail: info.criuCheckOk ? `criu ${info.criuVersion}` : `criu check fails on ${name}: ${info.criuCheckOutput}`,
  });
  const busy = host.active.find((r) => r.containerId === container.id);
  checks.push({
    name: 'busy',
    ok: !busy,
    detail: busy ? `migration ${busy.id} of this container is already in phase ${busy.phase} here` : 'no other migration',
  });
  // Each of these asks podman (a process start each, a tenth of a second or more) and none
  // changes anything: asked at once, not one after the other.
  const [byName, byId, image, data, network, ports] = await Promise.all([
    findContainer(podman, container.name),
    findContainer(podman, container.id),
    container.imageId ? hasImage(podman, container.imageId) : false,
    dataChecks(name, dataPaths, replaceData),
    networkChecks(host, container, newAddress),
    portChecks(host, container),
  ]);
  const sameName = byName ?? byId;
  checks.push({
    name: 'name',
    ok: !sameName,
    detail: sameName
      ? `${name} already has a container "${sameName.name}" (${sameName.id.slice(0, 12)}, ${sameName.state}); remove it first`
      : 'no container with this name or ID',
  });
  checks.push({
    name: 'image',
    ok: true,
    detail: image
      ? `image ${container.imageId.slice(0, 12)} present`
      : `${IMAGE_WILL_BE_SENT}: ${container.imageName || container.imageId} (${container.imageId.slice(0, 12)}) is not on ${name}`,
  });
  checks.push(...data, ...network, ...ports);
  return checks;
}


/** Each bind-mounted path: free here, or to be replaced (--replace-data). */
async function dataChecks(name: string, dataPaths: readonly string[], replaceData: boolean): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  for (const path of dataPaths) {
    const state = await pathState(path);
    const ok = state !== 'occupied' || replaceData;
    checks.push({
      name: 'data',
      ok,
      detail:
        state === 'occupied'
          ? replaceData
            ? `${path} exists on ${name} and will be replaced (kept aside until commit)`
            : `${path} already exists on ${name} and is not empty; move it away, or pass --replace-data to replace it`
          : `${path} is free`,
    });
  }
  return checks;
}

/**
 * --tcp-established keeps the container's IP: the destination needs its network, a subnet that
 * holds the IP, and no container of its own on it (or --new-address, and a new IP).
 */
async function networkChecks(host: DestinationHost, container: ContainerInfo, newAddress: boolean): Promise<PreflightCheck[]> {
  const { podman, name } = host;
  const checks: PreflightCheck[] = [];
  const [subnets, used] = await Promise.all([networkSubnets(podman), ipsInUse(podman)]);
  for (const network of container.networks) {
    const have = subnets.get(network);
    checks.push({
      name: 'network',
      ok: have !== undefined,
      detail: have ? `network ${network} present (${have.join(', ')})` : `network ${network} does not exist on ${name}; create it with the same subnet`,
    });
  }
  const allSubnets = [...subnets.values()].flat();
  for (const ip of container.ipAddresses) {
    const holder = used.get(ip);
    const fits = allSubnets.some((cidr) => inSubnet(ip, cidr));
    const why = holder
      ? `IP ${ip} is used by container ${holder} on ${name}`
      : `IP ${ip} is outside every network subnet on ${name} (${allSubnets.join(', ') || 'none'})`;
    if (fits && !holder) checks.push({ name: 'ip', ok: true, detail: `IP ${ip} free`, warning: false });
    else if (newAddress) {
      checks.push({
        name: 'ip',
        ok: true,
        warning: true,
        detail: `${why}; --new-address: it gets a new IP from ${container.networks.join(', ') || 'its network'} on ${name}, and its established TCP connections are closed`,
      });
    } else {
      checks.push({
        name: 'ip',
        ok: false,
        warning: false,
        detail: `${why}; the restored container keeps its IP for its TCP connections (pass --new-address to give it a new IP on ${name} and close them)`,
      });
    }
  }
  return checks;
}

/** Each published port: neither published by a container here nor bound by a process. */
async function portChecks(host: DestinationHost, container: ContainerInfo): Promise<PreflightCheck[]> {
  const { podman, name } = host;
  const checks: PreflightCheck[] = [];
  const published = (await listContainers(podman, false)).flatMap((c) => c.ports.map((p) => ({ ...p, owner: c.name })));
  for (const port of container.ports) {
    const owner = published.find((p) => p.hostPort === port.hostPort && p.protocol === port.protocol);
    const free = !owner && (await portFree(port.hostPort, port.protocol, port.hostIp));
    checks.push({
      name: 'port',
      ok: free,
      detail: free
        ? `${port.protocol} port ${port.hostPort} free`
        : owner
          ? `port ${port.hostPort}/${port.protocol} is already published by container ${owner.owner} on ${name}`
          : `port ${port.hostPort}/${port.protocol} is in use by a process on ${name}`,
    });
  }
  return checks;
}
