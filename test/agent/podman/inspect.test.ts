import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInspect, parsePortBindings, parsePs } from '../../../agent/podman/inspect.ts';
import { parseCheckpointStats } from '../../../agent/podman/checkpoint.ts';
import { parseCriuVersion } from '../../../agent/podman/info.ts';

// Captured from podman 4.3.1 in a lab host: a Redis with a TCP port, a UDP range, a bind mount
// and a named volume.
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));

describe('podman output parsing', () => {
  it('reads a container from podman container inspect', () => {
    const info = parseInspect(fixture('podman-inspect-redis.json')[0]);
    expect(info).toMatchObject({
      name: 'fixture-redis',
      state: 'running',
      imageName: 'localhost/ferry-lab/redis:latest',
      ociRuntime: 'runc',
      ipAddresses: ['10.88.1.1'],
    });
    expect(info.id).toMatch(/^dd937aa718fb[0-9a-f]{52}$/);
    expect(info.imageId).toMatch(/^06865ea570d0/);
    expect(info.ports).toEqual([
      { hostPort: 6380, containerPort: 6379, protocol: 'tcp', hostIp: '' },
      { hostPort: 7000, containerPort: 7000, protocol: 'udp', hostIp: '' },
      { hostPort: 7001, containerPort: 7001, protocol: 'udp', hostIp: '' },
    ]);
    expect(info.mounts.map((m) => [m.type, m.source, m.destination, m.name])).toEqual([
      ['volume', '/var/lib/containers/storage/volumes/fixture-vol/_data', '/vol', 'fixture-vol'],
      ['bind', '/srv/fixture', '/data', ''],
    ]);
  });

  // The same `podman run -d --name j -p 6394:6379 -p 127.0.0.1:7000:7000/udp -l ferry.test=1
  // -v DIR:/data -v jvol:/jv redis` inspected by podman 4.3.1 and by podman 5.8.6 (Debian sid) on
  // lab hosts: podman 5 writes HostIp 0.0.0.0 for a port on every address, names the network by
  // its ID, and leaves State.Health out; Ferry reads the two alike.
  it('reads a container from podman 5 as it reads the same container from podman 4.3', () => {
    const four = parseInspect(fixture('podman4-inspect-ports.json')[0]);
    const five = parseInspect(fixture('podman5-inspect-ports.json')[0]);
    expect(five.ports).toEqual([
      { hostPort: 6394, containerPort: 6379, protocol: 'tcp', hostIp: '' },
      { hostPort: 7000, containerPort: 7000, protocol: 'udp', hostIp: '127.0.0.1' },
    ]);
    const alike = (i: ReturnType<typeof parseInspect>) => ({ name: i.name, state: i.state, ports: i.ports, mounts: i.mounts, labels: i.labels, networks: i.networks, ociRuntime: i.ociRuntime });
    expect(alike(five)).toEqual(alike(four));
    expect(five.ipAddresses).toHaveLength(1);
  });

  it('reads podman ps, expanding port ranges the way inspect lists them', () => {
    const [summary] = parsePs(fixture('podman-ps.json'));
    expect(summary).toMatchObject({ name: 'fixture-redis', state: 'running', image: 'localhost/ferry-lab/redis:latest' });
    const inspected = parseInspect(fixture('podman-inspect-redis.json')[0]);
    expect(summary?.ports).toEqual(inspected.ports);
  });

  it('skips bindings without a host port and sorts the rest', () => {
    expect(
      parsePortBindings({ '80/tcp': [{ HostIp: '', HostPort: '' }], '53/udp': [{ HostPort: '5353' }], '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }], bogus: null }),
    ).toEqual([
      { hostPort: 8443, containerPort: 443, protocol: 'tcp', hostIp: '127.0.0.1' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIp: '' },
    ]);
    expect(parsePortBindings(null)).toEqual([]);
  });

  it('reads checkpoint statistics in microseconds as milliseconds', () => {
    const stats = parseCheckpointStats(
      JSON.stringify({
        podman_checkpoint_duration: 571234,
        container_statistics: [{ Id: 'x', criu_statistics: { frozen_time: 270123, memdump_time: 112000, pages_written: 51234 } }],
      }),
    );
    expect(stats).toEqual({ podmanMs: 571, frozenMs: 270, memdumpMs: 112, pagesWritten: 51234 });
    expect(parseCheckpointStats('not json')).toEqual({ podmanMs: 0, frozenMs: undefined, memdumpMs: undefined, pagesWritten: undefined });
  });

  it('reads the CRIU version', () => {
    expect(parseCriuVersion('Version: 4.2.1\nGitID: v4.2.1\n')).toBe('4.2.1');
    expect(parseCriuVersion('criu: command not found')).toBe('');
  });
});
