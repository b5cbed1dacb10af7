// Another site: hostC sits on a second bridge with its own /24 and its own container subnet
// (scripts/lab up --site hostC=2), routed through the root namespace, as a second datacenter would
// be. A container's IP from hostA's 10.88.0.0/16 cannot live in hostC's 10.89.0.0/16: without
// --new-address the preflight refuses and names the flag; with it, the container comes back on
// hostC with a new IP, its keys and its bind-mounted data intact, its TCP connections closed.
// This file brings up a lab of its own (ferrysite) and tears it down even when a test fails.
import { execa } from 'execa';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillRedis, REDIS_IMAGE, redisCli } from '../lab.ts';
import { ownLab } from './lab.ts';

const HOSTS = ['hostA', 'hostB', 'hostC'];
const own = ownLab({ name: 'ferrysite', subnet: '172.31.81', hosts: HOSTS, env: { FERRY_LAB_SITE2_SUBNET: '172.31.82' } });
const { env, lab, podman, running: runningOn } = own;
const hostIp = own.ip;
const ferry = (args: string[]) => own.ferry([...args, '--json']);
const NAME = 'e2e-site';
const PORT = 6396;
const KEYS = 10_000;
const DATA = '/srv/e2e-site';

/** The container's IP on a host, as podman has it. */
async function containerIp(host: string, name: string): Promise<string> {
  return podman(host, ['container', 'inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name]);
}

/** A client connection to the container that has sent one PING and got its PONG: established TCP at the freeze. */
function heldConnection(address: string, port: number): Promise<{ socket: Socket; ended: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port }, () => socket.write('PING\r\n'));
    let replies = '';
    const ended = new Promise<string>((done) => {
      socket.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      socket.on('close', () => done('closed'));
    });
    socket.on('data', (chunk: Buffer) => {
      replies += chunk.toString();
      if (replies === '+PONG\r\n') resolve({ socket, ended });
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  await lab(['down']);
  await lab(['up', '--hosts', '3', '--site', 'hostC=2']);
}, 600_000);

afterAll(async () => {
  if (process.env.FERRY_E2E_KEEP === '1') {
    process.stderr.write(`FERRY_E2E_KEEP=1: lab ${env.FERRY_LAB} kept; remove it with FERRY_LAB=${env.FERRY_LAB} scripts/lab down\n`);
    return;
  }
  await lab(['down'], false);
}, 300_000);

describe('a second site (scripts/lab up --site hostC=2)', () => {
  it("puts hostC on its own bridge, /24 and container subnet, and routes between the sites", async () => {
    expect(await hostIp('hostA')).toBe('172.31.81.11');
    expect(await hostIp('hostC')).toBe('172.31.82.13');
    const inventory = JSON.parse(String((await execa('cat', [String((await lab(['inventory'])).stdout).trim()])).stdout)) as {
      hosts: Record<string, { site: number; subnet: string; containerSubnet: string }>;
    };
    expect(inventory.hosts.hostA).toMatchObject({ site: 1, subnet: '172.31.81.0/24', containerSubnet: '10.88.0.0/16' });
    expect(inventory.hosts.hostC).toMatchObject({ site: 2, subnet: '172.31.82.0/24', containerSubnet: '10.89.0.0/16' });
    expect(String((await lab(['exec', 'hostC', 'ip', 'route', 'show', 'default'])).stdout)).toMatch(/^default via 172\.31\.82\.1 dev eth0/);
    expect(String((await lab(['status'])).stdout)).toMatch(/site 2: hostC=2, subnet 172\.31\.82\.0\/24, bridge ferrysite-b2 present/);
  });
});

describe('moving a container to another site', () => {
  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => podman(h, ['rm', '-f', '-t', '0', '--ignore', NAME])));
    await lab(['exec', 'hostA', 'sh', '-c', `mkdir -p ${DATA}/nested && echo written-on-hostA > ${DATA}/notes.txt && head -c 1048576 /dev/urandom > ${DATA}/nested/blob`]);
    await podman('hostA', ['run', '-d', '--name', NAME, '-p', `${PORT}:6379`, '-v', `${DATA}:/data`, REDIS_IMAGE, 'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']);
    const ipA = await hostIp('hostA');
    for (let i = 0; i < 50 && (await redisCli(ipA, PORT, ['ping']).catch(() => '')) !== 'PONG'; i += 1) await new Promise((r) => setTimeout(r, 100));
    await fillRedis(ipA, PORT, KEYS);
    // The published port answers across the sites, through the root namespace, both ways.
    expect(String((await lab(['exec', 'hostC', 'redis-cli', '-h', ipA, '-p', String(PORT), 'ping'])).stdout).trim()).toBe('PONG');
  });

  it('without --new-address the preflight refuses, names the flag, and changes nothing', async () => {
    const sourceIp = await containerIp('hostA', NAME);
    for (const command of ['preflight', 'migrate']) {
      const r = await ferry([command, '--from', 'hostA', '--to', 'hostC', NAME]);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      const failed = r.events.find((e) => e.event === 'failed') as { error: { code: string; phase: string; host: string; hint: string; details: string[] } };
      expect(failed.error).toMatchObject({ code: 'DEST_IP_UNAVAILABLE', phase: 'preflight', host: 'hostC' });
      expect(failed.error.hint).toMatch(/--new-address/);
      expect(failed.error.details.join('\n')).toMatch(new RegExp(`IP ${sourceIp.replace(/\./g, '\\.')} is outside every network subnet on hostC \\(10\\.89\\.0\\.0/16\\)`));
    }
    expect(await runningOn(NAME)).toEqual(['hostA']);
    expect(await podman('hostC', ['ps', '-a', '--format', '{{.Names}}'])).toBe('');
    expect((await lab(['exec', 'hostC', 'test', '-e', DATA], false)).exitCode).toBe(1);
    expect(await containerIp('hostA', NAME)).toBe(sourceIp);
    expect(await redisCli(await hostIp('hostA'), PORT, ['dbsize'])).toBe(String(KEYS));
  });

  it('with --new-address it answers on hostC with a new IP of hostC, its keys and its data intact', async () => {
    const ipA = await hostIp('hostA');
    const ipC = await hostIp('hostC');
    const sourceIp = await containerIp('hostA', NAME);
    const blob = async (host: string) => String((await lab(['exec', host, 'sha256sum', `${DATA}/nested/blob`])).stdout).split(' ')[0];
    const blobOnA = await blob('hostA');
    // A connection established at the freeze: its socket is in the checkpoint, and the restore closes it.
    const held = await heldConnection(ipA, PORT);
    try {
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostC', NAME, '--new-address']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      // The preflight passed with a warning, and the closed connections were said after the restore.
      const checks = r.events.find((e) => e.event === 'checks' && e.host === 'hostC') as { checks: Array<{ name: string; ok: boolean; warning: boolean; detail: string }> };
      expect(checks.checks.find((c) => c.name === 'ip')).toMatchObject({ ok: true, warning: true });
      const warning = r.events.find((e) => e.event === 'warning') as { error: { code: string; host: string } };
      expect(warning.error).toMatchObject({ code: 'CONNECTIONS_CLOSED', host: 'hostC' });
      // The summary's new address is the container's IP on hostC, in hostC's container subnet.
      const done = r.events.find((e) => e.event === 'done') as { summary: { newAddress: boolean; ipAddresses: string[]; sourceIpAddresses: string[] } };
      const ipOnC = await containerIp('hostC', NAME);
      expect(done.summary).toMatchObject({ newAddress: true, ipAddresses: [ipOnC], sourceIpAddresses: [sourceIp] });
      expect(ipOnC).toMatch(/^10\.89\./);
      expect(ipOnC).not.toBe(sourceIp);

      expect(await runningOn(NAME)).toEqual(['hostC']);
      expect(await redisCli(ipC, PORT, ['dbsize'])).toBe(String(KEYS));
      expect(await redisCli(ipC, PORT, ['get', 'key:4242'])).toBe('val:4242');
      // And from the other site's hosts, through the root namespace.
      expect(String((await lab(['exec', 'hostB', 'redis-cli', '-h', ipC, '-p', String(PORT), 'get', 'key:9999'])).stdout).trim()).toBe('val:9999');
      expect(String((await lab(['exec', 'hostC', 'cat', `${DATA}/notes.txt`])).stdout)).toBe('written-on-hostA');
      expect(await blob('hostC')).toBe(blobOnA);
      expect(String((await podman('hostC', ['exec', NAME, 'cat', '/data/notes.txt'])))).toBe('written-on-hostA');

      // The held connection does not live on: its next command gets a reset (or a close), not a hang.
      held.socket.write('PING\r\n');
      const end = await Promise.race([held.ended, new Promise<string>((r) => setTimeout(() => r('still open after 10 s'), 10_000))]);
      expect(['ECONNRESET', 'EPIPE', 'closed']).toContain(end);
    } finally {
      held.socket.destroy();
    }
  });
});
