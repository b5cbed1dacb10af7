// Containers that systemd runs, on hosts whose init is systemd (scripts/lab up --systemd): the
// unit moves with the container, and no reboot brings back a second copy (docs/systemd.md).
// The container is what `podman generate systemd --new` runs: `podman run --rm --replace`, here a
// Redis that writes every key to its append-only file on a bind-mounted directory, so that the
// copy a boot starts afresh from the image has the data that moved.
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
async function unitOn(host: string): Promise<{ active: string; enabled: string; mainPid: number }> {
  const out = await sh(host, `systemctl show ${UNIT} -p ActiveState -p UnitFileState -p MainPID`);
  const get = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  return { active: get('ActiveState'), enabled: get('UnitFileState'), mainPid: Number(get('MainPID')) };
}

/** The PID of the container's conmon on `host`, as that host sees it. */
const conmonOf = async (host: string) => Number(await own.podman(host, ['container', 'inspect', '--format', '{{.State.ConmonPid}}', NAME]));

async function answers(host: string, keys: string[]): Promise<string[]> {
  const ip = await own.ip(host);
  for (let i = 0; i < 100; i += 1) {
    if ((await redisCli(ip, PORT, ['ping']).catch(() => '')) === 'PONG') return (await redisCli(ip, PORT, ['mget', ...keys])).split('\n');
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${NAME} does not answer on ${host}`);
}

describe('a container that systemd runs (podman generate systemd --new)', () => {
  beforeAll(async () => {
    await own.lab(['down'], false);
    await own.lab(['up', '--systemd', '--hosts', String(HOSTS.length)]);
    await sh('hostA', `mkdir -p /srv/${NAME}`);
    await own.lab(['podman', 'hostA', 'run', '-d', '--rm', '--name', NAME, '-p', `${PORT}:6379`, '-v', `/srv/${NAME}:/data`,
      'localhost/ferry-lab/redis', 'redis-server', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no']);
    // The unit replaces the container by one of its own (run --replace), as it would at boot.
    await sh('hostA', `cd /etc/systemd/system && ${PODMAN} generate systemd --new --name --files ${NAME} >/dev/null && systemctl daemon-reload && systemctl enable --now ${UNIT}`);
    await answers('hostA', ['x']);
    await redisCli(await own.ip('hostA'), PORT, ['set', 'before', 'the-move']);
  }, 180_000);

  afterAll(async () => {
    await own.lab(['down'], false);
  }, 120_000);

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

    await own.lab(['reboot', 'hostA']);
    await own.lab(['reboot', 'hostB']);
    // The boot started the unit on hostB: a fresh container from the image, with the data that moved.
    expect(await answers('hostB', ['before', 'after'])).toEqual(['the-move', 'the-move']);
    expect(await own.running(NAME)).toEqual(['hostB']);
    expect(await unitOn('hostB')).toMatchObject({ active: 'active', enabled: 'enabled' });
    expect(await own.podman('hostA', ['ps', '-a', '--format', '{{.Names}}'])).not.toContain(NAME);
  });

  it('Ctrl-C after the checkpoint: back on hostB, its unit running it again, enabled', async () => {
    await redisCli(await own.ip('hostB'), PORT, ['set', 'before-rollback', 'kept']);
    // Slow enough for the interrupt to land between the checkpoint and the restore.
    const { execa } = await import('execa');
    const child = execa(`${ROOT}bin/ferry`, ['migrate', '--from', 'hostB', '--to', 'hostA', NAME, '--json', '--bwlimit', '1M', '--compress', 'none', '--inventory', own.inventory], { reject: false });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += String(chunk);
      if (out.includes('"checkpointed"')) child.kill('SIGINT');
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
