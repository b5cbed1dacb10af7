// ferry evacuate --parallel on a lab of its own with three hosts: six Redis containers leave
// hostA, up to three at once, spread over hostB and hostC by their room, each with its keys; then
// one whose post-restore hook fails is rolled back to hostA while the other five move, and one
// whose port is taken on hostB goes to hostC. Then the maintenance round: a cordoned host takes
// nothing, and ferry return brings back what an evacuation took; and last a rolling upgrade of
// the three hosts from podman 4.3 to 5.8 (scripts/rollout/rollout.ts) while a client writes to a
// PostgreSQL whose data is bind-mounted.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollingUpgrade } from '../../../scripts/rollout/rollout.ts';
import { BUSYBOX_IMAGE, fillRedis, redisCli } from '../lab.ts';
import { whileWriting } from '../writes.ts';
import { ownLab } from './lab.ts';

// A lab of its own: the shared one (test/e2e/lab-setup.ts) has two hosts.
const HOSTS = ['hostA', 'hostB', 'hostC'];
const DESTINATIONS = ['hostB', 'hostC'];
const own = ownLab({ name: 'ferryevac', subnet: '172.31.84', hosts: HOSTS });
const { lab, podman, ferry, running } = own;
const ip = (host: string) => `${own.env.FERRY_LAB_SUBNET}.${11 + HOSTS.indexOf(host)}`;
const KEYS = 2_000;

/** A Redis on hostA with KEYS keys and its own name under `who`; extra podman run flags before the image. */
async function startRedis(name: string, port: number, extra: string[] = []): Promise<void> {
  await own.startRedis('hostA', name, port, extra);
  await fillRedis(ip('hostA'), port, KEYS);
  await redisCli(ip('hostA'), port, ['set', 'who', name]);
}

/** The container runs on exactly one host, answers there with every key it had; that host. */
async function keptItsKeys(name: string, port: number): Promise<string> {
  const where = await running(name);
  expect(where, `${name} runs on`).toHaveLength(1);
  const host = where[0] as string;
  expect(await redisCli(ip(host), port, ['get', 'who']), `${name}'s marker on ${host}`).toBe(name);
  expect(await redisCli(ip(host), port, ['dbsize']), `${name}'s keys on ${host}`).toBe(String(KEYS + 1));
  expect(await redisCli(ip(host), port, ['get', 'key:1234'])).toBe('val:1234');
  return host;
}

const removeAll = own.removeEverywhere;

describe('ferry evacuate --parallel over two destinations', () => {
  beforeAll(async () => {
    await lab(['down']);
    try {
      await lab(['up', '--hosts', '3']);
    } catch (error) {
      await lab(['down'], false);
      throw error;
    }
  }, 900_000);

  afterAll(async () => {
    if (process.env.FERRY_E2E_KEEP !== '1') await lab(['down'], false);
  }, 300_000);

  const first = [1, 2, 3, 4, 5, 6].map((i) => ({ name: `evac-r${i}`, port: 6500 + i }));

  it('moves six Redis containers, three at once, spread over hostB and hostC, each with its keys', async () => {
    for (const c of first) await startRedis(c.name, c.port);
    const r = await ferry(['evacuate', '--from', 'hostA', '--to', 'hostB,hostC', '--parallel', '3', '--json']);
    expect(r.code, r.output).toBe(0);

    const end = r.events.find((e) => e.event === 'evacuated') as { moved: number; failed: number; total: number; results: Array<{ container: string; to: string; result: string; downtimeMs: number }> };
    expect(end, r.output).toMatchObject({ total: 6, moved: 6, failed: 0 });
    expect(end.results.map((x) => x.result)).toEqual(Array(6).fill('moved'));
    for (const x of end.results) expect(x.downtimeMs).toBeGreaterThan(0);
    // Up to three at once, and never more; and more than one frozen and on its way at a time.
    const inFlight = r.events.filter((e) => e.event === 'evacuation-progress').map((e) => e.inFlight as Array<{ phase: string }>);
    expect(Math.max(...inFlight.map((f) => f.length))).toBe(3);
    expect(Math.max(...inFlight.map((f) => f.filter((x) => ['checkpoint', 'transfer', 'restore', 'verify'].includes(x.phase)).length))).toBeGreaterThan(1);
    // A migration's own events come with their container, its progress included.
    expect(r.events.some((e) => e.event === 'done' && typeof e.container === 'string')).toBe(true);
    // The destinations' free memory, as their agents now say it.
    const start = r.events.find((e) => e.event === 'evacuation') as { destinations: Array<{ host: string; freeMemoryBytes: number; freeDiskBytes: number }> };
    for (const d of start.destinations) expect(d.freeMemoryBytes, d.host).toBeGreaterThan(0);

    const where = new Map<string, string>();
    for (const c of first) where.set(c.name, await keptItsKeys(c.name, c.port));
    for (const c of first) expect(where.get(c.name), c.name).toBe(end.results.find((x) => x.container === c.name)?.to);
    for (const host of DESTINATIONS) expect([...where.values()].filter((h) => h === host).length, `containers on ${host}`).toBeGreaterThan(0);
    expect(await podman('hostA', ['ps', '--quiet'])).toBe('');
  });

  it('one that fails is rolled back to hostA and the other five move; a port taken on hostB sends its container to hostC', async () => {
    await removeAll(first.map((c) => c.name));
    const second = [1, 2, 3, 4, 5, 6].map((i) => ({ name: `evac-s${i}`, port: 6510 + i }));
    const [, blocked, , , , failing] = second as [unknown, { name: string; port: number }, unknown, unknown, unknown, { name: string; port: number }];
    for (const c of second) {
      // A post-restore hook that cannot run: the restore on the destination fails after the freeze, and rolls back.
      await startRedis(c.name, c.port, c === failing ? ['--label', 'io.ferry.hook.post-restore=["/no/such/hook"]'] : []);
    }
    // hostB has the port of `blocked` taken by a container of its own: its preflight there says no.
    await lab(['podman', 'hostB', 'run', '-d', '--name', 'evac-port-holder', '-p', `${blocked.port}:8080`, BUSYBOX_IMAGE, 'httpd', '-f', '-p', '8080']);

    const r = await ferry(['evacuate', '--from', 'hostA', '--to', 'hostB,hostC', '--parallel', '3']);
    expect(r.code, r.output).toBe(1);
    // The table: every container, where it went, how it ended, its downtime.
    expect(r.stdout).toMatch(/^container +destination +result +downtime$/m);
    for (const c of second.filter((x) => x !== failing)) expect(r.stdout).toMatch(new RegExp(`^${c.name} +host[BC] +moved.* \\d+(\\.\\d+)? m?s$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${failing.name} +host[BC] +failed: HOOK_FAILED, runs on hostA +-$`, 'm'));
    expect(r.stdout).toMatch(/evacuate +hostA: 5 of 6 running containers moved, 1 failed and stayed/);
    expect(r.stdout).toMatch(/evacuate +hostA: \d of 6 done.*; in flight: /);
    expect(r.output).toContain(`[${failing.name}] rollback`);

    expect(await keptItsKeys(failing.name, failing.port)).toBe('hostA');
    expect(await keptItsKeys(blocked.name, blocked.port)).toBe('hostC');
    for (const c of second.filter((x) => x !== failing && x !== blocked)) expect(DESTINATIONS).toContain(await keptItsKeys(c.name, c.port));
    // Nothing of the failed one is left on a destination.
    for (const host of DESTINATIONS) expect(await podman(host, ['ps', '-a', '--filter', `name=^${failing.name}$`, '--format', '{{.Names}}'])).toBe('');
  });

  it('cordon, evacuate, return: cordoned hostC takes nothing; return brings back what stayed where it went, and skips one moved on and one removed', async () => {
    await removeAll(['evac-port-holder', ...[1, 2, 3, 4, 5, 6].map((i) => `evac-s${i}`)]);
    const third = [1, 2, 3, 4].map((i) => ({ name: `evac-t${i}`, port: 6520 + i }));
    const [t1, t2, t3, t4] = third as [{ name: string; port: number }, { name: string; port: number }, { name: string; port: number }, { name: string; port: number }];
    for (const c of third) await startRedis(c.name, c.port);
    try {
      expect((await ferry(['cordon', 'hostC', '--reason', 'podman upgrade'])).code).toBe(0);
      expect((await ferry(['hosts'])).stdout).toMatch(/CORDONED since \S+ \(podman upgrade\): placement leaves it out/);

      const evacuated = await ferry(['evacuate', '--from', 'hostA', '--to', 'hostB,hostC', '--parallel', '2', '--json']);
      expect(evacuated.code, evacuated.output).toBe(0);
      const start = evacuated.events.find((e) => e.event === 'evacuation') as { destinations: Array<{ host: string; cordoned?: string }> };
      expect(start.destinations.find((d) => d.host === 'hostC')?.cordoned).toContain('podman upgrade');
      for (const c of third) expect(await keptItsKeys(c.name, c.port), c.name).toBe('hostB');

      // A migrate to the cordoned host is refused at its preflight, and nothing changes; forced, it goes.
      const refused = await ferry(['migrate', '--from', 'hostB', '--to', 'hostC', t4.name, '--json']);
      expect(refused.code, refused.output).toBe(1);
      expect(refused.events.at(-1)).toMatchObject({ event: 'failed', error: { code: 'HOST_CORDONED', phase: 'preflight', host: 'hostC' } });
      expect(await keptItsKeys(t4.name, t4.port)).toBe('hostB');
      const forced = await ferry(['migrate', '--from', 'hostB', '--to', 'hostC', t4.name, '--force']);
      expect(forced.code, forced.output).toBe(0);
      // And one is removed by hand where the evacuation put it.
      await podman('hostB', ['rm', '-f', '-t', '0', t3.name]);
      expect((await ferry(['uncordon', 'hostC'])).code).toBe(0);
      expect((await ferry(['hosts'])).stdout).not.toContain('CORDONED');

      const dry = await ferry(['return', 'hostA', '--dry-run']);
      expect(dry.code, dry.output).toBe(0);
      expect(dry.stdout).toMatch(/^container +from +result +downtime$/m);
      for (const c of [t1, t2]) expect(dry.stdout).toMatch(new RegExp(`^${c.name} +hostB +preflight passed \\(dry run\\)`, 'm'));
      expect(await running(t1.name)).toEqual(['hostB']);

      const back = await ferry(['return', 'hostA', '--parallel', '2']);
      expect(back.code, back.output).toBe(0);
      for (const c of [t1, t2]) expect(back.stdout).toMatch(new RegExp(`^${c.name} +hostB +moved +\\d`, 'm'));
      expect(back.stdout).toMatch(new RegExp(`^${t3.name} +hostB +skipped: it no longer exists here`, 'm'));
      expect(back.stdout).toMatch(new RegExp(`^${t4.name} +hostB +skipped: moved on to hostC by m-`, 'm'));
      // (and the containers of the earlier tests here, evacuated then removed by hand: gone too)
      expect(back.stdout).toMatch(/return +hostA: 2 of 2 containers moved back, \d+ skipped/);
      for (const c of [t1, t2]) expect(await keptItsKeys(c.name, c.port), c.name).toBe('hostA');
      expect(await keptItsKeys(t4.name, t4.port)).toBe('hostC');
      // What went home is forgotten where it had been, and what was skipped was said once: a
      // second return has nothing to move or say.
      const again = await ferry(['return', 'hostA', '--json']);
      expect(again.code, again.output).toBe(0);
      expect(again.events.find((e) => e.event === 'evacuated')).toMatchObject({ total: 0, moved: 0, results: [] });
    } finally {
      await ferry(['uncordon', 'hostC']);
      await removeAll(third.map((c) => c.name));
    }
  });

  it('a rolling upgrade to podman 5.8: each host cordoned, evacuated, upgraded, rebooted, uncordoned and returned to; every container home with its state, every acknowledged write there', async () => {
    const redis = [
      { name: 'roll-ra', port: 6531, home: 'hostA' },
      { name: 'roll-rb', port: 6532, home: 'hostB' },
      { name: 'roll-rc', port: 6533, home: 'hostC' },
    ];
    const db = { name: 'roll-db', port: 5441, home: 'hostA', data: '/srv/roll-db', address: `${own.env.FERRY_LAB_SUBNET}.100` };
    const names = [...redis.map((r) => r.name), db.name];
    await removeAll(names);
    await lab(['exec', 'hostA', 'sh', '-c', `rm -rf ${db.data} ${db.data}.ferry-* && mkdir -p ${db.data}`]);
    for (const r of redis) {
      await own.startRedis(r.home, r.name, r.port);
      await fillRedis(await own.ip(r.home), r.port, KEYS);
      await redisCli(await own.ip(r.home), r.port, ['set', 'who', r.name]);
    }
    // FERRY_PG_ROOT=1: CRIU here cannot dump processes of another uid (docs/hosts.md). Its clients
    // reach it at its service address, wherever it runs.
    await lab(['podman', 'hostA', 'run', '-d', '--name', db.name, '-e', 'FERRY_PG_ROOT=1', '-p', `${db.port}:5432`, '-v', `${db.data}:/var/lib/postgresql/data`,
      '--label', `io.ferry.service-address=${db.address}`, '--label', 'io.ferry.hook.pre-checkpoint=psql -U postgres -c CHECKPOINT', 'localhost/ferry-lab/postgres:latest']);
    const psql = (sql: string, timeout = 10_000) =>
      execa('psql', ['-h', db.address, '-p', String(db.port), '-U', 'postgres', '-Atc', sql], { timeout, env: { PGCONNECT_TIMEOUT: '3' } }).then((r) => String(r.stdout).trim());
    const deadline = Date.now() + 60_000;
    while ((await psql('SELECT 1').catch(() => '')) !== '1') {
      if (Date.now() > deadline) throw new Error('postgres did not answer at its service address');
      await new Promise((r) => setTimeout(r, 500));
    }
    await psql('CREATE TABLE acked (n int PRIMARY KEY)');
    try {
      const { result: steps, acked, failed } = await whileWriting(
        (n) => psql(`INSERT INTO acked VALUES (${n})`, 5_000),
        () =>
          rollingUpgrade({
            hosts: ['hostA', 'hostB', 'hostC'],
            lab: async (args) => String((await lab(args)).stdout),
            ferry,
            parallel: 2,
            // A mixed fleet half-way: back from podman 5.8 to 4.3 and up again, every key kept.
            afterStep: async (step) => {
              if (step.host !== 'hostA') return;
              const [ra] = redis as [(typeof redis)[0]];
              const down = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', ra.name, '--json']);
              expect(down.code, down.output).toBe(0);
              const versions = down.events.find((e) => e.event === 'checks' && (e.checks as Array<{ name: string }>).some((c) => c.name === 'versions')) as { checks: Array<{ name: string; detail: string }> };
              expect(versions.checks.find((c) => c.name === 'versions')?.detail).toMatch(/^hostA podman 5\.\d+\.\d+, runc \S+, criu \S+ -> hostB podman 4\.3\.\d+, runc \S+, criu \S+$/);
              expect(await keptItsKeys(ra.name, ra.port)).toBe('hostB');
              const up = await ferry(['migrate', '--from', 'hostB', '--to', 'hostA', ra.name]);
              expect(up.code, up.output).toBe(0);
              expect(await keptItsKeys(ra.name, ra.port)).toBe('hostA');
            },
          }),
        50,
      );
      // Every host runs podman 5 now, and took each of its containers back.
      for (const step of steps) expect(step.podmanAfter, step.host).toMatch(/^podman version 5\./);
      for (const host of ['hostA', 'hostB', 'hostC']) expect(await podman(host, ['--version'])).toMatch(/^podman version 5\./);
      const moved = (home: string) => steps.find((s) => s.host === home);
      for (const c of [...redis, db]) {
        expect(moved(c.home)?.evacuated.map((m) => m.container), `${c.name} left ${c.home}`).toContain(c.name);
        expect(moved(c.home)?.returned.map((m) => m.container), `${c.name} came back to ${c.home}`).toContain(c.name);
      }
      for (const r of redis) expect(await keptItsKeys(r.name, r.port), r.name).toBe(r.home);
      expect(await running(db.name)).toEqual([db.home]);
      // Nothing of any of them left on another host.
      for (const c of [...redis, db]) {
        for (const host of ['hostA', 'hostB', 'hostC'].filter((h) => h !== c.home)) {
          expect(await podman(host, ['ps', '-a', '--filter', `name=^${c.name}$`, '--format', '{{.Names}}']), `${c.name} on ${host}`).toBe('');
        }
      }
      // An acknowledged write is never lost: each one is in the table, on the database's home again.
      expect(acked.length).toBeGreaterThan(20);
      const rows = new Set((await psql('SELECT n FROM acked')).split('\n').map(Number));
      expect(acked.filter((n) => !rows.has(n)), `lost of ${acked.length} acknowledged (${failed} writes failed during the outages)`).toEqual([]);
    } finally {
      await removeAll(names);
      await lab(['exec', 'hostA', 'sh', '-c', `rm -rf ${db.data} ${db.data}.ferry-*`], false);
    }
    // Three upgrades and reboots, ten moves and more: 43 s on one machine, past 240 s on another
    // of the same kind whose processes start four times slower (5 ms a fork and exec).
  }, 900_000);
});
