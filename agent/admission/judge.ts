// Whether a container may run here, by its OCI spec and libpod config (policy.ts). The rules
// read what runc would be told: the capabilities, devices, namespaces and mounts of the spec;
// podman's own mounts (the container's files in its userdata directory) and named volumes are
// podman's, not the sender's choice, and pass.
import { posix } from 'node:path';
import { FerryError } from '../../common/errors.ts';
import { DEFAULT_CAPABILITIES, PROTECTED_PATHS, type Policy } from './policy.ts';

/** The parts of an OCI runtime spec the rules read. */
export interface OciSpec {
  process?: { capabilities?: Record<string, string[] | undefined> | undefined } | undefined;
  linux?: { devices?: Array<{ path?: string }> | undefined; namespaces?: Array<{ type?: string; path?: string }> | undefined } | undefined;
  mounts?: Array<{ source?: string; destination?: string; type?: string; options?: string[] }> | undefined;
}

export interface Candidate {
  /** The container's ID: its own userdata directory is podman's, whatever it binds from there. */
  id: string;
  name: string;
  image: string;
  privileged: boolean;
  /** What podman would create it from: spec.dump and config.dump's spec (or the source's runtime spec). */
  specs: OciSpec[];
}

/** This host's podman storage and the agent's own state, which no container may bind. */
export interface HostPaths {
  graphRoot: string;
  runRoot: string;
  stateDir: string;
}

export interface Violation {
  rule: 'privileged' | 'capabilities' | 'devices' | 'host-namespaces' | 'bind-mounts' | 'bind-mount-roots' | 'images';
  detail: string;
}

const NAMESPACES = ['pid', 'network', 'ipc', 'uts', 'mount'];

const under = (path: string, root: string) => path === root || (root !== '/' && path.startsWith(root.endsWith('/') ? root : `${root}/`));

function isBind(mount: { type?: string; options?: string[] }): boolean {
  return mount.type === 'bind' || (mount.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function imageAllowed(image: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? image.startsWith(p.slice(0, -1)) : image === p));
}

/** What in the container this host's policy does not allow; empty: it may run here. */
export function judge(candidate: Candidate, policy: Policy, host: HostPaths): Violation[] {
  const found = new Map<string, Violation>();
  const add = (violation: Violation) => found.set(`${violation.rule}:${violation.detail}`, violation);
  if (candidate.privileged && !policy.allow.privileged) add({ rule: 'privileged', detail: 'it runs privileged (--privileged)' });
  if (policy.images && !imageAllowed(candidate.image, policy.images)) add({ rule: 'images', detail: `its image ${candidate.image || '(none named)'} is not one of ${policy.images.join(', ')}` });
  const ownDirs = [host.graphRoot, host.runRoot].map((root) => `${root}/overlay-containers/${candidate.id}/userdata`);
  const volumes = `${host.graphRoot}/volumes`;
  const allowedCaps = new Set([...DEFAULT_CAPABILITIES, ...policy.allow.capabilities]);
  for (const spec of candidate.specs) {
    // A privileged container has every capability and device: the privileged rule decides for them.
    const caps = new Set(Object.values(spec.process?.capabilities ?? {}).flatMap((list) => list ?? []));
    const extra = [...caps].filter((c) => !allowedCaps.has(c)).sort();
    if (extra.length && !candidate.privileged) add({ rule: 'capabilities', detail: `it adds capabilities beyond podman's defaults: ${extra.join(', ')}` });
    const devices = (spec.linux?.devices ?? []).map((d) => d.path ?? '?');
    if (devices.length && !policy.allow.devices && !candidate.privileged) {
      add({ rule: 'devices', detail: `it is given host devices: ${devices.slice(0, 5).join(', ')}${devices.length > 5 ? ` and ${devices.length - 5} more` : ''}` });
    }
    if (!policy.allow.hostNamespaces) {
      const own = spec.linux?.namespaces ?? [];
      for (const type of NAMESPACES) {
        const ns = own.find((n) => n.type === type);
        if (!ns || ns.path?.startsWith('/proc/1/ns/')) add({ rule: 'host-namespaces', detail: `it shares the host's ${type} namespace` });
      }
    }
    for (const mount of spec.mounts ?? []) {
      // Normalized first: /srv/../etc is /etc.
      const source = mount.source ? posix.normalize(mount.source) : '';
      if (!isBind(mount) || ownDirs.some((dir) => under(source, dir)) || under(source, volumes)) continue;
      const allowed = policy.allow.bindMounts.some((path) => under(source, path));
      const guarded = [...PROTECTED_PATHS, host.stateDir, host.graphRoot, host.runRoot].find((path) => under(source, path));
      if (guarded && !allowed) add({ rule: 'bind-mounts', detail: `it binds ${source} (under ${guarded}) into ${mount.destination ?? '?'}` });
      if (policy.bindMountRoots && !allowed && !policy.bindMountRoots.some((root) => under(source, root))) {
        add({ rule: 'bind-mount-roots', detail: `it binds ${source}, outside ${policy.bindMountRoots.join(', ')}` });
      }
    }
  }
  return [...found.values()];
}

/** POLICY_DENIED for what was found, naming each rule; nothing has changed on either host. */
export function denied(candidate: Pick<Candidate, 'name'>, violations: readonly Violation[], where: { host: string; phase: 'preflight' | 'restore'; policyPath: string }): FerryError {
  const first = violations[0];
  return new FerryError('POLICY_DENIED', `${where.host}'s admission policy refuses ${candidate.name}: ${first?.detail ?? ''} (rule ${first?.rule ?? ''})${violations.length > 1 ? `, and ${violations.length - 1} more` : ''}`, {
    phase: where.phase,
    host: where.host,
    hint: `Nothing was moved. If ${where.host} should run it, allow the rule in ${where.policyPath} on ${where.host} (docs/admission.md); otherwise pick another destination.`,
    details: violations.map((v) => `${v.rule}: ${v.detail}`),
  });
}

/** What podman would create from a checkpoint's config.dump and spec.dump; ARCHIVE_REFUSED when they are not JSON. */
export function candidateOfArchive(configDump: Buffer, specDump: Buffer): Candidate {
  let config: { id?: unknown; name?: unknown; rootfsImageName?: unknown; privileged?: unknown; spec?: OciSpec };
  let spec: OciSpec;
  try {
    config = JSON.parse(configDump.toString('utf8')) as typeof config;
    spec = JSON.parse(specDump.toString('utf8')) as OciSpec;
  } catch (error) {
    throw new FerryError('ARCHIVE_REFUSED', `the checkpoint's config.dump or spec.dump is not JSON (${(error as Error).message}); it is not imported`, { phase: 'restore' });
  }
  return {
    id: typeof config.id === 'string' ? config.id : '',
    name: typeof config.name === 'string' ? config.name : '(unnamed)',
    image: typeof config.rootfsImageName === 'string' ? config.rootfsImageName : '',
    privileged: config.privileged === true,
    specs: [spec, ...(config.spec ? [config.spec] : [])],
  };
}

/** The source's runtime spec (ContainerInfo.runtime_spec) as a spec to judge; none when it sent none. */
export function specsOfRuntime(runtimeSpec: Buffer | undefined): OciSpec[] {
  if (!runtimeSpec?.length) return [];
  try {
    return [JSON.parse(runtimeSpec.toString('utf8')) as OciSpec];
  } catch {
    throw new FerryError('BAD_REQUEST', 'the container\'s runtime spec is not JSON', { phase: 'preflight' });
  }
}
