// The admission policy's rules against OCI specs as podman 4.3 writes them (the default one below
// is a busybox run with -v /srv/x:/x, read from its bundle on a lab host), and the policy file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { candidateOfArchive, judge, type Candidate, type OciSpec } from '../../../agent/admission/judge.ts';
import { DEFAULT_CAPABILITIES, DEFAULT_POLICY, loadPolicy, type Policy } from '../../../agent/admission/policy.ts';

const ID = 'a394f381da846322fb01147e47f6d400c5a0384f8533b5a65aec63873ca101d1';
const HOST = { graphRoot: '/var/lib/containers/storage', runRoot: '/run/containers/storage', stateDir: '/var/lib/ferry/agent' };
const own = (root: string, file: string) => `${root}/overlay-containers/${ID}/userdata/${file}`;

function podmanSpec(): OciSpec {
  return {
    process: { capabilities: { bounding: [...DEFAULT_CAPABILITIES], effective: [...DEFAULT_CAPABILITIES] } },
    linux: { devices: [], namespaces: [{ type: 'pid' }, { type: 'network', path: '/run/netns/netns-6d35ebba' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/x', type: 'bind', source: '/srv/x', options: ['rbind'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: own(HOST.runRoot, 'resolv.conf'), options: ['bind'] },
      { destination: '/dev/shm', type: 'bind', source: own(HOST.graphRoot, 'shm'), options: ['bind'] },
      { destination: '/data', type: 'bind', source: `${HOST.graphRoot}/volumes/pgdata/_data`, options: ['rbind'] },
    ],
  };
}

const candidate = (spec: OciSpec, more: Partial<Candidate> = {}): Candidate => ({ id: ID, name: 'c', image: 'localhost/ferry-lab/busybox:latest', privileged: false, specs: [spec], ...more });
const rules = (c: Candidate, policy: Policy = DEFAULT_POLICY) => judge(c, policy, HOST).map((v) => v.rule);
const allow = (more: Partial<Policy['allow']>, rest: Partial<Policy> = {}): Policy => ({ ...DEFAULT_POLICY, ...rest, allow: { ...DEFAULT_POLICY.allow, ...more } });

describe('the admission policy', () => {
  it('lets a container as podman runs it by default through: its own files, a named volume, a bind of /srv', () => {
    expect(judge(candidate(podmanSpec()), DEFAULT_POLICY, HOST)).toEqual([]);
  });

  it('refuses a privileged container, added capabilities, devices and the host\'s namespaces, each unless allowed', () => {
    expect(rules(candidate(podmanSpec(), { privileged: true }))).toEqual(['privileged']);
    expect(rules(candidate(podmanSpec(), { privileged: true }), allow({ privileged: true }))).toEqual([]);
    const caps = podmanSpec();
    caps.process = { capabilities: { bounding: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] } };
    expect(rules(candidate(caps))).toEqual(['capabilities']);
    expect(rules(candidate(caps), allow({ capabilities: ['CAP_SYS_ADMIN'] }))).toEqual([]);
    const devices = podmanSpec();
    devices.linux = { ...devices.linux, devices: [{ path: '/dev/fuse' }] };
    expect(rules(candidate(devices))).toEqual(['devices']);
    expect(rules(candidate(devices), allow({ devices: true }))).toEqual([]);
    const hostNet = podmanSpec();
    hostNet.linux = { ...hostNet.linux, namespaces: hostNet.linux?.namespaces?.filter((n) => n.type !== 'network') };
    expect(judge(candidate(hostNet), DEFAULT_POLICY, HOST)).toEqual([{ rule: 'host-namespaces', detail: "it shares the host's network namespace" }]);
    expect(rules(candidate(hostNet), allow({ hostNamespaces: true }))).toEqual([]);
  });

  it('refuses bind mounts that give the container the host, however the path is spelled, unless allowed', () => {
    for (const source of ['/', '/etc', '/etc/shadow', '/srv/../etc', '/root', '/boot/grub', '/var/lib/containers/storage', '/run/podman/podman.sock', '/var/lib/ferry/agent/archives', own(HOST.graphRoot, '').replace(ID, 'another')]) {
      const spec = podmanSpec();
      spec.mounts = [...(spec.mounts ?? []), { destination: '/host', type: 'bind', source }];
      expect(rules(candidate(spec)), source).toEqual(['bind-mounts']);
    }
    const localtime = podmanSpec();
    localtime.mounts = [...(localtime.mounts ?? []), { destination: '/etc/localtime', type: 'bind', source: '/etc/localtime', options: ['ro'] }];
    expect(rules(candidate(localtime), allow({ bindMounts: ['/etc/localtime'] }))).toEqual([]);
  });

  it('restricts images and bind-mount roots when the policy lists them', () => {
    expect(rules(candidate(podmanSpec()), allow({}, { images: ['localhost/ferry-lab/*'] }))).toEqual([]);
    expect(rules(candidate(podmanSpec()), allow({}, { images: ['docker.io/library/redis:7'] }))).toEqual(['images']);
    expect(rules(candidate(podmanSpec()), allow({}, { bindMountRoots: ['/srv'] }))).toEqual([]);
    expect(rules(candidate(podmanSpec()), allow({}, { bindMountRoots: ['/var/lib/ferry-data'] }))).toEqual(['bind-mount-roots']);
  });

  it('judges what an archive would make: config.dump\'s privileged flag and image, spec.dump and config.dump\'s spec', () => {
    const spec = podmanSpec();
    const config = { id: ID, name: 'c', rootfsImageName: 'localhost/ferry-lab/busybox:latest', privileged: false, spec };
    expect(judge(candidateOfArchive(Buffer.from(JSON.stringify(config)), Buffer.from(JSON.stringify(spec))), DEFAULT_POLICY, HOST)).toEqual([]);
    // An attacker's spec.dump with one more bind, config.dump left as it was.
    const tampered = { ...spec, mounts: [...(spec.mounts ?? []), { destination: '/host', type: 'bind', source: '/' }] };
    expect(rules(candidateOfArchive(Buffer.from(JSON.stringify(config)), Buffer.from(JSON.stringify(tampered))))).toEqual(['bind-mounts']);
    expect(() => candidateOfArchive(Buffer.from('{'), Buffer.from('{}'))).toThrow(expect.objectContaining({ code: 'ARCHIVE_REFUSED' }));
  });

  it('reads /etc/ferry/policy.json, the default without one, and refuses every container on a broken one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-policy-'));
    expect(await loadPolicy(join(dir, 'none.json'))).toEqual(DEFAULT_POLICY);
    writeFileSync(join(dir, 'p.json'), JSON.stringify({ allow: { capabilities: ['net_admin'], bindMounts: ['/etc/localtime'] }, images: ['localhost/*'] }));
    expect(await loadPolicy(join(dir, 'p.json'))).toMatchObject({ allow: { capabilities: ['CAP_NET_ADMIN'], bindMounts: ['/etc/localtime'], privileged: false }, images: ['localhost/*'] });
    for (const bad of ['{', JSON.stringify({ allow: { privileged: 'yes' } }), JSON.stringify({ alow: {} }), JSON.stringify({ allow: { bindMounts: ['etc'] } })]) {
      writeFileSync(join(dir, 'bad.json'), bad);
      await expect(loadPolicy(join(dir, 'bad.json')), bad).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    }
  });
});
