// Clients stay connected: a container with a service address (io.ferry.service-address) takes
// the address along when it moves, and its established TCP connections with it. The client here
// runs in the machine's root namespace, on the lab bridge, as a client on the hosts' subnet would.
import { execa, type ResultPromise } from 'execa';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startMigration } from './drive.ts';
import { containerState, ferry, hostIp, inventoryPath, LAB, LAB_SUBNET, lab, podman, REDIS_IMAGE, removeEverywhere, runningOn } from './lab.ts';

const NAME = 'e2e-held';
const PORT = 6395;
const ADDRESS = `${LAB_SUBNET}.100`;

/** A Redis connection speaking RESP, one command at a time: the reply to each, and how long it took. */
class RedisConnection {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiting: { resolve: (reply: unknown) => void; reject: (error: Error) => void } | undefined;
  #broken: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      const parsed = parse(this.#buffer, 0);
      if (!parsed) return;
      this.#buffer = this.#buffer.subarray(parsed.end);
      const waiter = this.#waiting;
      this.#waiting = undefined;
      waiter?.resolve(parsed.value);
    });
    // A reset or a close fails the test: the one connection must live through every move.
    const broke = (error: Error) => {
      this.#broken ??= error;
      this.#waiting?.reject(error);
      this.#waiting = undefined;
    };
    socket.on('error', broke);
    socket.on('close', () => broke(new Error('the connection closed')));
  }

  /** Connects, or fails within `timeoutMs`. */
  static open(address: string, port: number, timeoutMs = 3_000): Promise<RedisConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address, port, timeout: timeoutMs }, () => {
        socket.setTimeout(0);
        resolve(new RedisConnection(socket));
      });
      socket.once('timeout', () => {
        socket.destroy();
        reject(new Error(`no connection to ${address}:${port} in ${timeoutMs} ms`));
      });
      socket.once('error', reject);
    });
  }

  /** A connection that hangs (its flow lost, its packets dropped) fails after `timeoutMs` as surely as a reset. */
  commandWithin(timeoutMs: number, ...args: string[]): Promise<unknown> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args[0]} in ${timeoutMs} ms`)), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        settle();
      };
      this.#waiting = { resolve: (reply) => done(() => resolve(reply)), reject: (error) => done(() => reject(error)) };
      this.#socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }

  command(...args: string[]): Promise<unknown> {
    return this.commandWithin(30_000, ...args);
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** One RESP value from `at`, or undefined when it has not all arrived. */
function parse(buffer: Buffer, at: number): { value: unknown; end: number } | undefined {
  const line = buffer.indexOf('\r\n', at);
  if (line < 0) return undefined;
  const head = buffer.toString('utf8', at + 1, line);
  switch (String.fromCharCode(buffer[at] ?? 0)) {
    case '+':
    case '-':
      return { value: buffer[at] === 0x2d ? new Error(head) : head, end: line + 2 };
    case ':':
      return { value: Number(head), end: line + 2 };
    case '$': {
      const size = Number(head);
      if (size < 0) return { value: null, end: line + 2 };
      if (buffer.length < line + 2 + size + 2) return undefined;
      return { value: buffer.toString('utf8', line + 2, line + 2 + size), end: line + 2 + size + 2 };
    }
    case '*': {
      const items: unknown[] = [];
      let end = line + 2;
      for (let i = 0; i < Number(head); i += 1) {
        const item = parse(buffer, end);
        if (!item) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`not RESP: ${buffer.toString('utf8', at, line)}`);
  }
}

/** Redis on hostA answering on the service address, and one connection to it. */
async function heldRedis(name: string, extra: string[] = []): Promise<RedisConnection> {
  await removeEverywhere(name);
  await podman('hostA', ['run', '-d', '--name', name, '-p', `${PORT}:6379`, '--label', `io.ferry.service-address=${ADDRESS}`, ...extra, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
  // hostA's agent takes the address within a few seconds of the start.
  let redis: RedisConnection | undefined;
  await eventually(async () => {
    redis?.close();
    redis = await RedisConnection.open(ADDRESS, PORT).catch(() => undefined);
    // Short waits: an attempt that hangs (the address not yet announced) must not use up the minute.
    return redis !== undefined && (await redis.commandWithin(2_000, 'PING').catch(() => '')) === 'PONG';
  }, 60_000);
  return redis as RedisConnection;
}

/** A psql session held open on stdin: each script's output, once its marker came back. */
class PsqlSession {
  readonly #child: ResultPromise;
  #out = '';
  #marks = 0;

  constructor(address: string, port: number) {
    this.#child = execa('psql', ['-h', address, '-p', String(port), '-U', 'postgres', '-At', '-v', 'ON_ERROR_STOP=1'], { input: undefined, stdin: 'pipe', reject: false, buffer: false });
    this.#child.stdout?.on('data', (chunk: Buffer) => (this.#out += chunk.toString()));
    this.#child.stderr?.on('data', (chunk: Buffer) => (this.#out += chunk.toString()));
  }

  async run(sql: string): Promise<string> {
    const mark = `--mark-${(this.#marks += 1)}--`;
    const from = this.#out.length;
    this.#child.stdin?.write(`${sql}\n\\echo ${mark}\n`);
    await eventually(async () => this.#out.includes(mark, from), 60_000);
    return this.#out.slice(from, this.#out.indexOf(mark, from)).trim();
  }

  async quit(): Promise<number | undefined> {
    if (!this.#child.stdin?.writableEnded) this.#child.stdin?.end('\\q\n');
    return (await this.#child).exitCode;
  }
}

describe('established connections across a move', () => {
  afterAll(async () => {
    await removeEverywhere(NAME);
    await execa('ip', ['addr', 'del', `${LAB_SUBNET}.101/32`, 'dev', `${LAB}-br`], { reject: false });
  });

  it('one Redis connection to the service address keeps its MULTI open while the container moves hostA -> hostB -> hostA', async () => {
    const client = await heldRedis(NAME);
    expect(await client.command('MULTI')).toBe('OK');

    // Commands queued one after the other, each timed, while the moves run beside them.
    let queued = 0;
    let longestStall = 0;
    let moving = true;
    const talking = (async () => {
      while (moving) {
        const started = performance.now();
        expect(await client.command('SET', `held:${queued}`, String(queued))).toBe('QUEUED');
        longestStall = Math.max(longestStall, performance.now() - started);
        queued += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']]) {
        const before = queued;
        const r = await ferry(['migrate', '--from', from as string, '--to', to as string, NAME, '--json']);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.events.find((e) => e.event === 'address-moved')).toMatchObject({ address: ADDRESS, host: to });
        expect((r.events.find((e) => e.event === 'address-moved') as { flows: number }).flows).toBeGreaterThanOrEqual(1);
        expect(await runningOn(NAME)).toEqual([to]);
        // The connection went on talking after the move.
        await eventually(async () => queued > before + 5, 30_000);
      }
    } finally {
      moving = false;
      await talking;
    }
    const results = (await client.command('EXEC')) as unknown[];
    expect(results).toHaveLength(queued);
    expect(results.every((r) => r === 'OK')).toBe(true);
    expect(await client.command('GET', `held:${queued - 1}`)).toBe(String(queued - 1));
    client.close();
    await removeEverywhere(NAME);
    console.log(`held connection: ${queued} commands queued across two moves; longest stall ${Math.round(longestStall)} ms`);
  });

  it('a restore that fails (its port taken on hostB) rolls back, and the held connection goes on with hostA', async () => {
    const name = 'e2e-held-back';
    // The pre-checkpoint hook gives the test time to take the port on hostB after the preflight.
    const client = await heldRedis(name, ['--label', 'io.ferry.hook.pre-checkpoint=sleep 3']);
    try {
      expect(await client.command('SET', 'before', '1')).toBe('OK');
      const { child, seen } = startMigration(name, 'hostA', 'hostB', await inventoryPath());
      await seen('phase', (e) => e.phase === 'checkpoint');
      await podman('hostB', ['run', '-d', '--name', 'e2e-held-thief', '-p', `${PORT}:8080`, 'localhost/ferry-lab/busybox:latest', 'httpd', '-f', '-p', '8080']);
      const r = await child;
      expect(r.exitCode).toBe(1);
      expect(String(r.stdout)).toContain('"rolledBack":true');
      expect(await runningOn(name)).toEqual(['hostA']);
      // The same connection, still open, now served by hostA again.
      expect(await client.command('SET', 'after', '2')).toBe('OK');
      expect(await client.command('MGET', 'before', 'after')).toEqual(['1', '2']);
      // hostB forgot the flows it had recreated for the restore that failed.
      const left = String((await lab(['exec', 'hostB', 'conntrack', '-L', '-p', 'tcp', '-d', ADDRESS], { reject: false })).stdout);
      expect(left).not.toMatch(/ESTABLISHED/);
    } finally {
      client.close();
      await removeEverywhere('e2e-held-thief', ['hostB']);
      await removeEverywhere(name);
    }
  });

  it('PostgreSQL: a psql session begins a transaction on hostA and commits it on hostB', async () => {
    const name = 'e2e-held-pg';
    const port = 5436;
    const data = '/srv/e2e-held-pg';
    const clean = () => Promise.all(['hostA', 'hostB'].map((h) => lab(['exec', h, 'sh', '-c', `rm -rf ${data} ${data}.ferry-*`], { reject: false })));
    await removeEverywhere(name);
    await clean();
    await lab(['exec', 'hostA', 'mkdir', '-p', data]);
    // FERRY_PG_ROOT=1: CRIU here cannot dump processes of another uid (see docs/hosts.md). The
    // data directory is bind-mounted, so that it moves along.
    await podman('hostA', [
      'run', '-d', '--name', name, '-e', 'FERRY_PG_ROOT=1', '-p', `${port}:5432`, '-v', `${data}:/var/lib/postgresql/data`,
      '--label', `io.ferry.service-address=${ADDRESS}`, 'localhost/ferry-lab/postgres:latest',
    ]);
    const session = await (async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await execa('psql', ['-h', ADDRESS, '-p', String(port), '-U', 'postgres', '-Atc', 'SELECT 1'], { reject: false, timeout: 10_000 });
        if (String(r.stdout).trim() === '1') return new PsqlSession(ADDRESS, port);
        if (Date.now() > deadline) throw new Error(`postgres did not answer on ${ADDRESS}: ${String(r.stderr)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      await session.run('CREATE TABLE moves (id int PRIMARY KEY, host text);');
      expect(await session.run("BEGIN; INSERT INTO moves VALUES (1, 'hostA');")).toContain('INSERT 0 1');
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await runningOn(name)).toEqual(['hostB']);
      expect(await session.run("INSERT INTO moves VALUES (2, 'hostB'); COMMIT;")).toContain('COMMIT');
      expect(await session.quit()).toBe(0);
      const rows = await execa('psql', ['-h', ADDRESS, '-p', String(port), '-U', 'postgres', '-Atc', 'SELECT id, host FROM moves ORDER BY id'], { timeout: 30_000 });
      expect(String(rows.stdout).trim().split('\n')).toEqual(['1|hostA', '2|hostB']);
    } finally {
      await session.quit().catch(() => undefined);
      await removeEverywhere(name);
      await clean();
    }
  });

  it("without a service address, the preflight says connections are lost, and a client of the source's own address gets a reset, not a hang", async () => {
    const name = 'e2e-held-none';
    const port = 6396;
    await removeEverywhere(name);
    await podman('hostA', ['run', '-d', '--name', name, '-p', `${port}:6379`, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
    const ipA = await hostIp('hostA');
    let client: RedisConnection | undefined;
    await eventually(async () => {
      client?.close();
      client = await RedisConnection.open(ipA, port).catch(() => undefined);
      return client !== undefined && (await client.command('PING').catch(() => '')) === 'PONG';
    }, 20_000);
    try {
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      const checks = r.events.filter((e) => e.event === 'checks').flatMap((e) => e.checks as Array<{ name: string; detail: string }>);
      expect(checks.find((c) => c.name === 'connections')?.detail).toMatch(/no service address .* lose their connections/);
      const started = performance.now();
      const error = await (client as RedisConnection).command('PING').then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toMatch(/ECONNRESET|closed/);
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      client?.close();
      await removeEverywhere(name);
    }
  });

  it('a service address another host holds is refused in preflight, and nothing changes', async () => {
    const taken = `${LAB_SUBNET}.101`;
    const name = 'e2e-held-taken';
    await removeEverywhere(name);
    await podman('hostA', ['run', '-d', '--name', name, '--label', `io.ferry.service-address=${taken}`, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
    // The lab's bridge (the machine itself) answers for the address too.
    await execa('ip', ['addr', 'add', `${taken}/32`, 'dev', `${LAB}-br`]);
    try {
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
      expect(r.code).toBe(1);
      expect(r.events.at(-1)).toMatchObject({ event: 'failed', error: { code: 'ADDRESS_TAKEN', phase: 'preflight', host: 'hostB' } });
      expect(await containerState('hostA', name)).toBe('running');
      expect(await containerState('hostB', name)).toBeUndefined();
    } finally {
      await execa('ip', ['addr', 'del', `${taken}/32`, 'dev', `${LAB}-br`], { reject: false });
      await removeEverywhere(name);
    }
  });
});
