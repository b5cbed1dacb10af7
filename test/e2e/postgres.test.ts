// The database guide's scenario, for real: PostgreSQL (built locally from Debian's packages) with
// its data directory bind-mounted from hostA and a published port moves to hostB, where the data
// directory now lives, the rows are all there, pg_amcheck finds nothing and new writes succeed;
// then back to hostA while a client writes, and every write it had acknowledged is there.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerState, ferry, hostIp, lab, podman, removeEverywhere, runningOn } from './lab.ts';
import { whileWriting } from './writes.ts';

const NAME = 'e2e-pg';
const PORT = 5433;
const DATA = '/srv/e2e-pg';
const VALIDATE = "psql -U postgres -Atc 'SELECT COUNT(*), MAX(id) FROM test_data'";

async function psql(ip: string, sql: string, timeoutMs = 30_000): Promise<string> {
  // A frozen server drops the connection's packets (CRIU's network lock): give up in seconds.
  const r = await execa('psql', ['-h', ip, '-p', String(PORT), '-U', 'postgres', '-Atc', sql], { timeout: timeoutMs, env: { PGCONNECT_TIMEOUT: String(Math.ceil(timeoutMs / 1000)) } });
  return String(r.stdout).trim();
}

async function sh(host: string, script: string): Promise<string> {
  return String((await lab(['exec', host, 'sh', '-c', script])).stdout).trim();
}

describe('PostgreSQL with a bind-mounted data directory', () => {
  let ipA: string;
  let ipB: string;

  beforeAll(async () => {
    [ipA, ipB] = await Promise.all([hostIp('hostA'), hostIp('hostB')]);
    await removeEverywhere(NAME);
    for (const host of ['hostA', 'hostB']) await sh(host, `rm -rf ${DATA} ${DATA}.ferry-*`);
    await sh('hostA', `mkdir -p ${DATA}`);
    // FERRY_PG_ROOT=1: CRIU here cannot dump processes of another uid (see docs/hosts.md).
    await podman('hostA', [
      'run', '-d', '--name', NAME, '-e', 'FERRY_PG_ROOT=1', '-p', `${PORT}:5432`, '-v', `${DATA}:/var/lib/postgresql/data`,
      '--label', `io.ferry.validate=${VALIDATE}`,
      '--label', "io.ferry.hook.pre-checkpoint=psql -U postgres -c CHECKPOINT",
      'localhost/ferry-lab/postgres:latest',
    ]);
    const deadline = Date.now() + 60_000;
    while ((await psql(ipA, 'SELECT 1').catch(() => '')) !== '1') {
      if (Date.now() > deadline) throw new Error('postgres did not come up on hostA');
      await new Promise((r) => setTimeout(r, 500));
    }
    await psql(ipA, 'CREATE EXTENSION amcheck');
    await psql(ipA, "CREATE TABLE test_data (id serial PRIMARY KEY, payload text NOT NULL); INSERT INTO test_data (payload) SELECT md5(g::text) FROM generate_series(1, 1000) g");
    expect(await psql(ipA, 'SELECT COUNT(*) FROM test_data')).toBe('1000');
  });

  afterAll(async () => {
    await removeEverywhere(NAME);
    for (const host of ['hostA', 'hostB']) await sh(host, `rm -rf ${DATA} ${DATA}.ferry-*`).catch(() => undefined);
  });

  it('migrates to hostB with its data directory, intact and writable', async () => {
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME, '--json']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.events.filter((e) => e.event === 'data-synced').map((e) => e.round)).toEqual([0, 1]);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await containerState('hostA', NAME)).toBeUndefined();

    expect(await sh('hostB', `test -f ${DATA}/PG_VERSION && cat ${DATA}/PG_VERSION`)).toBe('15');
    expect(await psql(ipB, 'SELECT COUNT(*), MAX(id) FROM test_data')).toBe('1000|1000');
    const check = await podman('hostB', ['exec', NAME, 'pg_amcheck', '-U', 'postgres', '--heapallindexed', '--install-missing', 'postgres']);
    expect(check).toBe(''); // pg_amcheck prints only what it finds wrong
    await psql(ipB, "INSERT INTO test_data (payload) VALUES ('written on hostB')");
    expect(await psql(ipB, 'SELECT COUNT(*) FROM test_data')).toBe('1001');
  });

  it('moves back to hostA while a client writes: every acknowledged row is there, pg_amcheck clean', async () => {
    await psql(ipB, 'CREATE TABLE acked (n integer PRIMARY KEY)');
    // The client talks to whichever host answers, as one behind a moving name would: after a
    // failed write it tries the other host.
    let ip = ipB;
    const insert = async (n: number) => {
      try {
        await psql(ip, `INSERT INTO acked VALUES (${n})`, 3_000);
      } catch (error) {
        ip = ip === ipA ? ipB : ipA;
        throw error;
      }
    };
    const { result: r, acked } = await whileWriting(insert, () => ferry(['migrate', '--from', 'hostB', '--to', 'hostA', NAME, '--json']));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostA']);
    const rows = (await psql(ipA, 'SELECT n FROM acked ORDER BY n')).split('\n').map(Number);
    expect(acked.length).toBeGreaterThan(3);
    expect(acked.filter((n) => !rows.includes(n)), 'acknowledged writes lost').toEqual([]);
    expect(await psql(ipA, 'SELECT COUNT(*) FROM test_data')).toBe('1001');
    expect(await podman('hostA', ['exec', NAME, 'pg_amcheck', '-U', 'postgres', '--heapallindexed', 'postgres'])).toBe('');
  });
});
