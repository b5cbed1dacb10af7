// Which containers this host agrees to run, whoever sends them (docs/admission.md). A fleet
// member whose root was taken can send any checkpoint it likes, and this agent imports it as
// root: Ferry's certificates prove which host sent it, not that the container is one this host
// should run. So the destination judges what podman would create from the archive, by its OCI
// spec and its libpod config: in the preflight (from what the source says it runs) and again on
// the archive itself, before podman sees a byte of it.
//
// By default a host refuses a privileged container, capabilities beyond podman's defaults,
// devices, the host's namespaces, and bind mounts of the paths that would give the container
// the host. /etc/ferry/policy.json may allow each, and restrict images and bind-mount roots.
import { readFile } from 'node:fs/promises';
import { FerryError } from '../../common/errors.ts';

export const POLICY_PATH = '/etc/ferry/policy.json';

export interface Policy {
  allow: {
    privileged: boolean;
    /** Capabilities allowed beyond podman's defaults (CAP_NET_ADMIN, ...). */
    capabilities: string[];
    devices: boolean;
    hostNamespaces: boolean;
    /** Protected paths (or paths under them) that may be bind-mounted all the same. */
    bindMounts: string[];
  };
  /** When set, only images whose name matches one of these (a trailing * matches any rest). */
  images?: string[] | undefined;
  /** When set, every bind mount's source lies under one of these. */
  bindMountRoots?: string[] | undefined;
}

/** podman 4.3's default capabilities (containers.conf default_capabilities). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

/** Bind-mount sources that give a container the host, refused unless allowed. */
export const PROTECTED_PATHS = ['/', '/etc', '/root', '/boot', '/var/lib/containers', '/run/podman', '/run/containers', '/var/run/podman'];

export const DEFAULT_POLICY: Policy = { allow: { privileged: false, capabilities: [], devices: false, hostNamespaces: false, bindMounts: [] } };

function invalid(path: string, why: string): FerryError {
  return new FerryError('POLICY_DENIED', `the admission policy ${path} ${why}`, { hint: 'Fix the file (docs/admission.md); until then this host refuses every incoming container. The agent reads it at each check: no restart is needed.' });
}

const strings = (value: unknown) => Array.isArray(value) && value.every((v) => typeof v === 'string');
const absolute = (value: unknown) => strings(value) && (value as string[]).every((p) => p.startsWith('/'));

/** The policy in `path`, the default when there is none; throws on a file that is not one. */
export async function loadPolicy(path = POLICY_PATH): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_POLICY;
    throw invalid(path, `cannot be read: ${(error as Error).message}`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw invalid(path, `is not JSON: ${(error as Error).message}`);
  }
  const allow = (raw.allow ?? {}) as Record<string, unknown>;
  const known = new Set(['allow', 'images', 'bindMountRoots']);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length) throw invalid(path, `has unknown settings: ${unknown.join(', ')}`);
  for (const key of ['privileged', 'devices', 'hostNamespaces'] as const) {
    if (allow[key] !== undefined && typeof allow[key] !== 'boolean') throw invalid(path, `says allow.${key} ${JSON.stringify(allow[key])}, not true or false`);
  }
  if (allow.capabilities !== undefined && !strings(allow.capabilities)) throw invalid(path, 'says allow.capabilities is not a list of names');
  if (allow.bindMounts !== undefined && !absolute(allow.bindMounts)) throw invalid(path, 'says allow.bindMounts is not a list of absolute paths');
  if (raw.images !== undefined && !strings(raw.images)) throw invalid(path, 'says images is not a list of names');
  if (raw.bindMountRoots !== undefined && !absolute(raw.bindMountRoots)) throw invalid(path, 'says bindMountRoots is not a list of absolute paths');
  return {
    allow: {
      privileged: allow.privileged === true,
      capabilities: ((allow.capabilities as string[] | undefined) ?? []).map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`)),
      devices: allow.devices === true,
      hostNamespaces: allow.hostNamespaces === true,
      bindMounts: (allow.bindMounts as string[] | undefined) ?? [],
    },
    images: raw.images as string[] | undefined,
    bindMountRoots: raw.bindMountRoots as string[] | undefined,
  };
}

/** The policy in a line, for `ferry hosts`. */
export function describePolicy(policy: Policy): string {
  const allowed = [
    policy.allow.privileged && 'privileged',
    policy.allow.capabilities.length && `capabilities ${policy.allow.capabilities.join(',')}`,
    policy.allow.devices && 'devices',
    policy.allow.hostNamespaces && 'host namespaces',
    policy.allow.bindMounts.length && `bind mounts of ${policy.allow.bindMounts.join(',')}`,
  ].filter(Boolean);
  const limits = [policy.images && `images ${policy.images.join(',')}`, policy.bindMountRoots && `bind mounts under ${policy.bindMountRoots.join(',')}`].filter(Boolean);
  return `${allowed.length ? `allows ${allowed.join('; ')}` : 'default'}${limits.length ? `; only ${limits.join('; ')}` : ''}`;
}
