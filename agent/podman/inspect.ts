// `podman container inspect` and `podman ps`, parsed into the shapes of the agent API.
import { FerryError } from '../../common/errors.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { ContainerSummary__Output as ContainerSummary } from '../../proto/gen/ferry/v1/ContainerSummary.ts';
import type { Mount__Output as Mount } from '../../proto/gen/ferry/v1/Mount.ts';
import type { PortMapping__Output as PortMapping } from '../../proto/gen/ferry/v1/PortMapping.ts';
import type { Podman, RunOptions } from './podman.ts';

type Bindings = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null | undefined;

export interface RawInspect {
  Id: string;
  Name: string;
  Image: string;
  /** podman's own directory of the container (containerDirectory). */
  StaticDir?: string;
  ImageName?: string;
  OCIRuntime?: string;
  State?: { Status?: string; CgroupPath?: string };
  Config?: { Labels?: Record<string, string> | null };
  HostConfig?: { PortBindings?: Bindings; AutoRemove?: boolean; Privileged?: boolean };
  NetworkSettings?: {
    Ports?: Bindings;
    IPAddress?: string;
    Networks?: Record<string, { IPAddress?: string }> | null;
  };
  Mounts?: Array<{ Type?: string; Name?: string; Source?: string; Destination?: string; RW?: boolean }> | null;
}

interface RawPsEntry {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  State?: string;
  Ports?: Array<{ host_ip?: string; container_port?: number; host_port?: number; range?: number; protocol?: string }> | null;
}

/** `"6379/tcp": [{HostPort: "6380"}]` as port mappings, sorted so two lists compare equal. */
export function parsePortBindings(bindings: Bindings): PortMapping[] {
  const ports: PortMapping[] = [];
  for (const [key, hosts] of Object.entries(bindings ?? {})) {
    const match = /^(\d+)\/(\w+)$/.exec(key);
    if (!match) continue;
    for (const host of hosts ?? []) {
      const hostPort = Number(host.HostPort);
      if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
      ports.push({
        hostPort,
        containerPort: Number(match[1]),
        protocol: match[2] ?? 'tcp',
        // podman 5 says 0.0.0.0 where podman 4.3 says nothing for a port published on every
        // address (-p 6380:6379): one mapping, said one way, whichever podman made it.
        hostIp: host.HostIp === '0.0.0.0' ? '' : (host.HostIp ?? ''),
      });
    }
  }
  return sortPorts(ports);
}

export function sortPorts(ports: PortMapping[]): PortMapping[] {
  const key = (p: PortMapping) => `${p.protocol}/${String(p.hostPort).padStart(5, '0')}/${p.containerPort}/${p.hostIp}`;
  return ports.sort((a, b) => key(a).localeCompare(key(b)));
}

export function parseInspect(raw: RawInspect): ContainerInfo {
  const live = parsePortBindings(raw.NetworkSettings?.Ports);
  const ports = live.length ? live : parsePortBindings(raw.HostConfig?.PortBindings);
  const ips = new Set<string>();
  if (raw.NetworkSettings?.IPAddress) ips.add(raw.NetworkSettings.IPAddress);
  for (const net of Object.values(raw.NetworkSettings?.Networks ?? {})) {
    if (net.IPAddress) ips.add(net.IPAddress);
  }
  const mounts: Mount[] = (raw.Mounts ?? []).map((m) => ({
    type: m.Type ?? '',
    source: m.Source ?? '',
    destination: m.Destination ?? '',
    name: m.Name ?? '',
    readWrite: m.RW ?? false,
  }));
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    imageId: raw.Image,
    imageName: raw.ImageName ?? '',
    state: raw.State?.Status ?? 'unknown',
    ports,
    ipAddresses: [...ips],
    mounts,
    ociRuntime: raw.OCIRuntime ?? '',
    labels: { ...(raw.Config?.Labels ?? {}) },
    networks: Object.keys(raw.NetworkSettings?.Networks ?? {}).sort(),
    cgroupPath: raw.State?.CgroupPath ?? '',
    estimatedBytes: 0,
    readiness: null, // only a preflight's inspect examines the processes
    autoRemove: raw.HostConfig?.AutoRemove === true,
    unit: null, // the agent's inspect looks for it (systemd/unit.ts)
    runtimeSpec: Buffer.alloc(0), // read by the agent's inspect from the container's bundle
    privileged: raw.HostConfig?.Privileged === true,
  };
}

export function parsePs(entries: RawPsEntry[]): ContainerSummary[] {
  return entries.map((e) => ({
    id: e.Id,
    name: e.Names?.[0] ?? '',
    image: e.Image ?? '',
    state: e.State ?? 'unknown',
    ports: sortPorts(
      (e.Ports ?? []).flatMap((p) =>
        Array.from({ length: Math.max(1, p.range ?? 1) }, (_, i) => ({
          hostPort: (p.host_port ?? 0) + i,
          containerPort: (p.container_port ?? 0) + i,
          protocol: p.protocol ?? 'tcp',
          hostIp: p.host_ip ?? '',
        })),
      ),
    ),
    problem: '', // podman knows of none; the agent adds what its own checks found
  }));
}

const NOT_FOUND = /no such (container|object)/i;

/** Inspects one container; CONTAINER_NOT_FOUND when the host has none by that name or ID. */
export async function inspectContainer(podman: Podman, container: string, options: RunOptions = {}): Promise<ContainerInfo> {
  return (await inspectWhole(podman, container, options)).info;
}

/**
 * One container as podman's inspect printed it (`raw`, for readers of what ContainerInfo leaves
 * out: its processes' PID, its directory) beside what Ferry makes of it. One podman call where a
 * preflight made three: each costs a podman start, 0.1 s of CPU here.
 */
export async function inspectWhole(podman: Podman, container: string, options: RunOptions = {}): Promise<{ info: ContainerInfo; raw: RawInspect }> {
  let raw: RawInspect[];
  try {
    raw = await podman.runJson<RawInspect[]>(['container', 'inspect', container], options);
  } catch (error) {
    if (error instanceof FerryError && (NOT_FOUND.test(error.message) || error.details.some((l) => NOT_FOUND.test(l)))) {
      throw new FerryError('CONTAINER_NOT_FOUND', `no container named or with ID "${container}"`, { cause: error });
    }
    throw error;
  }
  const first = raw[0];
  if (!first) throw new FerryError('CONTAINER_NOT_FOUND', `no container named or with ID "${container}"`);
  return { info: parseInspect(first), raw: first };
}

/**
 * podman's own directory of the container (its userdata: the checkpoint directory's parent).
 * `known`: what an inspect of it already said (its StaticDir), which never changes for a container.
 */
export async function containerDirectory(podman: Podman, container: string, options: RunOptions = {}, known?: string): Promise<string> {
  if (known?.startsWith('/')) return known;
  const dir = (await podman.run(['container', 'inspect', '--format', '{{.StaticDir}}', container], options)).trim();
  if (!dir.startsWith('/')) throw new FerryError('INTERNAL', `podman gave no directory for container ${container} (${JSON.stringify(dir)})`);
  return dir;
}

/** Like inspectContainer, but undefined when there is no such container. */
export async function findContainer(podman: Podman, container: string, options: RunOptions = {}): Promise<ContainerInfo | undefined> {
  try {
    return await inspectContainer(podman, container, options);
  } catch (error) {
    if (error instanceof FerryError && error.code === 'CONTAINER_NOT_FOUND') return undefined;
    throw error;
  }
}

export async function listContainers(podman: Podman, all: boolean, options: RunOptions = {}): Promise<ContainerSummary[]> {
  const raw = await podman.runJson<RawPsEntry[] | null>(['ps', '--format', 'json', ...(all ? ['--all'] : [])], options);
  return parsePs(raw ?? []);
}

/** Whether the host has this image, by ID. */
export async function hasImage(podman: Podman, imageId: string, options: RunOptions = {}): Promise<boolean> {
  try {
    await podman.run(['image', 'exists', imageId], options);
    return true;
  } catch (error) {
    if (error instanceof FerryError && error.code === 'PODMAN_FAILED' && /exited with code 1\b/.test(error.message)) return false;
    throw error;
  }
}
