// The container networks of a host, for the destination's preflight: with --tcp-established the
// container keeps its IP, so the destination needs the same network, with a subnet that holds
// that IP, and no container of its own using it.
import type { Podman, RunOptions } from './podman.ts';

interface RawNetwork {
  name: string;
  subnets?: Array<{ subnet?: string }> | null;
}

export function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

/** Whether an IPv4 address lies inside a CIDR subnet; false for anything unparseable. */
export function inSubnet(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const addr = ipv4ToNumber(ip);
  const net = ipv4ToNumber(base ?? '');
  const prefix = Number(bits);
  if (addr === undefined || net === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
  const size = 2 ** (32 - prefix);
  return Math.floor(addr / size) === Math.floor(net / size);
}

/** Subnets of each network on the host, by name. */
export async function networkSubnets(podman: Podman, options: RunOptions = {}): Promise<Map<string, string[]>> {
  const names = (await podman.run(['network', 'ls', '--format', '{{.Name}}'], options)).split('\n').filter(Boolean);
  if (!names.length) return new Map();
  const raw = await podman.runJson<RawNetwork[]>(['network', 'inspect', ...names], options);
  return new Map(raw.map((n) => [n.name, (n.subnets ?? []).map((s) => s.subnet ?? '').filter(Boolean)]));
}

/** IPs held by the host's running containers, with the container that holds each. */
export async function ipsInUse(podman: Podman, options: RunOptions = {}): Promise<Map<string, string>> {
  const ids = (await podman.run(['ps', '--quiet', '--no-trunc'], options)).split('\n').filter(Boolean);
  if (!ids.length) return new Map();
  const raw = await podman.runJson<Array<{ Name: string; NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> | null } }>>(
    ['container', 'inspect', ...ids],
    options,
  );
  const used = new Map<string, string>();
  for (const c of raw) {
    for (const net of Object.values(c.NetworkSettings?.Networks ?? {})) if (net.IPAddress) used.set(net.IPAddress, c.Name);
  }
  return used;
}
