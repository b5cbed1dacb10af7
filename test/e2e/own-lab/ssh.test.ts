// An SSH-only lab (scripts/lab up --ssh): every agent listens on its host's 127.0.0.1 and each
// host runs sshd, so the coordinator reaches the agents only through SSH tunnels, and the source
// agent reaches the destination's agent and data ports through SSH with its own key. Host keys
// are checked against known_hosts: an unknown key is refused before anything changes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpAnswers } from '../../../common/tcp.ts';
import { fillRedis, redisCli } from '../lab.ts';
import { ownLab } from './lab.ts';

// A lab of its own: the shared one (test/e2e/lab-setup.ts) is not an SSH lab.
const HOSTS = ['hostA', 'hostB'];
const own = ownLab({ name: 'ferryssh', subnet: '172.31.83', hosts: HOSTS });
const { lab, ferry, running } = own;
const ip = (host: string) => `${own.env.FERRY_LAB_SUBNET}.${11 + HOSTS.indexOf(host)}`;
const startRedis = own.startRedis;

describe('hosts reached only over SSH', () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'ferry-ssh-'));
    await lab(['down']);
    await lab(['up', '--hosts', '2', '--ssh']);
  }, 600_000);

  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    if (process.env.FERRY_E2E_KEEP !== '1') await lab(['down'], false);
  }, 300_000);

  it('the agents answer only on their own loopback; ferry hosts reaches them through SSH', async () => {
    for (const host of HOSTS) expect(await tcpAnswers(ip(host), 7070, 1_000), `${host}'s agent port from outside`).toBe(false);
    const r = await ferry(['hosts']);
    expect(r.code, r.output).toBe(0);
    for (const host of HOSTS) expect(r.stdout).toMatch(new RegExp(`${host}\\s+ssh root@${ip(host).replaceAll('.', '\\.')}\\s+SERVING`));
  });

  it('moves a Redis with its keys, agent to agent through SSH', async () => {
    await startRedis('hostA', 'ssh-r1', 6410);
    await fillRedis(ip('hostA'), 6410, 5_000);
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'ssh-r1']);
    expect(r.code, r.output).toBe(0);
    expect(await running('ssh-r1')).toEqual(['hostB']);
    expect(await redisCli(ip('hostB'), 6410, ['dbsize'])).toBe('5000');
    expect(await redisCli(ip('hostB'), 6410, ['get', 'key:4321'])).toBe('val:4321');
  });

  it('evacuates a host through SSH', async () => {
    await startRedis('hostB', 'ssh-r2', 6411);
    await redisCli(ip('hostB'), 6411, ['set', 'who', 'r2']);
    const r = await ferry(['evacuate', '--from', 'hostB', '--to', 'hostA']);
    expect(r.code, r.output).toBe(0);
    expect(await running('ssh-r1')).toEqual(['hostA']);
    expect(await running('ssh-r2')).toEqual(['hostA']);
    expect(await redisCli(ip('hostA'), 6410, ['get', 'key:17'])).toBe('val:17');
    expect(await redisCli(ip('hostA'), 6411, ['get', 'who'])).toBe('r2');
  });

  it('an unknown host key is refused and nothing moves; --accept-new-host-keys records it for the next run', async () => {
    const knownHosts = join(scratch, 'known_hosts');
    const refused = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'ssh-r2', '--known-hosts', knownHosts]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain('SSH_HOST_KEY_UNKNOWN');
    expect(refused.output).toContain(ip('hostA'));
    expect(await running('ssh-r2')).toEqual(['hostA']);
    expect(await redisCli(ip('hostA'), 6411, ['get', 'who'])).toBe('r2');

    const accepted = await ferry(['hosts', '--known-hosts', knownHosts, '--accept-new-host-keys']);
    expect(accepted.code, accepted.output).toBe(0);
    const recorded = readFileSync(knownHosts, 'utf8');
    for (const host of HOSTS) {
      const hostKey = readFileSync(`/var/lib/ferry-lab/ferryssh/${host}/ssh/ssh_host_ed25519_key.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
      expect(recorded).toContain(`${ip(host)} ${hostKey}`);
    }
    // The next run, without the flag, goes by what was recorded.
    const moved = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'ssh-r2', '--known-hosts', knownHosts]);
    expect(moved.code, moved.output).toBe(0);
    expect(await running('ssh-r2')).toEqual(['hostB']);
  });

  it('ferry agent install sets up a host over SSH (a supervised agent, no systemd here), again changes nothing, status and restart', async () => {
    // hostB's lab agent makes way for the one ferry installs; the install's files stay in hostB's
    // state dir, which the lab's teardown removes.
    await lab(['agent-stop', 'hostB']);
    const dir = '/var/lib/ferry-lab/ferryssh/hostB/install';
    const where = ['--prefix', `${dir}/opt`, '--config-dir', `${dir}/etc`, '--state-dir', `${dir}/state`];
    const first = await ferry(['agent', 'install', 'hostB', ...where]);
    expect(first.code, first.output).toBe(0);
    expect(first.stdout).toContain('copied the project');
    expect(first.stdout).toContain('agent answers');
    expect(readFileSync(`${dir}/etc/agent.env`, 'utf8')).toContain('--listen 127.0.0.1:7070');

    const again = await ferry(['agent', 'install', 'hostB', ...where]);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain('already holds this version');
    expect(again.stdout).toContain('unchanged and running');

    const pid = readFileSync(`${dir}/state/supervisor.pid`, 'utf8').trim();
    const restarted = await ferry(['agent', 'restart', 'hostB', ...where]);
    expect(restarted.code, restarted.output).toBe(0);
    expect(readFileSync(`${dir}/state/supervisor.pid`, 'utf8').trim()).not.toBe(pid);
    const status = await ferry(['agent', 'status', 'hostB', ...where]);
    expect(status.code, status.output).toBe(0);
    expect(status.stdout).toMatch(/running: supervisor \d+, agent \d+/);

    // The installed agent takes a migration: the source reaches it through SSH with its own key.
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'ssh-r1']);
    expect(r.code, r.output).toBe(0);
    expect(await running('ssh-r1')).toEqual(['hostB']);
    expect(await redisCli(ip('hostB'), 6410, ['get', 'key:99'])).toBe('val:99');
  });
});
