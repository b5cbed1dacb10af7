// The commands around migrate, on real lab hosts: hosts, ps, and evacuate, which moves every
// running container off a host before, say, a kernel reboot.
import { afterAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, ferry, fillRedis, hostIp, podman, redisCli, removeEverywhere, runningOn, startRedis } from './lab.ts';

const REDIS = 'e2e-evac-redis';
const WEB = 'e2e-evac-web';

afterAll(async () => {
  await removeEverywhere(REDIS);
  await removeEverywhere(WEB);
});

describe('hosts, ps and evacuate', () => {
  it('ferry hosts shows every agent with its versions and criu check', async () => {
    const r = await ferry(['hosts']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^hostA +\S+:7070 +SERVING +podman 4\.\d+\.\d+ runc \S+ criu 4\.\d+\.\d+ check ok/m);
    expect(r.stdout).toMatch(/^hostB +\S+:7070 +SERVING /m);
    const json = await ferry(['hosts', '--json']);
    const hosts = (json.events[0] as { hosts: Array<{ host: string; ok: boolean }> }).hosts;
    expect(hosts.map((h) => [h.host, h.ok])).toEqual([['hostA', true], ['hostB', true]]);
  });

  it('ferry evacuate moves every running container off a host, and ferry ps shows where they are', async () => {
    await removeEverywhere(REDIS);
    await removeEverywhere(WEB);
    await startRedis('hostA', REDIS, 6384);
    await fillRedis(await hostIp('hostA'), 6384, 300);
    await podman('hostA', ['run', '-d', '--name', WEB, '-p', '8098:8080', BUSYBOX_IMAGE, 'httpd', '-f', '-p', '8080']);
    const psA = await ferry(['ps', 'hostA']);
    expect(psA.stdout).toMatch(new RegExp(`${REDIS} +running .* 6384->6379/tcp`));

    const r = await ferry(['evacuate', '--from', 'hostA', '--to', 'hostB']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/evacuate +hostA: (\d+) of \1 running containers moved/);
    expect(await runningOn(REDIS)).toEqual(['hostB']);
    expect(await runningOn(WEB)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), 6384, ['dbsize'])).toBe('300');
    expect((await podman('hostA', ['ps', '--quiet'])).trim()).toBe('');
    const psB = await ferry(['ps', 'hostB', '--json']);
    const names = (psB.events[0] as { containers: Array<{ name: string; state: string }> }).containers.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining([REDIS, WEB]));
  });
});
