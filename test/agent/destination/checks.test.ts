// The destination's preflight checks, branch by branch, against a podman that answers from a
// script (parsing and decisions only: the e2e tests run them against real lab hosts).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destinationChecks, IMAGE_WILL_BE_SENT, needsNewAddress, type DestinationHost } from '../../../agent/destination/checks.ts';
import { prepareReceive } from '../../../agent/destination/prepare.ts';
import { Journal, type MigrationRecord } from '../../../agent/journal.ts';
import { silentLogger } from '../../../agent/log.ts';
import { parseInspect } from '../../../agent/podman/inspect.ts';
import { Podman, type RunOptions } from '../../../agent/podman/podman.ts';
import { FerryError } from '../../../common/errors.ts';

const raw = JSON.parse(readFileSync(new URL('../../fixtures/podman-inspect-redis.json', import.meta.url), 'utf8'))[0];

/** What this host has, as podman would print it. */
interface Scene {
  containers?: Array<{ name: string; id: string; ip?: string; hostPort?: number }>;
  images?: string[];
  networks?: Record<string, string>;
}

class ScriptedPodman extends Podman {
  readonly #scene: Scene;

  constructor(scene: Scene) {
    super({ binary: '/nonexistent', globalArgs: [] });
    this.#scene = scene;
  }

  override async run(args: readonly string[], _options: RunOptions = {}): Promise<string> {
    const containers = this.#scene.containers ?? [];
    const [a, b] = args;
    if (a === 'container' && b === 'inspect') {
      const wanted = args.slice(2);
      const found = containers.filter((c) => wanted.includes(c.name) || wanted.includes(c.id));
      if (!found.length) throw new FerryError('PODMAN_FAILED', `podman container inspect exited with code 125: no such container ${wanted.join(' ')}`);
      return JSON.stringify(found.map((c) => ({ ...raw, Id: c.id, Name: c.name, NetworkSettings: { Networks: { podman: { IPAddress: c.ip ?? '' } } } })));
    }
    if (a === 'image' && b === 'exists') {
      if ((this.#scene.images ?? []).includes(args[2] ?? '')) return '';
      throw new FerryError('PODMAN_FAILED', 'podman image exists exited with code 1');
    }
    if (a === 'network' && b === 'ls') return Object.keys(this.#scene.networks ?? {}).join('\n');
    if (a === 'network' && b === 'inspect') {
      return JSON.stringify(args.slice(2).map((name) => ({ name, subnets: [{ subnet: this.#scene.networks?.[name] }] })));
    }
    if (a === 'ps' && b === '--quiet') return containers.map((c) => c.id).join('\n');
    if (a === 'info') return '/var/lib/containers/storage overlay /run/containers/storage'; // podmanStore
    if (a === 'ps' && b === '--format') {
      return JSON.stringify(
        containers.map((c) => ({ Id: c.id, Names: [c.name], State: 'running', Image: 'x', Ports: c.hostPort ? [{ host_ip: '', host_port: c.hostPort, container_port: 80, protocol: 'tcp', range: 1 }] : [] })),
      );
    }
    throw new Error(`unexpected podman ${args.join(' ')}`);
  }
}

const INFO = { podmanVersion: '4.3.1', runcVersion: '1.1.5', criuVersion: '4.2.1', criuCheckOk: true, criuCheckOutput: 'Looks good.', ociRuntime: 'runc', dirtyTracking: true };
const GOOD: Scene = { images: [raw.Image], networks: { podman: '10.88.0.0/16' } };

let taken: Server;
let takenPort = 0;
let freePort = 0;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
  takenPort = (taken.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '0.0.0.0', resolve));
  freePort = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(() => taken.close());

/** The fixture's Redis publishing one TCP port, checked against `scene`. */
async function check(scene: Scene, options: { port?: number; dataPaths?: string[]; replaceData?: boolean; active?: MigrationRecord[]; criuOk?: boolean; newAddress?: boolean } = {}) {
  const container = { ...parseInspect(raw), ports: [{ hostIp: '', hostPort: options.port ?? freePort, containerPort: 6379, protocol: 'tcp' }] };
  const host: DestinationHost = {
    name: 'hostB',
    podman: new ScriptedPodman(scene),
    info: { ...INFO, criuCheckOk: options.criuOk ?? true },
    active: options.active ?? [],
  };
  const checks = await destinationChecks(host, container, options.dataPaths ?? [], options.replaceData ?? false, options.newAddress ?? false);
  return { failed: checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`), checks };
}

describe("the destination's preflight checks", () => {
  it('pass on a host that has the image, the network, a free IP and a free port', async () => {
    const { failed, checks } = await check(GOOD);
    expect(failed).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual(['criu', 'busy', 'name', 'image', 'network', 'ip', 'port']);
  });

  it('a missing image is sent, not refused', async () => {
    const { failed, checks } = await check({ ...GOOD, images: [] });
    expect(failed).toEqual([]);
    expect(checks.find((c) => c.name === 'image')?.detail).toMatch(new RegExp(`^${IMAGE_WILL_BE_SENT}: localhost/ferry-lab/redis`));
  });

  it('refuse a name already taken, a missing network, an IP in use, and say which', async () => {
    expect((await check({ ...GOOD, containers: [{ name: 'fixture-redis', id: 'f'.repeat(64) }] })).failed).toEqual([
      `name: hostB already has a container "fixture-redis" (ffffffffffff, running); remove it first`,
    ]);
    expect((await check({ ...GOOD, networks: { other: '10.99.0.0/16' } })).failed).toEqual([
      'network: network podman does not exist on hostB; create it with the same subnet',
      'ip: IP 10.88.1.1 is outside every network subnet on hostB (10.99.0.0/16); the restored container keeps its IP for its TCP connections (pass --new-address to give it a new IP on hostB and close them)',
    ]);
    expect((await check({ ...GOOD, containers: [{ name: 'squatter', id: 'e'.repeat(64), ip: '10.88.1.1' }] })).failed).toEqual([
      'ip: IP 10.88.1.1 is used by container squatter on hostB; the restored container keeps its IP for its TCP connections (pass --new-address to give it a new IP on hostB and close them)',
    ]);
  });

  it('--new-address: an IP this host cannot hold is a warning, not a failure; a free IP stays as it is', async () => {
    const otherSite = { ...GOOD, networks: { podman: '10.89.0.0/16' } };
    const moved = await check(otherSite, { newAddress: true });
    expect(moved.failed).toEqual([]);
    const ip = moved.checks.find((c) => c.name === 'ip');
    expect(ip).toMatchObject({ ok: true, warning: true });
    expect(ip?.detail).toBe(
      'IP 10.88.1.1 is outside every network subnet on hostB (10.89.0.0/16); --new-address: it gets a new IP from podman on hostB, and its established TCP connections are closed',
    );
    expect(needsNewAddress(moved.checks)).toBe(true);
    const squatted = await check({ ...GOOD, containers: [{ name: 'squatter', id: 'e'.repeat(64), ip: '10.88.1.1' }] }, { newAddress: true });
    expect(squatted.failed).toEqual([]);
    expect(needsNewAddress(squatted.checks)).toBe(true);
    const fits = await check(GOOD, { newAddress: true });
    expect(fits.checks.find((c) => c.name === 'ip')).toMatchObject({ ok: true, warning: false, detail: 'IP 10.88.1.1 free' });
    expect(needsNewAddress(fits.checks)).toBe(false);
    // The network itself must still be there by name: podman attaches the restored container to it.
    expect((await check({ ...GOOD, networks: { other: '10.89.0.0/16' } }, { newAddress: true })).failed).toEqual([
      'network: network podman does not exist on hostB; create it with the same subnet',
    ]);
  });

  it('refuse a port published by another container or held by a process', async () => {
    expect((await check({ ...GOOD, containers: [{ name: 'web', id: 'd'.repeat(64), hostPort: freePort }] })).failed).toEqual([
      `port: port ${freePort}/tcp is already published by container web on hostB`,
    ]);
    expect((await check(GOOD, { port: takenPort })).failed).toEqual([`port: port ${takenPort}/tcp is in use by a process on hostB`]);
  });

  it('refuse a data path that holds something, unless it may be replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-checks-'));
    const occupied = join(dir, 'occupied');
    mkdirSync(occupied);
    writeFileSync(join(occupied, 'PG_VERSION'), '16');
    const free = join(dir, 'free');
    expect((await check(GOOD, { dataPaths: [occupied, free] })).failed).toEqual([
      `data: ${occupied} already exists on hostB and is not empty; move it away, or pass --replace-data to replace it`,
    ]);
    expect((await check(GOOD, { dataPaths: [occupied], replaceData: true })).failed).toEqual([]);
  });

  it('refuse a host whose criu check fails, or that is already moving this container', async () => {
    expect((await check(GOOD, { criuOk: false })).failed).toEqual(['criu: criu check fails on hostB: Looks good.']);
    const busy = { id: 'm-other', containerId: raw.Id, phase: 'transfer' } as MigrationRecord;
    expect((await check(GOOD, { active: [busy] })).failed).toEqual(['busy: migration m-other of this container is already in phase transfer here']);
  });
});

describe('prepareReceive: --new-address', () => {
  /** A destination on another site: its podman network has another subnet than the container's IP. */
  async function prepare(options: { newAddress?: boolean; labels?: Record<string, string>; dryRun?: boolean; cordoned?: boolean; force?: boolean }) {
    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-prepare-'));
    const journal = new Journal(stateDir);
    await journal.open();
    const ctx = {
      host: 'hostC',
      address: '127.0.0.1',
      podman: new ScriptedPodman({ ...GOOD, networks: { podman: '10.89.0.0/16' } }),
      journal,
      log: silentLogger,
      archiveDir: stateDir,
      stateDir,
      policyPath: join(stateDir, 'policy.json'),
      info: INFO,
      cordon: options.cordoned ? { cordoned: true, reason: 'podman upgrade', since: '2026-12-07T00:00:00.000Z' } : { cordoned: false, reason: '', since: '' },
    };
    const parsed = parseInspect(raw);
    const container = { ...parsed, labels: { ...parsed.labels, ...options.labels }, ports: [{ hostIp: '', hostPort: freePort, containerPort: 6379, protocol: 'tcp' }], mounts: [] };
    const request = {
      migrationId: 'm-new-address',
      sourceHost: 'hostA',
      sourceAddress: '127.0.0.2:7070',
      sourceHostAddress: '',
      container,
      ttlMs: 60_000,
      replaceData: false,
      ignoreBindMounts: true,
      archiveBytesEstimate: 0,
      newAddress: options.newAddress ?? false,
      dryRun: options.dryRun ?? false,
      allowCordoned: options.force ?? false,
    };
    const outcome = await prepareReceive(ctx as never, request as never).catch((e: unknown) => e as FerryError);
    return { outcome, record: journal.get('m-new-address') };
  }

  it('without it, refuses with DEST_IP_UNAVAILABLE, whose hint names --new-address, and records nothing', async () => {
    const { outcome, record } = await prepare({});
    expect(outcome).toBeInstanceOf(FerryError);
    const error = outcome as FerryError;
    expect(error.code).toBe('DEST_IP_UNAVAILABLE');
    expect(error.hint).toMatch(/--new-address/);
    expect(error.details).toEqual([
      'ip: IP 10.88.1.1 is outside every network subnet on hostC (10.89.0.0/16); the restored container keeps its IP for its TCP connections (pass --new-address to give it a new IP on hostC and close them)',
    ]);
    expect(record).toBeUndefined();
  });

  it('with it, passes with a warning and journals that the restore takes a new IP', async () => {
    const { outcome, record } = await prepare({ newAddress: true });
    expect(outcome).not.toBeInstanceOf(FerryError);
    const { checks } = outcome as { checks: Array<{ name: string; warning?: boolean }> };
    expect(checks.filter((c) => c.warning).map((c) => c.name)).toEqual(['ip']);
    expect(record?.role === 'destination' && record.newAddress).toBe(true);
  });

  it('with it, refuses a container that declares a service address', async () => {
    const { outcome, record } = await prepare({ newAddress: true, labels: { 'io.ferry.service-address': '192.0.2.50' } });
    const error = outcome as FerryError;
    expect(error.code).toBe('PREFLIGHT_FAILED');
    expect(error.details[0]).toMatch(/^new-address: fixture-redis declares the service address 192\.0\.2\.50 \(io\.ferry\.service-address\).*--new-address would close them/);
    expect(record).toBeUndefined();
  });

  it('a cordoned host refuses first, with HOST_CORDONED naming its reason and the way out, and records nothing; forced, it takes it with a warning', async () => {
    const { outcome, record } = await prepare({ newAddress: true, cordoned: true });
    const error = outcome as FerryError;
    expect(error.code).toBe('HOST_CORDONED');
    expect(error.details).toEqual(['cordon: hostC is cordoned since 2026-12-07T00:00:00.000Z (podman upgrade): it takes no migration; uncordon it (ferry uncordon hostC) or pass --force']);
    expect(record).toBeUndefined();
    const forced = await prepare({ newAddress: true, cordoned: true, force: true });
    const { checks } = forced.outcome as { checks: Array<{ name: string; warning?: boolean }> };
    expect(checks.filter((c) => c.warning).map((c) => c.name)).toEqual(['cordon', 'ip']);
    expect(forced.record?.phase).toBe('preflight');
  });
});
