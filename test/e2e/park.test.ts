// Rebooting a host with no spare host: ferry park checkpoints its containers to its own disk,
// scripts/lab reboot power-cycles it (every process killed, /run wiped, disks kept), and the agent
// restores them when it starts. A Redis with 10,000 keys in memory and a PostgreSQL with its data
// directory bind-mounted come back with their data and ports; a reboot in the middle of a park
// leaves each container running or restorable, and the agent settles both kinds at its start.
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './drive.ts';
import { BUSYBOX_IMAGE, containerState, ferry, fillRedis, hostIp, inventoryPath, lab, LAB, podman, redisCli, removeEverywhere, ROOT, startRedis } from './lab.ts';

const REDIS = 'e2e-park-r';
const REDIS_PORT = 6420;
const PG = 'e2e-park-pg';
const SLOW = 'e2e-park-q';
const PG_PORT = 5434;
const DATA = '/srv/e2e-park-pg';
const VALIDATE = "psql -U postgres -Atc 'SELECT COUNT(*) FROM rows'";
const PARKED = `/var/lib/ferry-lab/${LAB}/hostA/agent/parked`;

async function psql(ip: string, sql: string): Promise<string> {
  const r = await execa('psql', ['-h', ip, '-p', String(PG_PORT), '-U', 'postgres', '-Atc', sql], { timeout: 30_000 });
  return String(r.stdout).trim();
}

const sh = async (script: string) => String((await lab(['exec', 'hostA', 'sh', '-c', script])).stdout).trim();

/** The park records on hostA's disk, by phase. */
function records(): Array<{ container: string; phase: string }> {
  return readdirSync(PARKED)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(`${PARKED}/${f}`, 'utf8')) as { container: string; phase: string }];
      } catch {
        return []; // forgotten by the agent between the listing and the read
      }
    });
}

async function startPostgres(ip: string): Promise<void> {
  await sh(`rm -rf ${DATA} && mkdir -p ${DATA}`);
  await podman('hostA', [
    'run', '-d', '--name', PG, '-e', 'FERRY_PG_ROOT=1', '-p', `${PG_PORT}:5432`, '-v', `${DATA}:/var/lib/postgresql/data`,
    '--label', `io.ferry.validate=${VALIDATE}`, '--label', 'io.ferry.hook.pre-checkpoint=psql -U postgres -c CHECKPOINT',
    'localhost/ferry-lab/postgres:latest',
  ]);
  await eventually(async () => (await psql(ip, 'SELECT 1').catch(() => '')) === '1', 60_000);
  await psql(ip, 'CREATE TABLE rows (id serial PRIMARY KEY, payload text NOT NULL); INSERT INTO rows (payload) SELECT md5(g::text) FROM generate_series(1, 1000) g');
}

const bothAnswer = async (ip: string) =>
  (await redisCli(ip, REDIS_PORT, ['ping']).catch(() => '')) === 'PONG' && (await psql(ip, 'SELECT 1').catch(() => '')) === '1';

describe('park, reboot, unpark', () => {
  let ip: string;

  beforeAll(async () => {
    ip = await hostIp('hostA');
    await removeEverywhere(REDIS);
    await removeEverywhere(PG);
    await removeEverywhere(SLOW);
    await startRedis('hostA', REDIS, REDIS_PORT);
    await fillRedis(ip, REDIS_PORT, 10_000);
    await startPostgres(ip);
  }, 180_000);

  afterAll(async () => {
    await removeEverywhere(REDIS);
    await removeEverywhere(PG);
    await removeEverywhere(SLOW);
    await sh(`rm -rf ${DATA}`).catch(() => undefined);
  });

  it('ferry park, a reboot, the agent starts: Redis and PostgreSQL run again with their data and ports', async () => {
    const parked = await ferry(['park', 'hostA', '--json']);
    expect(parked.code, `${parked.stdout}\n${parked.stderr}`).toBe(0);
    expect(parked.events.filter((e) => e.event === 'park' && e.ok).map((e) => e.container)).toEqual([PG, REDIS]); // in name order
    // Stopped by their checkpoint: nothing runs that a reboot could lose.
    expect(await containerState('hostA', REDIS)).not.toBe('running');
    expect(await containerState('hostA', PG)).not.toBe('running');
    expect(records().map((r) => r.phase)).toEqual(['parked', 'parked']);

    await lab(['reboot', 'hostA']);
    await eventually(() => bothAnswer(ip), 120_000);
    expect(await redisCli(ip, REDIS_PORT, ['dbsize'])).toBe('10000');
    expect(await redisCli(ip, REDIS_PORT, ['get', 'key:9999'])).toBe('val:9999');
    expect(await psql(ip, 'SELECT COUNT(*) FROM rows')).toBe('1000');
    await psql(ip, "INSERT INTO rows (payload) VALUES ('after the reboot')");
    expect(await psql(ip, 'SELECT COUNT(*) FROM rows')).toBe('1001');
    // Once they run and answer, their checkpoints are gone.
    await eventually(async () => records().length === 0, 30_000);
  });

  it('a reboot in the middle of a park: the parked one is restored, those never parked are started again', async () => {
    // Parked in name order: PostgreSQL, then SLOW, whose pre-checkpoint hook takes its time (the
    // reboot comes while it runs), then Redis, never reached.
    await podman('hostA', ['run', '-d', '--name', SLOW, '--label', 'io.ferry.hook.pre-checkpoint=sleep 60', BUSYBOX_IMAGE, 'sleep', '3600']);
    const park = execa(`${ROOT}bin/ferry`, ['park', 'hostA', '--inventory', await inventoryPath()], { reject: false });
    await eventually(async () => records().some((r) => r.container === PG && r.phase === 'parked'), 120_000);
    expect(records().filter((r) => r.container !== PG).map((r) => r.phase)).toEqual(['pending', 'pending']);
    await lab(['reboot', 'hostA']);
    await park;
    await eventually(async () => (await bothAnswer(ip)) && (await containerState('hostA', SLOW)) === 'running', 120_000);
    // PostgreSQL from its checkpoint, with the row written after the first reboot; Redis started
    // afresh (its memory went with the power), SLOW too.
    expect(await psql(ip, 'SELECT COUNT(*) FROM rows')).toBe('1001');
    expect(await redisCli(ip, REDIS_PORT, ['dbsize'])).toBe('0');
    await eventually(async () => records().length === 0, 30_000);
  });

  it('ferry unpark brings back what ferry park parked, without a reboot', async () => {
    await redisCli(ip, REDIS_PORT, ['set', 'marker', 'kept']);
    const parked = await ferry(['park', 'hostA', REDIS]);
    expect(parked.code, parked.stdout + parked.stderr).toBe(0);
    expect(await containerState('hostA', REDIS)).not.toBe('running');
    expect(await containerState('hostA', PG)).toBe('running');
    const back = await ferry(['unpark', 'hostA']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.stdout).toContain(`${REDIS}: restored`);
    expect(await redisCli(ip, REDIS_PORT, ['get', 'marker'])).toBe('kept');
    expect(records()).toEqual([]);
  });
});
