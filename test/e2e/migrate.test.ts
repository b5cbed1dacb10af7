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
    expect(r.stdout).toMatch(/service gone [\d.]+ m?s \(CRIU's freeze to the first answer on hostB; runc's checkpoint \+ restore alone: [\d.]+ m?s\)/);
    expect(r.stdout).toMatch(/checkpoint [\d.]+ m?s \| archive .* streamed in [\d.]+ m?s .* \| restore [\d.]+ m?s after the last byte \| verify .* \| total [\d.]+ m?s/);
    expect(r.stdout).toMatch(/^restore .*podman imported the archive while it arrived/m);
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
    // The archive was fed to podman as it arrived; the outage is measured from CRIU's freeze to the
    // first answer, beside the floor (runc's checkpoint and restore), both from podman's own figures.
    expect(back.events.find((e) => e.event === 'restored')).toMatchObject({ streamed: true, fallback: '' });
    // --compress auto (the default) kept this small Redis uncompressed: its few non-zero pages are
    // too little to judge, or, on a fast link, compressing them would not pay. Either way it says why.
    expect(back.events.find((e) => e.event === 'compression')).toMatchObject({ compression: 'none', reason: expect.stringMatching(/would not pay|too little to tell/) });
    const s = done?.summary ?? {};
    expect(s.streamedRestore).toBe(true);
    for (const field of ['runtimeCheckpointMs', 'runtimeRestoreMs', 'frozenMs', 'downtimeMs']) expect(s[field], field).toBeGreaterThan(0);
    expect(s.floorMs).toBe((s.runtimeCheckpointMs ?? 0) + (s.runtimeRestoreMs ?? 0));
    expect(s.downtimeMs).toBeLessThan(s.totalMs ?? 0);
    const order = back.events.map((e) => e.event);
    expect(order.indexOf('dumped')).toBeLessThan(order.indexOf('transferred'));
    expect(order.indexOf('transferred')).toBeLessThan(order.indexOf('restored'));
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

  it('a compressed archive cannot be fed while it arrives: it is imported whole, and all is there', async () => {
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME, '--compress', 'zstd', '--json']);
    expect(r.code, r.stdout).toBe(0);
    const restored = r.events.find((e) => e.event === 'restored') as { streamed: boolean; fallback: string };
    expect(restored.streamed).toBe(false);
    expect(restored.fallback).toMatch(/not a plain tar .*compressed archives are imported once whole/);
    await expectAllKeysOn(ipB);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    const back = await ferry(['migrate', '--from', 'hostB', '--to', 'hostA', NAME]);
    expect(back.code, back.stderr).toBe(0);
    await expectAllKeysOn(ipA);
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
