// The spine, for real: a Redis holding 10,000 keys only in memory moves between two lab hosts
// (network namespaces with their own podman storage and agent) with the CLI, and back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerState, ferry, fillRedis, hostIp, podman, redisCli, removeEverywhere, runningOn, startRedis } from './lab.ts';

const NAME = 'e2e-redis';
const PORT = 6380;
const KEYS = 10_000;

describe('ferry migrate, on real lab hosts', () => {
  let ipA: string;
  let ipB: string;

  beforeAll(async () => {
    [ipA, ipB] = await Promise.all([hostIp('hostA'), hostIp('hostB')]);
    await removeEverywhere(NAME);
    await startRedis('hostA', NAME, PORT);
    await fillRedis(ipA, PORT, KEYS);
    expect(await redisCli(ipA, PORT, ['dbsize'])).toBe(String(KEYS));
  });

  afterAll(async () => {
    await removeEverywhere(NAME);
  });

  async function expectAllKeysOn(ip: string) {
    expect(await redisCli(ip, PORT, ['dbsize'])).toBe(String(KEYS));
    expect(await redisCli(ip, PORT, ['get', 'key:0'])).toBe('val:0');
    expect(await redisCli(ip, PORT, ['get', `key:${KEYS - 1}`])).toBe(`val:${KEYS - 1}`);
  }

  it('moves Redis with its in-memory keys from hostA to hostB', async () => {
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const phase of ['preflight', 'checkpoint', 'transfer', 'restore', 'verify', 'commit', 'done']) {
      expect(r.stdout).toMatch(new RegExp(`^${phase}\\s`, 'm'));
    }
    expect(r.stdout).toMatch(/checkpoint [\d.]+ m?s \| transfer .* \| restore [\d.]+ m?s \| verify .* \| total [\d.]+ m?s/);
    await expectAllKeysOn(ipB);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    // No stale copy either: the source keeps nothing of the container.
    expect(await containerState('hostA', NAME)).toBeUndefined();
    expect(await podman('hostB', ['port', NAME])).toContain(`6379/tcp -> 0.0.0.0:${PORT}`);
  });

  it('moves it back to hostA, and out again, with `migrate` and --json', async () => {
    const back = await ferry(['--from', 'hostB', '--to', 'hostA', NAME, '--json'], { bin: 'migrate' });
    expect(back.code).toBe(0);
    const done = back.events.find((e) => e.event === 'done') as { summary: Record<string, number> } | undefined;
    expect(done?.summary).toMatchObject({ from: 'hostB', to: 'hostA', container: NAME });
    expect(done?.summary.archiveBytes).toBeGreaterThan(100_000);
    expect(back.events.map((e) => e.phase).filter(Boolean)).toEqual(['preflight', 'checkpoint', 'transfer', 'restore', 'verify', 'commit']);
    await expectAllKeysOn(ipA);
    expect(await runningOn(NAME)).toEqual(['hostA']);
    expect(await containerState('hostB', NAME)).toBeUndefined();

    // A to B again: the case where the container returns to a host it left.
    const again = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME]);
    expect(again.code, again.stderr).toBe(0);
    await expectAllKeysOn(ipB);
    expect(await runningOn(NAME)).toEqual(['hostB']);

    const home = await ferry(['migrate', '--from', 'hostB', '--to', 'hostA', NAME]);
    expect(home.code, home.stderr).toBe(0);
    await expectAllKeysOn(ipA);
    expect(await runningOn(NAME)).toEqual(['hostA']);
  });

  it('ping-pong: five more moves in a row, checked each time', async () => {
    let here = 'hostA';
    for (let i = 0; i < 5; i += 1) {
      const there = here === 'hostA' ? 'hostB' : 'hostA';
      const r = await ferry(['migrate', '--from', here, '--to', there, NAME]);
      expect(r.code, `move ${i + 1} ${here}->${there}: ${r.stderr}`).toBe(0);
      await expectAllKeysOn(there === 'hostA' ? ipA : ipB);
      expect(await runningOn(NAME)).toEqual([there]);
      expect(await containerState(here, NAME)).toBeUndefined();
      here = there;
    }
  });
});
