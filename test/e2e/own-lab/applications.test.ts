// The applications people run, from Debian's packages (scripts/lab-images: mariadb, nginx,
// memcached, java, node, sqlite), each moved hostA -> hostB -> hostA and checked after every move
// by a client of its own: MariaDB's client (every acknowledged write of a client that kept
// writing through the move, CHECK TABLE), curl (a download through the service address in flight
// during the move, its SHA-256), libmemcached's memcstat and memccat, the services' own HTTP
// answers. PostgreSQL and Redis have files of their own (../postgres.test.ts, ../migrate.test.ts).
// docs/compatibility.md is the table of these rows. This file brings up a lab of its own
// (ferryapps), with the application images loaded, and tears it down even when a test fails.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whileWriting } from '../writes.ts';
import { ownLab, type CliRun } from './lab.ts';

const HOSTS = ['hostA', 'hostB'];
const own = ownLab({ name: 'ferryapps', subnet: '172.31.88', hosts: HOSTS });
const { lab, podman, running } = own;
const ip = (host: string) => `172.31.88.${11 + HOSTS.indexOf(host)}`;
const other = (host: string) => (host === 'hostA' ? 'hostB' : 'hostA');
const image = (name: string) => `localhost/ferry-lab/${name}:latest`;
const sh = async (host: string, script: string) => String((await lab(['exec', host, 'sh', '-c', script])).stdout).trim();
let scratch: string;

/** Moves the container; it must then run on `to` alone. The run, for its events. */
async function move(name: string, from: string, to: string, extra: string[] = []): Promise<CliRun> {
  const r = await own.ferry(['migrate', '--from', from, '--to', to, name, '--json', ...extra]);
  expect(r.code, r.output).toBe(0);
  expect(await running(name)).toEqual([to]);
  return r;
}

/** The preflight's file-lock line of a run. */
function fileLocks(r: CliRun): string {
  const checks = r.events.filter((e) => e.event === 'checks').flatMap((e) => e.checks as Array<{ name: string; detail: string }>);
  return checks.find((c) => c.name === 'file locks')?.detail ?? '';
}

/** Polls until `probe` resolves to something truthy. */
async function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function curl(url: string, args: string[] = [], timeoutMs = 10_000): Promise<string> {
  const r = await execa('curl', ['-fsS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args, url], { timeout: timeoutMs + 2_000 });
  return String(r.stdout).trim();
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ferry-apps-'));
  await lab(['down']);
  try {
    await lab(['up', '--images', 'mariadb,nginx,memcached,java,node,sqlite']);
  } catch (error) {
    await lab(['down'], false);
    throw error;
  }
}, 900_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  if (process.env.FERRY_E2E_KEEP === '1') {
    process.stderr.write(`FERRY_E2E_KEEP=1: lab ${own.env.FERRY_LAB} kept; remove it with FERRY_LAB=${own.env.FERRY_LAB} scripts/lab down\n`);
    return;
  }
  await lab(['down'], false);
}, 300_000);

describe('MariaDB 10.11 (InnoDB, data directory bind-mounted): its file locks move with it', () => {
  const NAME = 'app-mariadb';
  const PORT = 3307;
  const sql = async (host: string, query: string, timeoutMs = 30_000) => {
    const r = await execa('mariadb', ['-h', ip(host), '-P', String(PORT), '-uroot', `--connect-timeout=${Math.ceil(timeoutMs / 1000)}`, '-N', '-B', 'ferry', '-e', query], { timeout: timeoutMs });
    return String(r.stdout).trim();
  };

  beforeAll(async () => {
    await sh('hostA', 'mkdir -p /srv/e2e-mariadb');
    await podman('hostA', ['run', '-d', '--name', NAME, '-p', `${PORT}:3306`, '-v', '/srv/e2e-mariadb:/var/lib/mysql', image('mariadb')], true);
    await until('MariaDB answers on hostA', () => sql('hostA', 'SELECT 1', 3_000));
    await sql('hostA', 'CREATE TABLE kept (n INT PRIMARY KEY, payload CHAR(32)) ENGINE=InnoDB; INSERT INTO kept SELECT seq, MD5(seq) FROM seq_1_to_1000; CREATE TABLE acked (n INT PRIMARY KEY) ENGINE=InnoDB');
  }, 120_000);

  for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
    it(`moves ${from} -> ${to} while a client writes: every acknowledged row there, CHECK TABLE clean`, async () => {
      // The client writes to whichever host answers, as one behind a moving name would.
      let at = from;
      const offset = from === 'hostA' ? 0 : 1_000_000; // each move's writes, numbered apart
      const insert = async (n: number) => {
        try {
          await sql(at, `INSERT INTO acked VALUES (${offset + n})`, 3_000);
        } catch (error) {
          at = other(at);
          throw error;
        }
      };
      const { result: r, acked } = await whileWriting(insert, () => move(NAME, from, to));
      expect(fileLocks(r)).toMatch(/^\d+ held \(mariadbd \(pid \d+\): \/var\/lib\/mysql\/.*: checkpointed and restored with --file-locks$/);
      const rows = new Set((await sql(to, 'SELECT n FROM acked')).split('\n').map(Number));
      expect(acked.length).toBeGreaterThan(3);
      expect(acked.filter((n) => !rows.has(offset + n)), 'acknowledged writes lost').toEqual([]);
      expect(await sql(to, 'SELECT COUNT(*), SUM(payload = MD5(n)) FROM kept')).toBe('1000\t1000');
      expect(await sql(to, 'CHECK TABLE kept, acked EXTENDED')).toBe('ferry.kept\tcheck\tstatus\tOK\nferry.acked\tcheck\tstatus\tOK');
      // It holds its locks again: another mariadbd could not take its files.
      const pid = await podman(to, ['container', 'inspect', '--format', '{{.State.Pid}}', NAME]);
      expect(await sh(to, `grep -c ' ${pid} ' /proc/locks || true`)).not.toBe('0');
    });
  }

  it('is parked on hostA and unparked (the park book keeps --file-locks for the restore): rows and locks back', async () => {
    const parked = await own.ferry(['park', 'hostA', NAME, '--json']);
    expect(parked.code, parked.output).toBe(0);
    expect(await running(NAME)).toEqual([]);
    const unparked = await own.ferry(['unpark', 'hostA', NAME, '--json']);
    expect(unparked.code, unparked.output).toBe(0);
    expect(await running(NAME)).toEqual(['hostA']);
    expect(await sql('hostA', 'SELECT COUNT(*) FROM kept')).toBe('1000');
    expect(await sql('hostA', 'CHECK TABLE kept, acked EXTENDED')).toBe('ferry.kept\tcheck\tstatus\tOK\nferry.acked\tcheck\tstatus\tOK');
    const pid = await podman('hostA', ['container', 'inspect', '--format', '{{.State.Pid}}', NAME]);
    expect(await sh('hostA', `grep -c ' ${pid} ' /proc/locks || true`)).not.toBe('0');
  });
});

describe('nginx: a download through the service address goes on through the move', () => {
  const NAME = 'app-nginx';
  const PORT = 8081;
  const ADDRESS = '172.31.88.100';
  let sha256: string;

  beforeAll(async () => {
    await sh('hostA', 'mkdir -p /srv/e2e-www && head -c 48M /dev/urandom > /srv/e2e-www/big.bin');
    sha256 = (await sh('hostA', 'sha256sum /srv/e2e-www/big.bin')).split(' ')[0] ?? '';
    await podman('hostA', ['run', '-d', '--name', NAME, '-p', `${PORT}:80`, '-v', '/srv/e2e-www:/srv/www:ro', '--label', `io.ferry.service-address=${ADDRESS}`, image('nginx')], true);
    await until('nginx answers on its service address', () => curl(`http://${ADDRESS}:${PORT}/`, [], 2_000));
  }, 120_000);

  for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
    it(`moves ${from} -> ${to} while curl downloads 48 MiB at 6 MiB/s: curl ends well, the SHA-256 matches`, async () => {
      const file = join(scratch, `big-${to}.bin`);
      const download = execa('curl', ['-fsS', '--limit-rate', '6M', '-o', file, `http://${ADDRESS}:${PORT}/big.bin`], { reject: false, timeout: 120_000 });
      await sleep(1_500); // well under way, far from done
      await move(NAME, from, to);
      const finished = await download;
      expect(finished.exitCode, String(finished.stderr)).toBe(0);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
      expect(hash.digest('hex')).toBe(sha256);
    });
  }
});

describe('memcached: its keys, read back with libmemcached-tools', () => {
  const NAME = 'app-memcached';
  const PORT = 11212;
  const KEYS = 500;
  const servers = (host: string) => `--servers=${ip(host)}:${PORT}`;

  /** memcached's text protocol: one `set` per key, each answered STORED. */
  function fill(host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: ip(host), port: PORT }, () => {
        socket.end(Array.from({ length: KEYS }, (_, i) => `set key:${i} 0 0 ${`val:${i}`.length}\r\nval:${i}\r\n`).join('') + 'quit\r\n');
      });
      let replies = '';
      socket.on('data', (chunk: Buffer) => { replies += chunk.toString(); });
      socket.on('error', reject);
      socket.on('close', () => (replies.split('STORED').length - 1 === KEYS ? resolve() : reject(new Error(`memcached said: ${replies.slice(0, 200)}`))));
    });
  }

  beforeAll(async () => {
    await podman('hostA', ['run', '-d', '--name', NAME, '-p', `${PORT}:11211`, image('memcached')], true);
    await until('memcached answers on hostA', async () => (await execa('memcstat', [servers('hostA')])).exitCode === 0, 30_000);
    await fill('hostA');
  }, 60_000);

  for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
    it(`moves ${from} -> ${to} with every key`, async () => {
      await move(NAME, from, to);
      expect(String((await execa('memcstat', [servers(to)])).stdout)).toMatch(new RegExp(`curr_items: ${KEYS}\\b`));
      expect(String((await execa('memccat', [servers(to), 'key:0', 'key:250', `key:${KEYS - 1}`])).stdout).split('\n')).toEqual(['val:0', 'val:250', `val:${KEYS - 1}`]);
    });
  }
});

describe('in-memory services on a JVM (OpenJDK 17, its perf data on) and on Node.js 18', () => {
  for (const { name, img, port, inner } of [
    { name: 'app-java', img: 'java', port: 8082, inner: 8080 },
    { name: 'app-node', img: 'node', port: 3001, inner: 3000 },
  ]) {
    it(`${img}: the counter it holds in memory counts on across ${'hostA -> hostB -> hostA'}`, async () => {
      await podman('hostA', ['run', '-d', '--name', name, '-p', `${port}:${inner}`, image(img)], true);
      await until(`${img} answers on hostA`, () => curl(`http://${ip('hostA')}:${port}/get`, [], 2_000));
      for (let i = 0; i < 50; i += 1) await curl(`http://${ip('hostA')}:${port}/incr`);
      let expected = 50;
      for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
        await move(name, from, to);
        expect(await curl(`http://${ip(to)}:${port}/get`)).toBe(String(expected));
        expected += 1;
        expect(await curl(`http://${ip(to)}:${port}/incr`)).toBe(String(expected));
      }
      if (img === 'java') {
        // The JVM's perf-data file, which people expect CRIU to trip on, came along.
        expect(await podman('hostA', ['exec', name, 'ls', '/tmp/hsperfdata_root'])).toMatch(/^\d+$/);
      }
    });
  }
});

describe('an application on SQLite (Python 3.11), its database bind-mounted', () => {
  const PORT = 8001;
  const url = (host: string, path: string) => `http://${ip(host)}:${PORT}${path}`;

  it("in WAL mode it maps its locked -shm index, which CRIU's restore would unlock: refused, never frozen", async () => {
    const name = 'app-sqlite-wal';
    await sh('hostA', 'mkdir -p /srv/e2e-kv-wal');
    await podman('hostA', ['run', '-d', '--name', name, '-p', `${PORT}:8000`, '-v', '/srv/e2e-kv-wal:/data', image('sqlite')], true);
    await until('the SQLite service answers on hostA', () => curl(url('hostA', '/'), [], 2_000));
    await curl(url('hostA', '/kv/k1'), ['-X', 'PUT', '--data-binary', 'v1']);
    const before = await podman('hostA', ['container', 'inspect', '--format', '{{.State.Pid}} {{.State.Checkpointed}}', name]);
    const r = await own.ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
    expect(r.code, r.output).toBe(1);
    const failed = r.events.find((e) => e.event === 'failed') as { error: { code: string; details: string[] } } | undefined;
    expect(failed?.error.code).toBe('LOCK_ON_MAPPED_FILE');
    expect(failed?.error.details.join('\n')).toMatch(/python3 \(pid 1\), \/data\/app\.db-shm/);
    expect(await podman('hostA', ['container', 'inspect', '--format', '{{.State.Pid}} {{.State.Checkpointed}}', name])).toBe(before);
    expect(await curl(url('hostA', '/kv/k1'))).toBe('v1');
    await podman('hostA', ['rm', '-f', '-t', '0', name], true);
  });

  it('with exclusive locking it moves hostA -> hostB -> hostA while a client writes: every acknowledged key there, integrity_check ok', async () => {
    const name = 'app-sqlite';
    await sh('hostA', 'mkdir -p /srv/e2e-kv');
    await podman('hostA', ['run', '-d', '--name', name, '-p', `${PORT}:8000`, '-e', 'FERRY_SQLITE_LOCKING=exclusive', '-v', '/srv/e2e-kv:/data', image('sqlite')], true);
    await until('the SQLite service answers on hostA', () => curl(url('hostA', '/'), [], 2_000));
    for (let i = 0; i < 100; i += 1) await curl(url('hostA', `/kv/k${i}`), ['-X', 'PUT', '--data-binary', `v${i}`]);
    const everAcked: number[] = [];
    for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
      let at = from;
      const put = async (n: number) => {
        try {
          await curl(url(at, `/kv/w${from}${n}`), ['-X', 'PUT', '--data-binary', `x${n}`], 3_000);
        } catch (error) {
          at = other(at);
          throw error;
        }
      };
      const { result: r, acked } = await whileWriting(put, () => move(name, from, to));
      expect(fileLocks(r)).toMatch(/python3 \(pid 1\): \/data\/app\.db.*--file-locks$/);
      expect(acked.length).toBeGreaterThan(3);
      const missing: string[] = [];
      for (const n of acked) if ((await curl(url(to, `/kv/w${from}${n}`)).catch(() => '')) !== `x${n}`) missing.push(`w${from}${n}`);
      expect(missing, 'acknowledged writes lost').toEqual([]);
      everAcked.push(...acked);
      expect(await curl(url(to, '/kv/k42'))).toBe('v42');
      expect(Number(await curl(url(to, '/count')))).toBeGreaterThanOrEqual(100 + everAcked.length);
      expect(await curl(url(to, '/check'))).toBe('ok');
    }
  });
});
