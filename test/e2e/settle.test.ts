// Settling when an agent is away at the end of a migration: the commit that cannot reach the
// source (COMMIT_INCOMPLETE), and the rollback that cannot reach the destination (ROLLBACK_FAILED).
// Either way the container runs on exactly one host, and once the agent is back the agents finish
// the job between them.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually, expectSettled, printed, startMigration } from './drive.ts';
import { containerState, hostIp, inventoryPath, lab, podman, REDIS_IMAGE, redisCli, removeEverywhere, runningOn } from './lab.ts';

const NAME = 'e2e-settle';
const PORT = 6391;

/** A Redis on hostA with a marker key; `hook` runs in it on hostB right after the restore. */
async function redisWithHook(hook: string): Promise<string> {
  const ipA = await hostIp('hostA');
  await podman('hostA', ['run', '-d', '--name', NAME, '-p', `${PORT}:6379`, '--label', `io.ferry.hook.post-restore=${hook}`, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
  await eventually(async () => (await redisCli(ipA, PORT, ['set', 'marker', 'still-here']).catch(() => '')) === 'OK', 10_000);
  return ipA;
}

describe('settling with an agent away', () => {
  afterEach(async () => {
    await lab(['agent-start', 'hostA'], { reject: false });
    await lab(['agent-start', 'hostB'], { reject: false });
    await removeEverywhere(NAME);
  });
  afterAll(() => removeEverywhere(NAME));

  it('the source agent is down when the coordinator commits: COMMIT_INCOMPLETE, and the source copy goes once the agent is back', async () => {
    // Restored on hostB, Redis leaves its port for 5 s: the coordinator's check waits for it,
    // and meanwhile hostA's agent goes down.
    // (The first command in the foreground: an `a && b &` list would run both in the background,
    // racing the coordinator's check.)
    await redisWithHook('redis-cli config set port 6392 >/dev/null; (sleep 5; redis-cli -p 6392 config set port 6379) >/dev/null 2>&1 &');
    const { child, seen } = startMigration(NAME, 'hostA', 'hostB', await inventoryPath(), ['--verify-timeout', '60000']);
    await seen('phase', (e) => e.phase === 'verify');
    await lab(['agent-stop', 'hostA', '--kill']);
    const r = await child;
    const events = printed(r);
    const warning = events.find((e) => e.event === 'warning');
    expect(warning?.error).toMatchObject({ code: 'COMMIT_INCOMPLETE', phase: 'commit', host: 'hostA' });
    expect(events.at(-1)).toMatchObject({ event: 'done' });
    expect(r.exitCode).toBe(0);
    // The move stands: hostB answers with the data; hostA's frozen copy does not run.
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
    expect(await containerState('hostA', NAME)).toBeDefined();

    await lab(['agent-start', 'hostA']);
    // hostA's agent finds the migration committed at hostB and removes its copy.
    await eventually(async () => (await containerState('hostA', NAME)) === undefined, 60_000);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it('the destination agent is gone once the whole archive is there: ROLLBACK_FAILED, never two copies, and the source resumes once it is back', async () => {
    // A slow post-restore hook keeps the restore open on hostB while its agent is killed.
    const ipA = await redisWithHook('sleep 60');
    const { child, seen } = startMigration(NAME, 'hostA', 'hostB', await inventoryPath(), ['--transfer-retry-ms', '2000']);
    await seen('phase', (e) => e.phase === 'restore');
    await eventually(async () => (await containerState('hostB', NAME)) === 'running', 30_000);
    await lab(['agent-stop', 'hostB', '--kill']);
    const r = await child;
    expect(r.exitCode).toBe(3); // the rollback did not finish
    const events = printed(r);
    expect(events.find((e) => e.event === 'failed')).toMatchObject({ rolledBack: false });
    expect(events.some((e) => e.event === 'rollback' && e.host === 'hostA' && !e.ok && String(e.outcome).startsWith('ROLLBACK_FAILED'))).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'error', error: { code: 'ROLLBACK_FAILED', phase: 'rollback' } });
    // hostB's restored copy runs, unverified; hostA's stays frozen rather than make two.
    expect(await runningOn(NAME)).toEqual(['hostB']);

    await lab(['agent-start', 'hostB']);
    // hostB's agent removes the restore nobody finished; hostA's then resumes its copy.
    await eventually(async () => (await runningOn(NAME)).join() === 'hostA', 90_000);
    expect(await containerState('hostB', NAME)).toBeUndefined();
    expect(await redisCli(ipA, PORT, ['get', 'marker'])).toBe('still-here');
    await expectSettled('hostA');
    await expectSettled('hostB');
  });
});
