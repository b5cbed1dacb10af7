// Containers that systemd runs, on hosts whose init is systemd (scripts/lab up --systemd): the
// unit moves with the container, and no reboot brings back a second copy (docs/systemd.md).
// The container is what `podman generate systemd --new` runs: `podman run --rm --replace`, here a
// Redis that writes every key to its append-only file on a bind-mounted directory, so that the
// copy a boot starts afresh from the image has the data that moved.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCli, ROOT } from '../lab.ts';
import { ownLab } from './lab.ts';

const HOSTS = ['hostA', 'hostB'];
const own = ownLab({ name: 'ferrysysd', subnet: '172.31.92', hosts: HOSTS });
const NAME = 'e2e-unit';
const UNIT = `container-${NAME}.service`;
const PORT = 6391;
const PODMAN = '/usr/bin/podman --root /var/lib/containers/storage --runroot /run/containers/storage --tmpdir /run/libpod --runtime runc';

const sh = async (host: string, script: string) => String((await own.lab(['exec', host, 'sh', '-c', script])).stdout).trim();

/** The unit as systemd on `host` sees it. */
async function unitOn(host: string, unit = UNIT): Promise<{ active: string; enabled: string; mainPid: number }> {
  const out = await sh(host, `systemctl show ${unit} -p ActiveState -p UnitFileState -p MainPID`);
  const get = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  return { active: get('ActiveState'), enabled: get('UnitFileState'), mainPid: Number(get('MainPID')) };
}

/** The PID of the container's conmon on `host`, as that host sees it. */
const conmonOf = async (host: string, name = NAME) => Number(await own.podman(host, ['container', 'inspect', '--format', '{{.State.ConmonPid}}', name]));

async function answers(host: string, keys: string[], port = PORT): Promise<string[]> {
  const ip = await own.ip(host);
  for (let i = 0; i < 100; i += 1) {
    if ((await redisCli(ip, port, ['ping']).catch(() => '')) === 'PONG') return (await redisCli(ip, port, ['mget', ...keys])).split('\n');
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${NAME} does not answer on ${host}`);
}

/** A Redis that keeps every key in its append-only file on /srv/NAME, run by its enabled unit. */
async function unitRedis(host: string, name: string, port: number, extra: string[] = []): Promise<void> {
  await sh(host, `mkdir -p /srv/${name}`);
  await own.lab(['podman', host, 'run', '-d', '--rm', '--name', name, '-p', `${port}:6379`, '-v', `/srv/${name}:/data`, ...extra,
    'localhost/ferry-lab/redis', 'redis-server', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no']);
  // The unit replaces the container by one of its own (run --replace), as it would at boot.
  await sh(host, `cd /etc/systemd/system && ${PODMAN} generate systemd --new --name --files ${name} >/dev/null && systemctl daemon-reload && systemctl enable --now container-${name}.service`);
  // Until the unit's own container answers, a client reaches nothing (or the one it replaces).
  const ip = await own.ip(host);
  for (let i = 0; i < 100 && (await redisCli(ip, port, ['ping']).catch(() => '')) !== 'PONG'; i += 1) await new Promise((r) => setTimeout(r, 200));
}

const PG = 'e2e-unit-pg';
const PG_PORT = 5434;

/** psql against the lab's PostgreSQL on `host`; retried while it starts (after a boot). */
async function psql(host: string, sql: string, withinMs = 60_000): Promise<string> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const r = await execa('psql', ['-h', await own.ip(host), '-p', String(PG_PORT), '-U', 'postgres', '-Atc', sql], { reject: false, timeout: 15_000, env: { PGCONNECT_TIMEOUT: '5' } });
    if (r.exitCode === 0) return String(r.stdout).trim();
    if (Date.now() > deadline) throw new Error(`psql on ${host}: ${String(r.stderr)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('a container that systemd runs (podman generate systemd --new)', () => {
  beforeAll(async () => {
    await own.lab(['down'], false);
    await own.lab(['up', '--systemd', '--hosts', String(HOSTS.length)]);
    await unitRedis('hostA', NAME, PORT);
    await redisCli(await own.ip('hostA'), PORT, ['set', 'before', 'the-move']);
  }, 180_000);

  afterAll(async () => {
    await own.lab(['down'], false);
  }, 120_000);

  it('PostgreSQL with its data bind-mounted moves hostA -> hostB with its unit; both hosts reboot: one copy, on hostB, as its unit\'s service, every row', async () => {
    const pgUnit = `container-${PG}.service`;
    await sh('hostA', `mkdir -p /srv/${PG}`);
    // FERRY_PG_ROOT=1: CRIU here cannot dump processes of another uid (docs/hosts.md).
    await own.lab(['podman', 'hostA', 'run', '-d', '--rm', '--name', PG, '-e', 'FERRY_PG_ROOT=1', '-p', `${PG_PORT}:5432`, '-v', `/srv/${PG}:/var/lib/postgresql/data`,
      '--label', 'io.ferry.hook.pre-checkpoint=psql -U postgres -c CHECKPOINT', 'localhost/ferry-lab/postgres:latest']);
    await psql('hostA', 'SELECT 1'); // initdb is over: the unit's container, which replaces this one, finds a whole data directory
    await sh('hostA', `cd /etc/systemd/system && ${PODMAN} generate systemd --new --name --files ${PG} >/dev/null && systemctl daemon-reload && systemctl enable --now ${pgUnit}`);
    await psql('hostA', 'CREATE TABLE rows (id serial PRIMARY KEY, payload text NOT NULL); INSERT INTO rows (payload) SELECT md5(g::text) FROM generate_series(1, 1000) g');
    const r = await own.ferry(['migrate', '--from', 'hostA', '--to', 'hostB', PG, '--json']);
    expect(r.code, r.output).toBe(0);
    expect(await unitOn('hostB', pgUnit)).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostB', PG) });
    await psql('hostB', "INSERT INTO rows (payload) VALUES ('written on hostB')");
    await own.lab(['reboot', 'hostA']);
    await own.lab(['reboot', 'hostB']);
    // hostB's boot started the unit: a fresh container from the image, on the data directory that moved.
    expect(await psql('hostB', 'SELECT COUNT(*), MAX(id) FROM rows')).toBe('1001|1001');
    expect(await own.running(PG)).toEqual(['hostB']);
    expect(await unitOn('hostB', pgUnit)).toMatchObject({ active: 'active', enabled: 'enabled' });
    expect((await unitOn('hostA', pgUnit)).active).toBe('inactive');
    await sh('hostB', `systemctl disable --now ${pgUnit}`);
  });

  it('moves hostA -> hostB with its unit; both hosts reboot: one copy, on hostB, as its unit\'s service, every key there', async () => {
    expect(await unitOn('hostA')).toMatchObject({ active: 'active', enabled: 'enabled' });
    const r = await own.ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME, '--json']);
    expect(r.code, r.output).toBe(0);
    // systemd on hostB runs the restored container: its conmon is the unit's main PID.
    expect(await unitOn('hostB')).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostB') });
    // On hostA the unit is gone from systemd, its file kept aside by the agent.
    expect((await unitOn('hostA')).active).toBe('inactive');
    expect(await sh('hostA', `test -e /etc/systemd/system/${UNIT} && echo there || echo gone`)).toBe('gone');
    expect(r.events.find((e) => e.event === 'done')).toBeTruthy();
    await redisCli(await own.ip('hostB'), PORT, ['set', 'after', 'the-move']);
    // A crash of the restored container: the unit restarts (a fresh container, the same data).
    const before = await unitOn('hostB');
    await sh('hostB', `kill -KILL $(${PODMAN} inspect --format '{{.State.Pid}}' ${NAME})`);
    for (let i = 0; i < 100; i += 1) {
      const now = await unitOn('hostB');
      if (now.active === 'active' && now.mainPid && now.mainPid !== before.mainPid) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await unitOn('hostB')).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostB') });
    expect(await answers('hostB', ['before', 'after'])).toEqual(['the-move', 'the-move']);

    await own.lab(['reboot', 'hostA']);
    await own.lab(['reboot', 'hostB']);
    // The boot started the unit on hostB: a fresh container from the image, with the data that moved.
    expect(await answers('hostB', ['before', 'after'])).toEqual(['the-move', 'the-move']);
    expect(await own.running(NAME)).toEqual(['hostB']);
    expect(await unitOn('hostB')).toMatchObject({ active: 'active', enabled: 'enabled' });
    expect((await own.podman('hostA', ['ps', '-a', '--format', '{{.Names}}'])).split('\n')).not.toContain(NAME);
  });

  it('Ctrl-C after the checkpoint: back on hostB, its unit running it again, enabled', async () => {
    await redisCli(await own.ip('hostB'), PORT, ['set', 'before-rollback', 'kept']);
    // Slow enough for the interrupt to land between the checkpoint and the restore.
    const child = execa(`${ROOT}bin/ferry`, ['migrate', '--from', 'hostB', '--to', 'hostA', NAME, '--json', '--bwlimit', '1M', '--compress', 'none', '--inventory', own.inventory], { reject: false });
    let out = '';
    let interrupted = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      out += String(chunk);
      if (!interrupted && out.includes('"checkpointed"')) interrupted = child.kill('SIGINT'); // once: a second one ends the CLI at once
    });
    const r = await child;
    expect(r.exitCode, String(r.stdout)).toBe(1);
    const rollback = String(r.stdout).split('\n').filter((l) => l.includes('"rollback"') && l.includes('"hostB"')).join('\n');
    expect(rollback).toContain(`${UNIT} runs the container`);
    expect(await own.running(NAME)).toEqual(['hostB']);
    expect(await unitOn('hostB')).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostB') });
    expect(await answers('hostB', ['before', 'before-rollback'])).toEqual(['the-move', 'kept']);
    // Still the unit's: a stop through systemd stops it.
    await sh('hostB', `systemctl stop ${UNIT}`);
    expect(await own.running(NAME)).toEqual([]);
  });

  it('a restore that fails (its validation prints something else): rolled back, the source\'s unit runs it again, enabled', async () => {
    const failing = 'e2e-unit-fails';
    const failingUnit = `container-${failing}.service`;
    await unitRedis('hostA', failing, PORT + 2, ['--label', 'io.ferry.validate=cat /proc/sys/kernel/random/uuid']);
    await answers('hostA', ['x'], PORT + 2);
    const r = await own.ferry(['migrate', '--from', 'hostA', '--to', 'hostB', failing, '--json']);
    expect(r.code, r.output).toBe(1);
    expect(r.events.at(-1)).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'VALIDATION_MISMATCH' } });
    expect(await own.running(failing)).toEqual(['hostA']);
    expect(await unitOn('hostA', failingUnit)).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostA', failing) });
    expect((await unitOn('hostB', failingUnit)).active).toBe('inactive');
    await sh('hostA', `systemctl disable --now ${failingUnit}`);
  });

  it('ferry park and a reboot: back as its unit\'s service, the same container (systemd started no fresh copy first)', async () => {
    await sh('hostB', `systemctl start ${UNIT}`);
    expect(await answers('hostB', ['before'])).toEqual(['the-move']);
    const id = await own.podman('hostB', ['container', 'inspect', '--format', '{{.Id}}', NAME]);
    const parked = await own.ferry(['park', 'hostB', NAME, '--json']);
    expect(parked.code, parked.output).toBe(0);
    // Disabled while parked: the boot must not start it before the agent restores it.
    expect((await unitOn('hostB')).enabled).toBe('disabled');
    await own.lab(['reboot', 'hostB']);
    // The agent unparks at start; the unit then takes the restored container as its service.
    const settled = async () => {
      const unit = await unitOn('hostB');
      return unit.active === 'active' && unit.enabled === 'enabled';
    };
    for (let i = 0; i < 150 && !(await settled()); i += 1) await new Promise((r) => setTimeout(r, 200));
    expect(await unitOn('hostB')).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostB') });
    // The checkpointed container itself, not one the unit made afresh (`run --replace`: a new ID).
    expect(await own.podman('hostB', ['container', 'inspect', '--format', '{{.Id}}', NAME])).toBe(id);
    expect(await answers('hostB', ['before'])).toEqual(['the-move']);
  });

  it('evacuating hostB moves two containers with their units; hostB reboots and starts neither', async () => {
    const second = 'e2e-unit-two';
    await unitRedis('hostB', second, PORT + 1);
    await redisCli(await own.ip('hostB'), PORT + 1, ['set', 'second', 'here']);
    const r = await own.ferry(['evacuate', '--from', 'hostB', '--to', 'hostA', '--parallel', '2', '--json']);
    expect(r.code, r.output).toBe(0);
    await own.lab(['reboot', 'hostB']);
    for (const [name, port, key, value] of [[NAME, PORT, 'before', 'the-move'], [second, PORT + 1, 'second', 'here']] as const) {
      expect(await own.running(name)).toEqual(['hostA']);
      expect(await unitOn('hostA', `container-${name}.service`)).toEqual({ active: 'active', enabled: 'enabled', mainPid: await conmonOf('hostA', name) });
      expect((await unitOn('hostB', `container-${name}.service`)).active).toBe('inactive');
      expect(await answers('hostA', [key], port)).toEqual([value]);
    }
  });

  it('a unit written by hand is refused before the freeze, and nothing changes', async () => {
    const other = 'e2e-handmade';
    await sh('hostA', `printf '[Service]\\nExecStart=${PODMAN} run --rm --name ${other} localhost/ferry-lab/busybox sleep 100000\\nExecStop=${PODMAN} stop -t 1 ${other}\\n' > /etc/systemd/system/${other}.service && systemctl daemon-reload && systemctl start ${other}.service`);
    for (let i = 0; i < 50 && (await own.running(other)).length === 0; i += 1) await new Promise((r) => setTimeout(r, 200));
    const r = await own.ferry(['migrate', '--from', 'hostA', '--to', 'hostB', other, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.events.at(-1)).toMatchObject({ event: 'failed', error: { code: 'SYSTEMD_UNIT_UNSUPPORTED' } });
    expect(await own.running(other)).toEqual(['hostA']);
    expect(await sh('hostA', `systemctl is-active ${other}.service`)).toBe('active');
  });
});
